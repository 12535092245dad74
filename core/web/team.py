"""Settings > Team: invite further admins and viewers, and remove them.

An invitation is a link with a random token, sent by email (and shown once to the admin who
sent it); whoever opens it sets a password and becomes a member with the invited role.
An email address has at most one open invitation per workspace. Inviting it again, or accepting
one of its invitations, closes the others by setting their ``expires_at`` to the current time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import audit
from ..crypto import hash_token, new_token
from ..exceptions import Conflict, RequestValidationError
from ..models import AdminInvitation, AdminUser, Email, Workspace, utcnow
from ..seed import MIN_PASSWORD_LENGTH, ROLES, create_admin, role_with_article, validate_email
from .common import check_csrf, current_user, flash, get_host, login_redirect, read_form, redirect, render

logger = logging.getLogger(__name__)

INVITATION_DAYS = 7
INVALID_INVITATION = "This invitation link is not valid or has expired. Ask a workspace admin for a new one."


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _admin(request: Request, session: AsyncSession, *, form=None) -> AdminUser:  # type: ignore[no-untyped-def]
    user = await current_user(request, session)
    if user is None:
        raise HTTPException(401, "Sign in to manage the team.")
    if user.role != "admin":
        raise HTTPException(403, "Only workspace admins can manage the team.")
    if form is not None and not check_csrf(request, form):
        raise HTTPException(400, "The form expired. Reload the page and try again.")
    return user


async def _team_page(request: Request, session: AsyncSession, user: AdminUser, **extra) -> Response:  # type: ignore[no-untyped-def]
    members = list(await session.scalars(
        select(AdminUser).where(AdminUser.workspace_id == user.workspace_id).order_by(AdminUser.created_at)
    ))
    pending = list(await session.scalars(
        select(AdminInvitation)
        .where(AdminInvitation.workspace_id == user.workspace_id, AdminInvitation.accepted_at.is_(None),
               AdminInvitation.expires_at > utcnow())
        .order_by(AdminInvitation.created_at.desc())
    ))
    # An address that became a member by another route (the CLI) can no longer accept its invitation.
    member_emails = {member.email for member in members}
    pending = [invitation for invitation in pending if invitation.email not in member_emails]
    status_code = extra.pop("status_code", 200)
    context = {"members": members, "pending": pending, "roles": ROLES, "email": "", "role": "viewer", **extra}
    return render(request, "settings/team.html", context, status_code=status_code)


async def team_page(request: Request) -> Response:
    async with get_host(request).session() as session:
        user = await current_user(request, session)
        if user is None:
            return login_redirect(request)
        await _admin(request, session)
        return await _team_page(request, session, user)


async def _check_invitation_request(session: AsyncSession, workspace_id: str, email: str, role: str) -> str:
    """Return the normalised address, or raise RequestValidationError naming the form field to fix."""
    email = validate_email(email)
    if role not in ROLES:
        raise RequestValidationError(f"The role {role!r} is unknown. Choose admin or viewer.", field="role")
    member = await _member(session, workspace_id, email)
    if member is not None:
        raise RequestValidationError(
            f"{email} is already {role_with_article(member.role)} of this workspace, so they sign in with that "
            "address. To change their role, remove them first and then invite them again.", field="email",
        )
    return email


async def invite(request: Request) -> Response:
    host = get_host(request)
    async with host.session() as session:
        form = await read_form(request)
        user = await _admin(request, session, form=form)
        email = str(form.get("email", "")).strip().lower()
        role = str(form.get("role", ""))
        try:
            email = await _check_invitation_request(session, user.workspace_id, email, role)
        except RequestValidationError as exc:
            logger.info("workspace %s: invitation rejected because field %s is invalid", user.workspace_id, exc.field)
            return await _team_page(request, session, user, error=exc.message, error_field=exc.field,
                                    email=email, role=role, status_code=400)

        now = utcnow()
        replaced = await _close_open_invitations(session, user.workspace_id, email, now)
        token = new_token()
        invitation = AdminInvitation(
            workspace_id=user.workspace_id, email=email, role=role, token_digest=hash_token(token),
            invited_by=user.email, created_at=now, expires_at=now + dt.timedelta(days=INVITATION_DAYS),
        )
        session.add(invitation)
        link = f"{host.settings.public_url}/invite/{token}"
        session.add(Email(
            workspace_id=user.workspace_id, recipient=email,
            subject=f"You are invited to {user.workspace.name} on Langos",
            body_text=(
                f"{user.email} invited you to join {user.workspace.name} on Langos as {role}.\n\n"
                f"Open this link within {INVITATION_DAYS} days to choose your password:\n\n{link}\n"
            ),
        ))
        detail: dict[str, object] = {"role": role}
        if replaced:
            detail["invitation_superseded"] = [old.id for old in replaced]
        audit.record(session, workspace_id=user.workspace_id, actor=user.email, action="admin_invited",
                     target=email, client_address=_client(request), detail=detail)
        await session.commit()
        logger.info("workspace %s invited a new %s and closed %d earlier invitations", user.workspace_id, role, len(replaced))
        # The link is shown once, for deployments whose mail backend only logs.
        return await _team_page(request, session, user, invited_link=link, invited_email=email,
                                replaced_earlier=bool(replaced))


async def remove(request: Request) -> Response:
    async with get_host(request).session() as session:
        form = await read_form(request)
        user = await _admin(request, session, form=form)
        member = await session.get(AdminUser, request.path_params["user_id"])
        if member is None or member.workspace_id != user.workspace_id:
            raise HTTPException(404, "That member does not exist.")
        if member.id == user.id:
            flash(request, "You cannot remove yourself; ask another admin.", "error")
            return redirect("/settings/team")
        await session.delete(member)
        audit.record(session, workspace_id=user.workspace_id, actor=user.email, action="admin_removed",
                     target=member.email, client_address=_client(request))
        await session.commit()
        flash(request, f"Removed {member.email} from the workspace.", "success")
    return redirect("/settings/team")


async def _member(session: AsyncSession, workspace_id: str, email: str) -> AdminUser | None:
    return await session.scalar(
        select(AdminUser).where(AdminUser.workspace_id == workspace_id, AdminUser.email == email)
    )


async def _close_open_invitations(
    session: AsyncSession, workspace_id: str, email: str, now: dt.datetime, *, keep_id: str | None = None,
) -> list[AdminInvitation]:
    """Expire the email's unaccepted, unexpired invitations in the workspace, except ``keep_id``, and return them."""
    query = select(AdminInvitation).where(
        AdminInvitation.workspace_id == workspace_id, AdminInvitation.email == email,
        AdminInvitation.accepted_at.is_(None), AdminInvitation.expires_at > now,
    )
    if keep_id is not None:
        query = query.where(AdminInvitation.id != keep_id)
    invitations = list(await session.scalars(query))
    for invitation in invitations:
        invitation.expires_at = now
    return invitations


@dataclasses.dataclass(frozen=True)
class ClosedInvitation:
    """The reason an invitation link no longer works, with the recipient's next step."""

    reason: str  # "accepted", "member", "superseded" or "expired"
    message: str
    sign_in: bool


async def _closed_reason(session: AsyncSession, invitation: AdminInvitation, workspace: Workspace) -> ClosedInvitation | None:
    """Return why the invitation can no longer be accepted, or None while it is open."""
    if invitation.accepted_at is not None:
        return ClosedInvitation("accepted", (
            f"This invitation was already accepted on {invitation.accepted_at:%Y-%m-%d}. "
            f"Sign in to {workspace.name} with {invitation.email} and the password chosen then."
        ), sign_in=True)
    member = await _member(session, invitation.workspace_id, invitation.email)
    if member is not None:
        return ClosedInvitation("member", (
            f"{invitation.email} is already {role_with_article(member.role)} of {workspace.name}. "
            "Sign in with that address."
        ), sign_in=True)
    newer = await session.scalar(
        select(AdminInvitation.id).where(
            AdminInvitation.workspace_id == invitation.workspace_id, AdminInvitation.email == invitation.email,
            AdminInvitation.created_at > invitation.created_at,
        ).limit(1)
    )
    if newer is not None:
        return ClosedInvitation("superseded", (
            f"A newer invitation to {workspace.name} was sent to {invitation.email} and replaced this link. "
            "Open the link in the newest invitation email."
        ), sign_in=False)
    if invitation.expires_at <= utcnow():
        return ClosedInvitation("expired", (
            f"This invitation expired on {invitation.expires_at:%Y-%m-%d}. "
            f"Ask {invitation.invited_by} or another admin of {workspace.name} to send a new invitation."
        ), sign_in=False)
    return None


async def _open_invitation(
    request: Request, session: AsyncSession,
) -> tuple[AdminInvitation, Workspace] | Response:
    """Return the open invitation for the link's token and its workspace, or the page explaining why it is closed."""
    invitation = await session.scalar(
        select(AdminInvitation).where(AdminInvitation.token_digest == hash_token(request.path_params["token"]))
    )
    if invitation is None:
        return render(request, "error.html", {"status": 404, "message": INVALID_INVITATION}, status_code=404)
    workspace = await session.get(Workspace, invitation.workspace_id)
    if workspace is None:
        return render(request, "error.html", {"status": 404, "message": INVALID_INVITATION}, status_code=404)
    closed = await _closed_reason(session, invitation, workspace)
    if closed is not None:
        logger.info("invitation %s was opened but is closed (%s)", invitation.id, closed.reason)
        return _closed_page(request, closed)
    return invitation, workspace


def _closed_page(request: Request, closed: ClosedInvitation) -> Response:
    return render(request, "invitation_closed.html", {"closed": closed}, status_code=410)


def _password_form(
    request: Request, invitation: AdminInvitation, workspace: Workspace, error: str | None = None,
) -> Response:
    context = {"invitation": invitation, "workspace": workspace, "min_length": MIN_PASSWORD_LENGTH, "error": error}
    return render(request, "invitation.html", context, status_code=400 if error else 200)


async def accept_page(request: Request) -> Response:
    async with get_host(request).session() as session:
        found = await _open_invitation(request, session)
    if isinstance(found, Response):
        return found
    return _password_form(request, *found)


async def accept(request: Request) -> Response:
    form = await read_form(request)
    if not check_csrf(request, form):
        raise HTTPException(400, "The form expired. Open the invitation link again.")
    async with get_host(request).session() as session:
        found = await _open_invitation(request, session)
        if isinstance(found, Response):
            return found
        invitation, workspace = found
        password = str(form.get("password", ""))
        if password != str(form.get("password_again", "")):
            return _password_form(request, invitation, workspace, "The two passwords differ. Type the same password twice.")
        try:
            member = await create_admin(session, workspace, invitation.email, password, role=invitation.role)
        except RequestValidationError as exc:
            logger.info("invitation %s: the chosen %s is invalid", invitation.id, exc.field)
            # The rollback expires the loaded rows, so the form is rendered from a fresh lookup.
            await session.rollback()
            found = await _open_invitation(request, session)
            return found if isinstance(found, Response) else _password_form(request, *found, exc.message)
        except Conflict:
            # Someone added this address as a member after the invitation was opened.
            logger.info("invitation %s: %s became a member of workspace %s before it was accepted",
                        invitation.id, invitation.email, invitation.workspace_id)
            await session.rollback()
            found = await _open_invitation(request, session)
            return found if isinstance(found, Response) else _password_form(request, *found, INVALID_INVITATION)
        now = utcnow()
        invitation.accepted_at = now
        await _close_open_invitations(session, invitation.workspace_id, invitation.email, now, keep_id=invitation.id)
        audit.record(session, workspace_id=invitation.workspace_id, actor=invitation.email, action="invitation_accepted",
                     target=invitation.email, client_address=_client(request), detail={"role": invitation.role})
        await session.commit()
        logger.info("invitation %s accepted; member %s added to workspace %s", invitation.id, member.id, member.workspace_id)
    flash(request, "Your account is ready. Sign in with your email address and the password you chose.", "success")
    return redirect("/login")


def routes() -> list[Route]:
    return [
        Route("/settings/team", team_page, methods=["GET"], name="team"),
        Route("/settings/team/invite", invite, methods=["POST"]),
        Route("/settings/team/{user_id}/remove", remove, methods=["POST"]),
        Route("/invite/{token}", accept_page, methods=["GET"], name="invitation"),
        Route("/invite/{token}", accept, methods=["POST"]),
    ]
