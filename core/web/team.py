"""Settings > Team: invite further admins and viewers, and remove them.

An invitation is a link with a random token, sent by email (and shown once to the admin who
sent it); whoever opens it sets a password and becomes a member with the invited role.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import audit
from ..crypto import hash_token, new_token
from ..exceptions import Conflict, RequestValidationError
from ..models import AdminInvitation, AdminUser, Email, Workspace, utcnow
from ..seed import MIN_PASSWORD_LENGTH, ROLES, create_admin
from .common import check_csrf, current_user, flash, get_host, login_redirect, redirect, render

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


async def invite(request: Request) -> Response:
    host = get_host(request)
    async with host.session() as session:
        form = await request.form()
        user = await _admin(request, session, form=form)
        email = str(form.get("email", "")).strip().lower()
        role = str(form.get("role", ""))
        error = None
        if "@" not in email or len(email) > 320:
            error = f"The email address {email!r} is not valid. Enter the address the invitation goes to."
        elif role not in ROLES:
            error = f"The role {role!r} is unknown. Choose admin or viewer."
        elif await session.scalar(select(func.count()).select_from(AdminUser).where(
                AdminUser.workspace_id == user.workspace_id, AdminUser.email == email)):
            error = f"{email} is already a member of this workspace."
        if error:
            return await _team_page(request, session, user, error=error, email=email, role=role, status_code=400)

        token = new_token()
        invitation = AdminInvitation(
            workspace_id=user.workspace_id, email=email, role=role, token_digest=hash_token(token),
            invited_by=user.email, expires_at=utcnow() + dt.timedelta(days=INVITATION_DAYS),
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
        audit.record(session, workspace_id=user.workspace_id, actor=user.email, action="admin_invited",
                     target=email, client_address=_client(request), detail={"role": role})
        await session.commit()
        logger.info("workspace %s invited a new %s", user.workspace_id, role)
        # The link is shown once, for deployments whose mail backend only logs.
        return await _team_page(request, session, user, invited_link=link, invited_email=email)


async def remove(request: Request) -> Response:
    async with get_host(request).session() as session:
        form = await request.form()
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


async def _invitation(session: AsyncSession, token: str) -> AdminInvitation | None:
    invitation = await session.scalar(select(AdminInvitation).where(AdminInvitation.token_digest == hash_token(token)))
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= utcnow():
        return None
    return invitation


async def accept_page(request: Request) -> Response:
    async with get_host(request).session() as session:
        invitation = await _invitation(session, request.path_params["token"])
    if invitation is None:
        return render(request, "error.html", {"status": 404, "message": INVALID_INVITATION}, status_code=404)
    return render(request, "invitation.html", {"invitation": invitation, "min_length": MIN_PASSWORD_LENGTH})


async def accept(request: Request) -> Response:
    form = await request.form()
    if not check_csrf(request, form):
        raise HTTPException(400, "The form expired. Open the invitation link again.")
    async with get_host(request).session() as session:
        invitation = await _invitation(session, request.path_params["token"])
        if invitation is None:
            return render(request, "error.html", {"status": 404, "message": INVALID_INVITATION}, status_code=404)
        password = str(form.get("password", ""))
        if password != str(form.get("password_again", "")):
            return render(request, "invitation.html", {"invitation": invitation, "min_length": MIN_PASSWORD_LENGTH,
                                                       "error": "The two passwords differ. Type the same password twice."},
                          status_code=400)
        workspace = await session.get(Workspace, invitation.workspace_id)
        try:
            member = await create_admin(session, workspace, invitation.email, password, role=invitation.role)
        except (RequestValidationError, Conflict) as exc:
            await session.rollback()
            invitation = await _invitation(session, request.path_params["token"])
            return render(request, "invitation.html", {"invitation": invitation, "min_length": MIN_PASSWORD_LENGTH,
                                                       "error": str(exc)}, status_code=400)
        invitation.accepted_at = utcnow()
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
