"""Helpers shared by the host's pages: rendering, the signed-in admin, CSRF and flash messages."""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..host import Host
from ..models import AdminUser
from .security import revoked_sessions

logger = logging.getLogger(__name__)

CSRF_FIELD = "csrf_token"


def get_host(request: Request) -> Host:
    return request.app.state.host


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def read_form(request: Request) -> FormData:
    """Return the posted form; raise HTTPException 400 naming a field whose name or value contains NUL.

    PostgreSQL cannot store the NUL character in text, so such a form is rejected before
    any of it reaches the database.
    """
    form = await request.form()
    for name, value in form.multi_items():
        if "\x00" in name or (isinstance(value, str) and "\x00" in value):
            raise HTTPException(400, f"The field {name!r} contains a NUL character, which Langos cannot store. "
                                     "Remove it and send the form again.")
    return form


def check_csrf(request: Request, form: FormData) -> bool:
    expected = request.session.get("csrf")
    sent = form.get(CSRF_FIELD)
    return bool(expected) and isinstance(sent, str) and hmac.compare_digest(expected.encode(), sent.encode())


def flash(request: Request, message: str, kind: str = "info") -> None:
    request.session.setdefault("flash", []).append({"message": message, "kind": kind})


def pop_flashes(request: Request) -> list[dict[str, str]]:
    return request.session.pop("flash", [])


def render(request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    user = getattr(request.state, "user", None)
    values = {
        "user": user,
        "can_edit": user is not None and user.role == "admin",
        "csrf_token": csrf_token(request),
        "flashes": pop_flashes(request),
        **(context or {}),
    }
    response = request.app.state.templates.TemplateResponse(request, template, values, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


async def current_user(request: Request, session: AsyncSession) -> AdminUser | None:
    """Return the signed-in admin, or None; also stored on ``request.state.user`` for templates."""
    user_id = request.session.get("user_id")
    if not user_id:
        return None
    if not _session_is_current(request):
        request.session.clear()
        return None
    user = await session.get(AdminUser, user_id)
    if user is None:
        request.session.clear()
        return None
    request.state.user = user
    return user


def _session_is_current(request: Request) -> bool:
    """Check the session's age and id, which the cookie's own ``max_age`` cannot enforce.

    Starlette re-signs the cookie whenever a request changes the session (a flash message,
    a new CSRF token), and the cookie's ``max_age`` counts from that signature. The
    ``signed_in_at`` field counts from the sign-in. A session without these fields was
    created before they existed and is rejected too.
    """
    signed_in_at = request.session.get("signed_in_at")
    session_id = request.session.get("session_id")
    if not isinstance(signed_in_at, (int, float)) or not isinstance(session_id, str):
        return False
    age = time.time() - signed_in_at
    if age > request.app.state.settings.session_max_age:
        logger.info("session of admin %s expired %.0f s after sign-in", request.session.get("user_id"), age)
        return False
    if revoked_sessions(request.app).is_revoked(session_id):
        logger.info("rejected a signed-out session of admin %s", request.session.get("user_id"))
        return False
    return True


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303)
