"""The recruiter's HTML page and the form posts behind it.

The page at ``/`` shows the Langos settings, the interview plan and the candidates with
their assessments. Each form posts to a ``/ui/...`` route, which acts and then redirects
back to ``/`` with HTTP 303 and the outcome in the ``notice`` and ``level`` query
parameters.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import jinja2
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from .contract import is_absolute_http_url
from .langos import LangosClient, LangosNotConfigured, build_start_body
from .recruiter import ActionResult, cancel_assessment, list_assessment_types, list_custom_fields, start_assessment
from .state import ApiKeyCheck, AssessmentView, FakeAshbyState, StartedAssessment

logger = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).parent / "templates"
RECENT_LIMIT = 10


def build_templates() -> Jinja2Templates:
    """Create the template renderer, with autoescaping on for every template."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return Jinja2Templates(env=env)


async def index(request: Request) -> Response:
    """Render the recruiter page."""
    state: FakeAshbyState = request.app.state.fake
    views = state.latest_by_assessment()
    candidates = [
        {
            "candidate": candidate,
            "error": state.start_errors.get(candidate.ashby_id),
            "draft": state.start_drafts.get(candidate.ashby_id, {}),
            "assessments": [
                _activity_card(started, views.get(started.assessment_id))
                for started in state.started_for(candidate.ashby_id)
            ],
        }
        for candidate in state.candidates
    ]
    context = {
        "state": state,
        "candidates": candidates,
        "plan_type": state.find_assessment_type(state.plan_assessment_type_id or ""),
        "notice": request.query_params.get("notice"),
        "level": "error" if request.query_params.get("level") == "error" else "success",
        "traffic": _recent_traffic(state),
    }
    return request.app.state.templates.TemplateResponse(request, "index.html", context)


def _activity_card(started: StartedAssessment, view: AssessmentView | None) -> dict[str, Any]:
    """Build the template context of one assessment's activity card: its badge, state and data.

    A cancellation, in Ashby or reported by Langos, outranks any status that Langos sent
    earlier, so a cancelled card never shows an older status such as Started.
    """
    cancelled = started.cancelled_at is not None or bool(view and view.cancelled_reason)
    completed = not cancelled and bool(view and view.result)
    # Langos reports an expired invitation as cancelled with the status "Expired".
    expired = cancelled and bool(view and view.status and view.status.get("value") == "Expired")
    if started.cancelled_at is not None:
        badge, level = "Cancelled in Ashby", "error"
    elif expired:
        badge, level = "Expired", "error"
    elif cancelled:
        badge, level = "Cancelled", "error"
    elif completed:
        badge, level = "Completed", "ok"
    elif view and view.status:
        badge, level = str(view.status.get("value")), ""
    else:
        badge, level = "Invited — waiting for the candidate to start", ""

    return {
        "started": started,
        "view": view,
        "badge": badge,
        "badge_level": level,
        "cancelled": cancelled,
        "closed_status": "Expired" if expired and started.cancelled_at is None else "Cancelled",
        "closed": cancelled or completed,
    }


def _recent_traffic(state: FakeAshbyState) -> list[dict[str, Any]]:
    """Return the latest calls in both directions, newest first, as rows for the traffic table."""
    rows = [
        {
            "at": call.sent_at,
            "call": f"Ashby → Langos {call.endpoint}",
            "ok": call.status is not None and call.status < 400,
            "outcome": call.error or f"HTTP {call.status}",
        }
        for call in state.langos_calls[-RECENT_LIMIT:]
    ]
    rows += [
        {
            "at": record.received_at,
            "call": f"Langos → Ashby {record.source} {record.assessment_id or ''}".rstrip(),
            "ok": record.accepted,
            "outcome": "accepted" if record.accepted else f"rejected: {record.error}",
        }
        for record in state.updates[-RECENT_LIMIT:]
    ]
    rows += [
        {
            "at": check.received_at,
            "call": "Langos → Ashby apiKey.info",
            "ok": check.status < 400,
            "outcome": _describe_key_check(check),
        }
        for check in state.api_key_checks[-RECENT_LIMIT:]
    ]
    rows.sort(key=lambda row: row["at"], reverse=True)
    return rows[:RECENT_LIMIT]


def _describe_key_check(check: ApiKeyCheck) -> str:
    if check.error is not None:
        return f"HTTP {check.status}, {check.error}"
    return f"HTTP {check.status}, key “{check.key_title}”"


async def save_and_test(request: Request) -> Response:
    """Save the Langos base URL and key, then test them with ``assessment.list``.

    An empty key field keeps the saved key. Invalid input saves nothing. A failed test
    keeps the saved settings, so the recruiter can fix Langos and test again. With custom
    fields switched on, a passed test also loads them with ``assessment.customField.list``.
    """
    state: FakeAshbyState = request.app.state.fake
    form = await request.form()
    base_url = _form_text(form, "base_url")
    api_key = _form_text(form, "api_key") or state.langos_api_key

    if not is_absolute_http_url(base_url):
        return _back(request, f"Base URL: expected an absolute http(s) URL, got {base_url!r}.", ok=False)
    if not api_key:
        return _back(request, "API key: paste the API key that Langos issued.", ok=False)

    state.configure_langos(base_url, api_key)
    state.custom_fields_enabled = form.get("custom_fields") == "on"
    state.custom_fields = []
    result = await list_assessment_types(state, request.app.state.langos)
    if not result.ok:
        return _back(request, f"Settings saved, but the test failed. {result.message}", ok=False)
    if not state.custom_fields_enabled:
        return _back(request, f"Settings saved. {result.message}", ok=True)

    fields = await list_custom_fields(state, request.app.state.langos)
    return _back(request, f"Settings saved. {result.message} {fields.message}", ok=fields.ok)


async def refresh_types(request: Request) -> Response:
    """Call ``assessment.list`` again and show the current assessment types.

    Ashby fills the interview plan's dropdown from ``assessment.list`` each time it opens,
    so types added, edited or retired in Langos show up without a new key test. A failed
    call keeps the list from the last successful call.
    """
    state: FakeAshbyState = request.app.state.fake
    try:
        result = await list_assessment_types(state, request.app.state.langos)
    except LangosNotConfigured as error:
        return _back(request, str(error), ok=False)

    if result.ok:
        return _back(request, f"Assessment types refreshed. {result.message}", ok=True)
    kept = len(state.assessment_types)
    if kept:
        outcome = f"The page still shows the {kept} type(s) from the last successful call."
    else:
        outcome = "No assessment types are loaded yet."
    message = f"Could not refresh the assessment types. {result.message} {outcome}"
    return _back(request, message, ok=False)


async def use_in_plan(request: Request) -> Response:
    """Make the chosen assessment type the interview plan's one Langos assessment.

    The plan's type is what Start Assessment preselects and what ``/_fake/langos/start``
    sends when the request names no type.
    """
    state: FakeAshbyState = request.app.state.fake
    form = await request.form()
    assessment_type = state.find_assessment_type(_form_text(form, "assessment_type_id"))
    if assessment_type is None:
        return _back(request, "Pick an assessment type from the list that Langos returned.", ok=False)

    state.plan_assessment_type_id = assessment_type["assessment_type_id"]
    name = assessment_type.get("name") or assessment_type["assessment_type_id"]
    return _back(request, f"The interview plan now uses {name}. Start Assessment preselects it.", ok=True)


async def start(request: Request) -> Response:
    """Start an assessment for a seeded candidate with the chosen assessment type."""
    state: FakeAshbyState = request.app.state.fake
    form = await request.form()
    candidate = state.find_candidate(_form_text(form, "candidate_id"))
    if candidate is None:
        return _back(request, "Candidate not found.", ok=False)

    anchor = f"candidate-{candidate.ashby_id}"
    # Kept until a start succeeds, so the form shown with an error keeps the entered values.
    state.start_drafts[candidate.ashby_id] = _draft_values(form)
    assessment_type_id = _form_text(form, "assessment_type_id") or state.plan_assessment_type_id
    if not assessment_type_id:
        return _back(request, "Pick an assessment type first.", ok=False, anchor=anchor)

    body = build_start_body(candidate, assessment_type_id, str(request.url_for("index")))
    if state.custom_fields_enabled and state.custom_fields:
        missing = [
            field["name"]
            for field in state.custom_fields
            if field.get("isRequired") and not _form_text(form, f"field.{field['id']}")
        ]
        if missing:
            return _back(request, f"Fill in the required field {missing[0]}.", ok=False, anchor=anchor)
        body["additional_fields"] = _custom_field_values(state.custom_fields, form)
    client: LangosClient = request.app.state.langos
    try:
        result = await start_assessment(state, client, body, candidate_id=candidate.ashby_id)
    except LangosNotConfigured as error:
        return _back(request, str(error), ok=False)

    if result.ok:
        state.start_drafts.pop(candidate.ashby_id, None)
    return _back(request, result.message, ok=result.ok, anchor=anchor)


def _draft_values(form: FormData) -> dict[str, str]:
    """Return the Start Assessment form's type and custom field values by input name."""
    return {
        name: _form_text(form, name)
        for name in form.keys()
        if name == "assessment_type_id" or name.startswith("field.")
    }


async def cancel(request: Request) -> Response:
    """Cancel a started assessment in Langos."""
    state: FakeAshbyState = request.app.state.fake
    form = await request.form()
    assessment_id = _form_text(form, "assessment_id")
    started = state.find_started(assessment_id)
    if started is None:
        return _back(request, "Assessment not found.", ok=False)

    action = cancel_assessment(state, request.app.state.langos, assessment_id)
    return await _act(request, action, anchor=f"candidate-{started.candidate_id}")


async def _act(request: Request, action: Any, anchor: str | None = None) -> Response:
    try:
        result: ActionResult = await action
    except LangosNotConfigured as error:
        return _back(request, str(error), ok=False)
    return _back(request, result.message, ok=result.ok, anchor=anchor)


def _back(request: Request, notice: str, *, ok: bool, anchor: str | None = None) -> RedirectResponse:
    if not ok:
        logger.info("Recruiter action %s failed: %s", request.url.path, notice)

    url = request.url_for("index").include_query_params(notice=notice, level="success" if ok else "error")
    target = f"{url}#{anchor}" if anchor else str(url)
    return RedirectResponse(target, status_code=303)


def _custom_field_values(fields: list[dict[str, Any]], form: FormData) -> dict[str, Any]:
    """Return the filled-in custom fields as ``{field id: value}``, a Number as a JSON number.

    NOTE: Ashby names ``additional_fields`` without documenting its shape; this is the
    shape its name and the custom field list suggest. A ValueSelect sends the chosen key.
    """
    values: dict[str, Any] = {}
    for field in fields:
        text = _form_text(form, f"field.{field['id']}")
        if text:
            values[field["id"]] = _number_or_text(text) if field["type"] == "Number" else text
    return values


def _number_or_text(text: str) -> Any:
    # Text that is no number goes to Langos as it is, so its validation can be tried.
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            continue
    return text


def _form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


routes = [
    Route("/", index, methods=["GET"], name="index"),
    # Browsers ask for a favicon; answering with no content keeps their console clean.
    Route("/favicon.ico", lambda request: Response(status_code=204), methods=["GET"]),
    Route("/ui/config", save_and_test, methods=["POST"], name="ui_config"),
    # GET, so that the page's Refresh link can load the current types, as opening the dropdown does in Ashby.
    Route("/ui/types/refresh", refresh_types, methods=["GET", "POST"], name="ui_refresh_types"),
    Route("/ui/plan", use_in_plan, methods=["POST"], name="ui_plan"),
    Route("/ui/start", start, methods=["POST"], name="ui_start"),
    Route("/ui/cancel", cancel, methods=["POST"], name="ui_cancel"),
]
