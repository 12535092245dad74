"""Admin sign-in and sign-out with a signed session cookie.

The session stores ``user_id``, ``signed_in_at`` (Unix time) and a random ``session_id``.
``current_user`` rejects a session older than ``session_max_age`` and one whose id signed
out, because the cookie itself stays valid wherever a copy of it is kept.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import secrets
import time

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import audit
from ..crypto import verify_password
from ..models import AdminUser, Workspace
from .common import check_csrf, flash, get_host, read_form, redirect, render
from .security import revoked_sessions, sign_in_throttle

logger = logging.getLogger(__name__)


def _safe_next(target: str | None) -> str:
    """Return ``target`` when it is a path on this site, else the home page."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


async def login_page(request: Request) -> Response:
    return render(request, "login.html", {"next": _safe_next(request.query_params.get("next")), "email": "", "workspace": ""})


def _describe_wait(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = math.ceil(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _throttled(request: Request, context: dict[str, str], wait: float) -> Response:
    seconds = max(1, math.ceil(wait))
    until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)
    error = (
        "Too many failed sign-ins for this email address or from your network. "
        f"Try again in {_describe_wait(seconds)}, after {until.strftime('%H:%M')} UTC."
    )
    response = render(request, "login.html", {**context, "error": error}, status_code=429)
    response.headers["Retry-After"] = str(seconds)
    return response


def _end_session(request: Request) -> None:
    """Clear the session and reject copies of its cookie until it would have expired."""
    session_id = request.session.get("session_id")
    signed_in_at = request.session.get("signed_in_at")
    if isinstance(session_id, str) and isinstance(signed_in_at, (int, float)):
        max_age = request.app.state.settings.session_max_age
        revoked_sessions(request.app).revoke(session_id, signed_in_at + max_age)
    request.session.clear()


async def login(request: Request) -> Response:
    form = await read_form(request)
    email = str(form.get("email", "")).strip().lower()
    password = str(form.get("password", ""))
    workspace_slug = str(form.get("workspace", "")).strip().lower()
    target = _safe_next(str(form.get("next", "")))
    context = {"next": target, "email": email, "workspace": workspace_slug}

    if not check_csrf(request, form):
        return render(request, "login.html", {**context, "error": "The form expired. Sign in again."}, status_code=400)
    throttle = sign_in_throttle(request.app)
    client = request.client.host if request.client else None
    wait = throttle.retry_after(email, client)
    if wait is not None:
        # The password is not checked, so guessing goes no further while the block lasts.
        return _throttled(request, context, wait)
    if not email or not password:
        return render(request, "login.html", {**context, "error": "Enter your email address and password."}, status_code=400)

    async with get_host(request).session() as session:
        query = select(AdminUser).join(Workspace).where(AdminUser.email == email)
        if workspace_slug:
            query = query.where(Workspace.slug == workspace_slug)
        users = list(await session.scalars(query))
        matches = [user for user in users if verify_password(user.password_hash, password)]
        if not matches:
            # One event per workspace the email belongs to, so each workspace's admins see it.
            for workspace_id in sorted({user.workspace_id for user in users}) or [None]:
                audit.record(session, workspace_id=workspace_id, actor=email or "-", action="sign_in_failed",
                             client_address=client)
        elif len(matches) == 1:
            audit.record(session, workspace_id=matches[0].workspace_id, actor=email, action="sign_in", client_address=client)
        await session.commit()

    if not matches:
        logger.info("failed sign-in for %s from %s", email, client or "-")
        throttle.record_failure(email, client)
        error = "The email address or password is wrong."
        return render(request, "login.html", {**context, "error": error}, status_code=401)
    if len(matches) > 1:
        error = "You are an admin of several workspaces. Enter the workspace to sign in to."
        return render(request, "login.html", {**context, "error": error}, status_code=400)

    user = matches[0]
    throttle.clear(email)
    _end_session(request)
    request.session["user_id"] = user.id
    request.session["signed_in_at"] = int(time.time())
    request.session["session_id"] = secrets.token_urlsafe(16)
    logger.info("admin %s signed in to workspace %s", user.id, user.workspace_id)
    return redirect(target)


async def logout(request: Request) -> Response:
    form = await read_form(request)
    if check_csrf(request, form):
        _end_session(request)
        flash(request, "You are signed out.", "success")
    return redirect("/login")


def routes() -> list[Route]:
    return [
        Route("/login", login_page, methods=["GET"], name="login"),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"], name="logout"),
    ]
