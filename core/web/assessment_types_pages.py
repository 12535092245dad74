"""Settings > Assessment types: list, create, edit, retire, restore and duplicate a workspace's types.

The form names its fields ``categories-0-name``, ``categories-0-weight`` and
``categories-0-questions-1-prompt``/``-options``/``-correct_option``/``-points``, with the
options one per line. The Add and Remove buttons are submit buttons with an ``action``
value, so the form works without JavaScript; ``assessment_types.js`` does the same in the
page. Indices may have gaps, and unknown or garbled field names are ignored.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any, AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import assessment_types as service
from .. import audit
from ..engine import forget_cached_workspace
from ..exceptions import NotFound, RequestValidationError
from ..models import AdminUser, AssessmentType
from .common import check_csrf, current_user, flash, get_host, login_redirect, read_form, redirect, render

logger = logging.getLogger(__name__)

PREFIX = "/settings/assessment-types"
TYPE_FIELDS = ("name", "description", "time_limit_minutes", "pass_mark", "expiry_days")
CATEGORY_FIELD = re.compile(r"^categories-(\d{1,4})-(name|weight)$")
QUESTION_FIELD = re.compile(r"^categories-(\d{1,4})-questions-(\d{1,4})-(prompt|options|correct_option|points)$")
ACTION = re.compile(r"^(add-category|remove-category-(\d{1,4})|add-question-(\d{1,4})|remove-question-(\d{1,4})-(\d{1,4}))$")


def blank_question() -> dict[str, str]:
    return {"prompt": "", "options": "", "correct_option": "", "points": "1"}


def blank_category() -> dict[str, Any]:
    return {"name": "", "weight": "1", "questions": [blank_question()]}


def blank_draft() -> dict[str, Any]:
    return {
        "name": "",
        "description": "",
        "time_limit_minutes": str(service.DEFAULT_TIME_LIMIT_MINUTES),
        "pass_mark": "",
        "expiry_days": str(service.DEFAULT_EXPIRY_DAYS),
        "categories": [blank_category()],
    }


def _value(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def draft_from_form(form: FormData) -> dict[str, Any]:
    """Return the posted form as a raw definition of strings, in the order of the field indices."""
    draft: dict[str, Any] = {field: _value(form, field) for field in TYPE_FIELDS}
    categories: dict[int, dict[str, Any]] = {}
    questions: dict[int, dict[int, dict[str, str]]] = {}
    for key in form.keys():
        category_match = CATEGORY_FIELD.match(key)
        if category_match:
            index, field = int(category_match.group(1)), category_match.group(2)
            categories.setdefault(index, {"name": "", "weight": ""})[field] = _value(form, key)
            continue
        question_match = QUESTION_FIELD.match(key)
        if question_match:
            index, number, field = int(question_match.group(1)), int(question_match.group(2)), question_match.group(3)
            categories.setdefault(index, {"name": "", "weight": ""})
            question = questions.setdefault(index, {}).setdefault(
                number, {"prompt": "", "options": "", "correct_option": "", "points": ""}
            )
            question[field] = _value(form, key)
    draft["categories"] = [
        {**categories[index], "questions": [questions.get(index, {})[number] for number in sorted(questions.get(index, {}))]}
        for index in sorted(categories)
    ]
    return draft


def apply_action(draft: dict[str, Any], action: str) -> bool:
    """Add or remove a category or question in ``draft`` for an Add or Remove button; return False for any other action."""
    match = ACTION.match(action)
    if match is None:
        return False
    categories = draft["categories"]
    if match.group(1) == "add-category":
        categories.append(blank_category())
    elif match.group(2) is not None:
        index = int(match.group(2))
        if index < len(categories):
            del categories[index]
    elif match.group(3) is not None:
        index = int(match.group(3))
        if index < len(categories):
            categories[index]["questions"].append(blank_question())
    else:
        index, number = int(match.group(4)), int(match.group(5))
        if index < len(categories) and number < len(categories[index]["questions"]):
            del categories[index]["questions"][number]
    return True


# ---- access ---------------------------------------------------------------------------------


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _admin(request: Request, session: AsyncSession, form: FormData) -> AdminUser:
    user = await current_user(request, session)
    if user is None:
        raise HTTPException(401, "Sign in to change assessment types.")
    if user.role != "admin":
        raise HTTPException(403, "Only workspace admins can change assessment types.")
    if not check_csrf(request, form):
        raise HTTPException(400, "The form expired. Reload the page and try again.")
    return user


async def _type(session: AsyncSession, user: AdminUser, type_id: str) -> AssessmentType:
    try:
        return await service.get_type(session, user.workspace_id, type_id)
    except NotFound:
        raise HTTPException(404, "That assessment type does not exist.") from None


async def _roll_back(request: Request, session: AsyncSession) -> AdminUser:
    """Roll back what a failed change wrote and reload the signed-in admin, whom the page shows."""
    await session.rollback()
    user = await current_user(request, session)
    if user is None:
        raise HTTPException(401, "Sign in to change assessment types.")
    return user


async def _record(request: Request, session: AsyncSession, user: AdminUser, action: str,
                  assessment_type: AssessmentType, detail: dict[str, Any] | None = None, *, commit: bool = True) -> None:
    """Audit the change and commit it, then drop this process's cached types of the workspace.

    Dropping the cache after the commit makes Ashby's next ``assessment.list`` and
    ``assessment.start`` read the change.
    """
    detail = {"id": assessment_type.id, **(detail or {})}
    audit.record(session, workspace_id=user.workspace_id, actor=user.email, action=action, target=assessment_type.name,
                 client_address=_client(request), detail=detail)
    logger.info("%s: assessment type %s in workspace %s", action, assessment_type.id, user.workspace_id)
    if commit:
        await session.commit()
        forget_cached_workspace(get_host(request).hooks, user.workspace_id)


# ---- pages ----------------------------------------------------------------------------------


async def list_page(request: Request) -> Response:
    async with get_host(request).session() as session:
        user = await current_user(request, session)
        if user is None:
            return login_redirect(request)
        usages = await service.list_types(session, user.workspace_id)
        context = {
            "active": [usage for usage in usages if usage.assessment_type.active],
            "retired": [usage for usage in usages if not usage.assessment_type.active],
        }
        return render(request, "settings/assessment_types.html", context)


async def _form_page(
    request: Request,
    draft: dict[str, Any],
    *,
    assessment_type: AssessmentType | None = None,
    assessments: int = 0,
    error: RequestValidationError | service.StructureLocked | None = None,
    retire_original: bool = True,
    status_code: int = 200,
) -> Response:
    context = {
        "draft": draft,
        "assessment_type": assessment_type,
        "assessments": assessments,
        "error": error.message if error is not None else None,
        "error_field": getattr(error, "field", None),
        "structure_locked": isinstance(error, service.StructureLocked),
        "retire_original": retire_original,
        "action_url": f"{PREFIX}/{assessment_type.id}" if assessment_type is not None else f"{PREFIX}/new",
        "max_options": service.MAX_OPTIONS,
        "max_expiry_days": service.MAX_EXPIRY_DAYS,
        "max_time_limit": service.MAX_TIME_LIMIT_MINUTES,
        "default_time_limit": service.DEFAULT_TIME_LIMIT_MINUTES,
        "default_expiry_days": service.DEFAULT_EXPIRY_DAYS,
    }
    return render(request, "settings/assessment_type_form.html", context, status_code=status_code)


async def new_page(request: Request) -> Response:
    async with get_host(request).session() as session:
        user = await current_user(request, session)
        if user is None:
            return login_redirect(request)
        if user.role != "admin":
            raise HTTPException(403, "Only workspace admins can add assessment types.")
    return await _form_page(request, blank_draft())


async def create(request: Request) -> Response:
    async with get_host(request).session() as session:
        form = await read_form(request)
        user = await _admin(request, session, form)
        draft = draft_from_form(form)
        if apply_action(draft, _value(form, "action")):
            return await _form_page(request, draft)
        try:
            definition = service.parse_definition(draft)
            assessment_type = await service.create_type(session, user.workspace_id, definition)
        except RequestValidationError as exc:
            logger.info("new assessment type in workspace %s rejected: field %s", user.workspace_id, exc.field)
            await _roll_back(request, session)
            return await _form_page(request, draft, error=exc, status_code=400)
        await _record(request, session, user, "assessment_type_created", assessment_type)
        flash(request, f"Created the assessment type {assessment_type.name}. Ashby lists it from now on.", "success")
    return redirect(PREFIX)


async def edit_page(request: Request) -> Response:
    async with get_host(request).session() as session:
        user = await current_user(request, session)
        if user is None:
            return login_redirect(request)
        assessment_type = await _type(session, user, request.path_params["type_id"])
        assessments = await service.count_assessments(session, assessment_type.id)
        draft = service.raw_of(service.definition_of(assessment_type))
        return await _form_page(request, draft, assessment_type=assessment_type, assessments=assessments)


async def update(request: Request) -> Response:
    async with get_host(request).session() as session:
        form = await read_form(request)
        user = await _admin(request, session, form)
        assessment_type = await _type(session, user, request.path_params["type_id"])
        assessments = await service.count_assessments(session, assessment_type.id)
        draft = draft_from_form(form)
        if apply_action(draft, _value(form, "action")):
            return await _form_page(request, draft, assessment_type=assessment_type, assessments=assessments)
        try:
            definition = service.parse_definition(draft)
            changed = await service.update_type(session, assessment_type, definition)
        except (RequestValidationError, service.StructureLocked) as exc:
            logger.info("edit of assessment type %s rejected: %s", assessment_type.id,
                        f"field {exc.field}" if isinstance(exc, RequestValidationError) else "assessments use it")
            user = await _roll_back(request, session)
            assessment_type = await _type(session, user, request.path_params["type_id"])
            return await _form_page(request, draft, assessment_type=assessment_type, assessments=assessments,
                                    error=exc, status_code=400 if isinstance(exc, RequestValidationError) else 409)
        if changed:
            await _record(request, session, user, "assessment_type_updated", assessment_type, {"changed": ", ".join(changed)})
            flash(request, f"Saved the assessment type {assessment_type.name}.", "success")
        else:
            flash(request, f"Nothing changed in {assessment_type.name}.", "info")
    return redirect(PREFIX)


@contextlib.asynccontextmanager
async def _type_action(request: Request) -> AsyncIterator[tuple[AsyncSession, FormData, AdminUser, AssessmentType]]:
    """Open a session for an admin's action on the type in the path: the form, the admin and the type."""
    async with get_host(request).session() as session:
        form = await read_form(request)
        user = await _admin(request, session, form)
        yield session, form, user, await _type(session, user, request.path_params["type_id"])


async def retire(request: Request) -> Response:
    async with _type_action(request) as (session, _form, user, assessment_type):
        if await service.retire_type(session, assessment_type):
            await _record(request, session, user, "assessment_type_retired", assessment_type)
        flash(request, f"Retired {assessment_type.name}. Ashby no longer lists it; assessments already sent can "
                       "still be finished and reported.", "success")
    return redirect(PREFIX)


async def restore(request: Request) -> Response:
    async with _type_action(request) as (session, _form, user, assessment_type):
        try:
            restored = await service.restore_type(session, assessment_type)
        except RequestValidationError:
            name = assessment_type.name
            logger.info("restore of assessment type %s rejected: its name is taken", assessment_type.id)
            await session.rollback()
            flash(request, f"Could not restore {name}, because an active assessment type has the same name. "
                           "Rename one of them first.", "error")
            return redirect(PREFIX)
        if restored:
            await _record(request, session, user, "assessment_type_restored", assessment_type)
        flash(request, f"Restored {assessment_type.name}. Ashby lists it again.", "success")
    return redirect(PREFIX)


async def duplicate(request: Request) -> Response:
    """Copy a type as it is (from the list), or save an edit form's content as a new type (a new version)."""
    async with _type_action(request) as (session, form, user, original):
        retire_original = _value(form, "retire_original") == "on"
        draft = draft_from_form(form) if "name" in form else None
        try:
            definition = service.parse_definition(draft) if draft is not None else None
            copy = await service.duplicate_type(session, original, definition, retire_original=retire_original)
        except RequestValidationError as exc:
            name = original.name
            logger.info("duplicate of assessment type %s rejected: field %s", original.id, exc.field)
            user = await _roll_back(request, session)
            if draft is None:
                flash(request, f"Could not duplicate {name}: {exc.message}", "error")
                return redirect(PREFIX)
            original = await _type(session, user, request.path_params["type_id"])
            assessments = await service.count_assessments(session, original.id)
            return await _form_page(request, draft, assessment_type=original, assessments=assessments, error=exc,
                                    retire_original=retire_original, status_code=400)
        if retire_original:
            await _record(request, session, user, "assessment_type_retired", original, {"replaced_by": copy.id},
                          commit=False)
        await _record(request, session, user, "assessment_type_duplicated", copy,
                      {"from": original.id, "retired_original": retire_original})
        if draft is None:
            flash(request, f"Created {copy.name} as a copy of {original.name}. Edit it below; Ashby lists it already.",
                  "success")
            return redirect(f"{PREFIX}/{copy.id}")
        flash(request, _new_version_message(copy.name, original.name, retire_original=retire_original), "success")
    return redirect(PREFIX)


def _new_version_message(new_name: str, original_name: str, *, retire_original: bool) -> str:
    if not retire_original:
        return f"Saved {new_name} as a new assessment type. {original_name} stays active, so Ashby lists both."
    if new_name == original_name:
        return (f"Saved a new version of {new_name} and retired the previous version. "
                "Ashby lists only the new version.")
    return (f"Saved {new_name} as a new version of {original_name} and retired {original_name}. "
            f"Ashby lists only {new_name}.")


def routes() -> list[Route]:
    return [
        Route(PREFIX, list_page, methods=["GET"], name="assessment_types"),
        Route(PREFIX + "/new", new_page, methods=["GET"], name="assessment_type_new"),
        Route(PREFIX + "/new", create, methods=["POST"]),
        Route(PREFIX + "/{type_id}", edit_page, methods=["GET"], name="assessment_type"),
        Route(PREFIX + "/{type_id}", update, methods=["POST"]),
        Route(PREFIX + "/{type_id}/retire", retire, methods=["POST"]),
        Route(PREFIX + "/{type_id}/restore", restore, methods=["POST"]),
        Route(PREFIX + "/{type_id}/duplicate", duplicate, methods=["POST"]),
    ]
