"""The report page's invitation actions: resend, extend and cancel.

Each form posts to ``/reports/{assessment_id}/<action>``, acts for a signed-in admin, and
redirects back to the report with the outcome as a flash message. Viewers may read the
report but are refused here.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable
from urllib.parse import quote

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import audit, engine, invitations
from ..exceptions import Conflict, NotFound, RequestValidationError
from ..models import AdminUser, Assessment
from .common import check_csrf, current_user, flash, get_host, read_form, redirect

logger = logging.getLogger(__name__)

NOT_FOUND = "This assessment does not exist in your workspace. Open it from the list of assessments."
OLD_LINK = "The link in earlier emails no longer works."
# The longest entered value the report shows again after a rejected form, in characters.
ENTERED_VALUE_LIMIT = invitations.MAX_REASON_LENGTH + 100

# Runs one action and returns the flash message on success; the caller commits.
Action = Callable[[Request, AsyncSession, AdminUser, Assessment, FormData], Awaitable[str]]


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _resend(request: Request, session: AsyncSession, user: AdminUser, assessment: Assessment, form: FormData) -> str:
    public_url = get_host(request).settings.public_url
    await invitations.resend(session, assessment, public_url=public_url, actor=user.email)
    audit.record(session, workspace_id=user.workspace_id, actor=user.email, action="invitation_resent",
                 target=assessment.id, client_address=_client(request))
    return f"The invitation was sent again to {assessment.candidate_email}. {OLD_LINK}"


async def _extend(request: Request, session: AsyncSession, user: AdminUser, assessment: Assessment, form: FormData) -> str:
    days = invitations.parse_days(form.get("days"))
    public_url = get_host(request).settings.public_url
    extension = await invitations.extend(session, assessment, days, public_url=public_url, actor=user.email)
    audit.record(session, workspace_id=user.workspace_id, actor=user.email, action="invitation_extended",
                 target=assessment.id, client_address=_client(request),
                 detail={"days": days, "expires_at": extension.expires_at.isoformat(), "reopened": extension.reopened})
    until = f"{extension.expires_at:%Y-%m-%d %H:%M} UTC"
    if extension.reopened:
        return f"The invitation was reopened until {until} and sent again to {assessment.candidate_email}. {OLD_LINK}"
    return f"The invitation now expires at {until}. The candidate's link keeps working."


async def _cancel(request: Request, session: AsyncSession, user: AdminUser, assessment: Assessment, form: FormData) -> str:
    reason = invitations.parse_reason(form.get("reason"))
    await invitations.cancel(session, assessment, reason=reason, actor=user.email)
    audit.record(session, workspace_id=user.workspace_id, actor=user.email, action="assessment_cancelled",
                 target=assessment.id, client_address=_client(request), detail={"reason": reason})
    return "The assessment was cancelled. The candidate can no longer take it, and the ATS will show the reason."


def _keep_entered_values(request: Request, form: FormData) -> None:
    """Store the rejected form's values in the session, so the report shows them again for correcting."""
    entered = {}
    for name in ("days", "reason"):
        value = form.get(name)
        if isinstance(value, str) and value:
            # The session is a signed cookie, so an oversized value is cut to keep it small.
            entered[name] = value[:ENTERED_VALUE_LIMIT]
    if entered:
        request.session["invitation_form"] = entered


async def _act(request: Request, action: Action) -> Response:
    assessment_id = request.path_params["assessment_id"]
    report = f"/reports/{assessment_id}"
    async with get_host(request).session() as session:
        user = await current_user(request, session)
        if user is None:
            # After signing in, the admin lands on the report, where the form is.
            return redirect(f"/login?next={quote(report, safe='')}")
        if user.role != "admin":
            raise HTTPException(403, "Only workspace admins can resend, extend or cancel an invitation.")
        form = await read_form(request)
        if not check_csrf(request, form):
            raise HTTPException(400, "The form expired. Reload the page and try again.")
        try:
            assessment = await engine.get_assessment(session, user.workspace_id, assessment_id)
        except NotFound:
            raise HTTPException(404, NOT_FOUND) from None

        try:
            message = await action(request, session, user, assessment, form)
            await session.commit()
        except (Conflict, RequestValidationError) as exc:
            await session.rollback()
            logger.info("invitation action %s on assessment %s rejected: %s", request.url.path, assessment_id, exc)
            flash(request, str(exc), "error")
            _keep_entered_values(request, form)
            return redirect(report)
        except IntegrityError:
            # A candidate's request or another admin queued an update of this assessment first.
            await session.rollback()
            logger.info("invitation action %s on assessment %s lost a race with another change",
                        request.url.path, assessment_id)
            flash(request, "The assessment changed while you were acting on it. Check its state and try again.",
                  "error")
            return redirect(report)
    flash(request, message, "success")
    return redirect(report)


async def resend(request: Request) -> Response:
    return await _act(request, _resend)


async def extend(request: Request) -> Response:
    return await _act(request, _extend)


async def cancel(request: Request) -> Response:
    return await _act(request, _cancel)


def routes() -> list[Route]:
    return [
        Route("/reports/{assessment_id}/resend", resend, methods=["POST"], name="invitation_resend"),
        Route("/reports/{assessment_id}/extend", extend, methods=["POST"], name="invitation_extend"),
        Route("/reports/{assessment_id}/cancel", cancel, methods=["POST"], name="assessment_cancel"),
    ]

