"""Admin sign-in and sign-out with a signed session cookie."""

from __future__ import annotations

import logging

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..crypto import verify_password
from ..models import AdminUser, Workspace
from .common import check_csrf, get_host, redirect, render

logger = logging.getLogger(__name__)


def _safe_next(target: str | None) -> str:
    """Return ``target`` when it is a path on this site, else the home page."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


async def login_page(request: Request) -> Response:
    return render(request, "login.html", {"next": _safe_next(request.query_params.get("next")), "email": "", "workspace": ""})


async def login(request: Request) -> Response:
    form = await request.form()
    email = str(form.get("email", "")).strip().lower()
    password = str(form.get("password", ""))
    workspace_slug = str(form.get("workspace", "")).strip().lower()
    target = _safe_next(str(form.get("next", "")))
    context = {"next": target, "email": email, "workspace": workspace_slug}

    if not check_csrf(request, form):
        return render(request, "login.html", {**context, "error": "The form expired. Sign in again."}, status_code=400)
    if not email or not password:
        return render(request, "login.html", {**context, "error": "Enter your email address and password."}, status_code=400)

    async with get_host(request).session() as session:
        query = select(AdminUser).join(Workspace).where(AdminUser.email == email)
        if workspace_slug:
            query = query.where(Workspace.slug == workspace_slug)
        users = list(await session.scalars(query))
    matches = [user for user in users if verify_password(user.password_hash, password)]

    if len(matches) != 1:
        logger.info("failed sign-in for %s from %s", email, request.client.host if request.client else "-")
        error = "The email address or password is wrong."
        if len(matches) > 1:
            error = "You are an admin of several workspaces. Enter the workspace to sign in to."
        return render(request, "login.html", {**context, "error": error}, status_code=400 if len(matches) > 1 else 401)

    user = matches[0]
    request.session.clear()
    request.session["user_id"] = user.id
    logger.info("admin %s signed in to workspace %s", user.id, user.workspace_id)
    return redirect(target)


async def logout(request: Request) -> Response:
    form = await request.form()
    if check_csrf(request, form):
        request.session.clear()
    return redirect("/login")


def routes() -> list[Route]:
    return [
        Route("/login", login_page, methods=["GET"], name="login"),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"], name="logout"),
    ]
