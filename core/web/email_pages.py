"""Settings > Emails: the wording of the candidate's invitation and reminder in each language.

Admins edit, preview, save and reset a template; viewers read it and its preview. The
preview renders the template with made-up candidate data and shows the subject, the
plain-text part and the HTML part, the last in a sandboxed ``<iframe srcdoc>`` so the
email's markup cannot run script or reach the settings page.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import audit
from ..engine import forget_cached_workspace
from ..email_templates import (
    KINDS,
    VARIABLES,
    RenderedEmail,
    TemplateSource,
    default_template,
    render_email,
    reset_template,
    sample_variables,
    save_template,
    stored_template,
    validate,
)
from ..engine import EMAIL_LANGUAGES
from ..exceptions import RequestValidationError
from ..models import AdminUser, EmailTemplate, Workspace
from .common import check_csrf, current_user, flash, get_host, login_redirect, read_form, redirect, render

logger = logging.getLogger(__name__)

PREFIX = "/settings/emails"


def _choice(value: Any, allowed: dict[str, str], field: str, label: str) -> str:
    """Return ``value`` when it is a key of ``allowed``, or raise ``RequestValidationError`` naming the field."""
    if isinstance(value, str) and value in allowed:
        return value
    raise RequestValidationError(
        f"The {label} {value!r} is unknown; choose one of {', '.join(allowed)}.", field=field, status_code=400
    )


def _form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _admin_form(request: Request, session: AsyncSession) -> tuple[AdminUser, FormData]:
    """Return the signed-in admin and the posted form, or raise HTTPException."""
    user = await current_user(request, session)
    if user is None:
        raise HTTPException(401, "Sign in to change email templates.")
    if user.role != "admin":
        raise HTTPException(403, "Only workspace admins can change email templates.")
    form = await read_form(request)
    if not check_csrf(request, form):
        raise HTTPException(400, "The form expired. Reload the page and try again.")
    return user, form


def _preview(request: Request, source: TemplateSource, language: str, workspace_name: str) -> RenderedEmail:
    link = f"{get_host(request).settings.public_url}/take/example-link"
    variables = {**sample_variables(language, link), "workspace_name": workspace_name}
    return render_email(source, variables, language)


async def _page(
    request: Request,
    session: AsyncSession,
    user: AdminUser,
    kind: str,
    language: str,
    *,
    draft: TemplateSource | None = None,
    error: RequestValidationError | None = None,
    preview: RenderedEmail | None = None,
    status_code: int = 200,
) -> Response:
    """Render the editor for ``kind`` in ``language``: the draft when given, else the saved or default template."""
    stored = await stored_template(session, user.workspace_id, kind, language)
    default = default_template(kind, language)
    current = TemplateSource(stored.subject, stored.body) if stored is not None else default
    shown = draft or current
    workspace = await session.get(Workspace, user.workspace_id)
    workspace_name = workspace.name if workspace is not None else ""
    if preview is None and error is None:
        preview = _preview(request, shown, language, workspace_name)

    context = {
        "kinds": KINDS,
        "languages": EMAIL_LANGUAGES,
        "kind": kind,
        "language": language,
        "stored": stored,
        "overview": await _overview(session, user.workspace_id),
        "subject": shown.subject,
        "body": shown.body,
        "variables": VARIABLES,
        "error": error,
        "preview": preview,
        "is_draft": draft is not None,
    }
    return render(request, "settings/emails.html", context, status_code=status_code)


async def _overview(session: AsyncSession, workspace_id: str) -> list[dict[str, Any]]:
    """Return one row per kind and language, saying whether the workspace changed its wording."""
    rows = {
        (row.kind, row.language): row
        for row in await session.scalars(select(EmailTemplate).where(EmailTemplate.workspace_id == workspace_id))
    }
    return [
        {"kind": kind, "kind_label": kind_label, "language": code, "language_label": name, "stored": rows.get((kind, code))}
        for kind, kind_label in KINDS.items()
        for code, name in EMAIL_LANGUAGES.items()
    ]


async def emails_page(request: Request) -> Response:
    async with get_host(request).session() as session:
        user = await current_user(request, session)
        if user is None:
            return login_redirect(request)
        try:
            kind = _choice(request.query_params.get("kind", "invitation"), KINDS, "kind", "email kind")
            language = _choice(request.query_params.get("language", "en"), EMAIL_LANGUAGES, "language", "language")
        except RequestValidationError as exc:
            return render(request, "error.html", {"status": 400, "message": exc.message}, status_code=400)
        return await _page(request, session, user, kind, language)


async def save(request: Request) -> Response:
    """Save the posted template, or only preview it when the Preview button was pressed."""
    async with get_host(request).session() as session:
        user, form = await _admin_form(request, session)
        try:
            kind = _choice(form.get("kind"), KINDS, "kind", "email kind")
            language = _choice(form.get("language"), EMAIL_LANGUAGES, "language", "language")
        except RequestValidationError as exc:
            return render(request, "error.html", {"status": 400, "message": exc.message}, status_code=400)

        draft = TemplateSource(_form_text(form, "subject"), _form_text(form, "body"))
        try:
            source = validate(draft.subject, draft.body, language)
        except RequestValidationError as exc:
            return await _page(request, session, user, kind, language, draft=draft, error=exc, status_code=400)

        if form.get("action") == "preview":
            workspace = await session.get(Workspace, user.workspace_id)
            preview = _preview(request, source, language, workspace.name if workspace is not None else "")
            return await _page(request, session, user, kind, language, draft=source, preview=preview)

        workspace_id, actor = user.workspace_id, user.email
        try:
            await save_template(session, workspace_id, kind, language, source, actor)
        except IntegrityError:
            # Another admin saved the same template first; this save replaces theirs.
            await session.rollback()
            await save_template(session, workspace_id, kind, language, source, actor)
        _audit(request, session, workspace_id, actor, "email_template_updated", kind, language)
        await session.commit()
        # New invitations read the workspace's templates from the engine's cache.
        forget_cached_workspace(get_host(request).hooks, workspace_id)
        logger.info("workspace %s saved its %s email in %s", workspace_id, kind, language)
        flash(request, f"Saved the {KINDS[kind].lower()} email in {EMAIL_LANGUAGES[language]}.", "success")
    return redirect(f"{PREFIX}?kind={kind}&language={language}")


async def reset(request: Request) -> Response:
    """Delete the workspace's template so the built-in default applies again."""
    async with get_host(request).session() as session:
        user, form = await _admin_form(request, session)
        try:
            kind = _choice(form.get("kind"), KINDS, "kind", "email kind")
            language = _choice(form.get("language"), EMAIL_LANGUAGES, "language", "language")
        except RequestValidationError as exc:
            return render(request, "error.html", {"status": 400, "message": exc.message}, status_code=400)

        if await reset_template(session, user.workspace_id, kind, language):
            _audit(request, session, user.workspace_id, user.email, "email_template_reset", kind, language)
            await session.commit()
            forget_cached_workspace(get_host(request).hooks, user.workspace_id)
            logger.info("workspace %s reset its %s email in %s to the default", user.workspace_id, kind, language)
            flash(request, f"The {KINDS[kind].lower()} email in {EMAIL_LANGUAGES[language]} uses the built-in text again.",
                  "success")
        else:
            flash(request, f"The {KINDS[kind].lower()} email in {EMAIL_LANGUAGES[language]} already uses the built-in text.")
    return redirect(f"{PREFIX}?kind={kind}&language={language}")


def _audit(
    request: Request, session: AsyncSession, workspace_id: str, actor: str, action: str, kind: str, language: str
) -> None:
    audit.record(session, workspace_id=workspace_id, actor=actor, action=action, target=f"{kind}/{language}",
                 client_address=request.client.host if request.client else None,
                 detail={"kind": kind, "language": language})


def routes() -> list[Route]:
    return [
        Route(PREFIX, emails_page, methods=["GET"], name="emails"),
        Route(PREFIX, save, methods=["POST"]),
        Route(f"{PREFIX}/reset", reset, methods=["POST"]),
    ]
