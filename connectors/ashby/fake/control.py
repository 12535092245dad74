"""JSON endpoints under ``/_fake`` that tests, benchmarks and scripts use to steer the fake.

They read the recorded calls, inject failures into ``assessment.update``, set the Langos
connection and make the fake send the recruiter's calls to Langos. A bad request gets
HTTP 400 with ``{"error": "<field>: <what is expected>"}``. Every body field is optional
unless marked required.

- ``GET /_fake/updates[?assessment_id=]``: the ``assessment.update`` bodies received.
- ``GET /_fake/assessments``: each assessment as Ashby shows it, merged from its updates.
- ``GET /_fake/api_key_checks``: the ``apiKey.info`` calls received.
- ``POST /_fake/failures`` ``{"count", "status", "retry_after", "failure_rate"}``: make
  the next ``count`` updates fail with ``status`` (default 500), or a share of them at random.
  ``DELETE /_fake/failures`` drops them.
- ``GET|POST /_fake/langos/config`` ``{"base_url", "api_key", "custom_fields"}``: read or
  set the Langos connection. ``custom_fields`` true switches custom fields on and loads them
  with ``assessment.customField.list``, as Save and test does; false switches them off.
- ``GET /_fake/langos/calls``: every call sent to Langos, with its response.
- ``POST /_fake/langos/list``: send ``assessment.list`` and store the returned types.
- ``POST /_fake/langos/start`` ``{"candidate", "assessment_type_id", "application", "job",
  "additional_fields"}``: send ``assessment.start``. ``additional_fields`` must be an object
  and is sent as given, whether or not custom fields are switched on.
- ``POST /_fake/langos/cancel`` ``{"assessment_id"}`` (required): send ``assessment.cancel``.

The ``/_fake/langos/*`` senders return ``{"status", "body", "ok", "message", "error"}``, with
HTTP 502 when Langos could not be reached and 409 when the connection is not set up.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .contract import is_absolute_http_url
from .langos import LangosClient, LangosNotConfigured, build_start_body
from .recruiter import ActionResult, cancel_assessment, list_assessment_types, list_custom_fields, start_assessment
from .state import FakeAshbyState

logger = logging.getLogger(__name__)


class ControlError(Exception):
    """A ``/_fake`` request that the fake cannot carry out, returned with HTTP ``status_code``."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


async def control_error_response(request: Request, exc: ControlError) -> JSONResponse:
    """Render a ControlError as ``{"error": message}``."""
    logger.info(
        "Rejected %s %s with HTTP %s: %s", request.method, request.url.path, exc.status_code, exc.message
    )
    return JSONResponse({"error": exc.message}, exc.status_code)


async def list_updates(request: Request) -> JSONResponse:
    """Return the recorded ``assessment.update`` bodies, filtered by ``?assessment_id=`` if given."""
    state: FakeAshbyState = request.app.state.fake
    assessment_id = request.query_params.get("assessment_id")
    records = state.updates if assessment_id is None else state.updates_for(assessment_id)
    return JSONResponse({"updates": [record.to_json() for record in records]})


async def list_assessments(request: Request) -> JSONResponse:
    """Return the merged view of every assessment, keyed by assessment id."""
    state: FakeAshbyState = request.app.state.fake
    views = state.latest_by_assessment()
    return JSONResponse({"assessments": {key: view.to_json() for key, view in views.items()}})


async def list_api_key_checks(request: Request) -> JSONResponse:
    """Return the recorded ``apiKey.info`` calls."""
    state: FakeAshbyState = request.app.state.fake
    return JSONResponse({"api_key_checks": [check.to_json() for check in state.api_key_checks]})


async def inject_failures(request: Request) -> JSONResponse:
    """Queue failures for ``assessment.update`` and set the random failure rate.

    The JSON body has ``count``, ``status`` (default 500), ``retry_after`` in seconds and
    ``failure_rate``, all optional.
    """
    state: FakeAshbyState = request.app.state.fake
    payload = await _read_json_object(request)
    try:
        state.inject_failures(
            payload.get("count", 0), payload.get("status", 500), payload.get("retry_after")
        )
        if "failure_rate" in payload:
            state.failure_rate = payload["failure_rate"]
    except ValueError as error:
        raise ControlError(400, str(error)) from None
    return _failure_settings(state)


async def reset_failures(request: Request) -> JSONResponse:
    """Drop queued failures and set the random failure rate to 0."""
    state: FakeAshbyState = request.app.state.fake
    state.reset_failures()
    return _failure_settings(state)


async def langos_config(request: Request) -> JSONResponse:
    """Return the Langos connection, after applying ``{"base_url", "api_key", "custom_fields"}`` on POST.

    ``custom_fields`` true loads the fields from Langos. When that call fails, the
    response has ``custom_fields_error`` and the field list stays empty.
    """
    state: FakeAshbyState = request.app.state.fake
    fields_result: ActionResult | None = None
    if request.method == "POST":
        payload = await _read_json_object(request)
        base_url = payload.get("base_url", state.langos_base_url)
        api_key = payload.get("api_key", state.langos_api_key)
        custom_fields = payload.get("custom_fields", state.custom_fields_enabled)
        validate_langos_config(base_url, api_key)
        if not isinstance(custom_fields, bool):
            raise ControlError(400, f"custom_fields: expected true or false, got {custom_fields!r}")

        state.configure_langos(base_url, api_key)
        if "custom_fields" in payload:
            state.custom_fields_enabled = custom_fields
            state.custom_fields = []
            if custom_fields:
                fields_result = await list_custom_fields(state, request.app.state.langos)

    response: dict[str, Any] = {
        "base_url": state.langos_base_url,
        "api_key_set": state.langos_api_key is not None,
        "custom_fields_enabled": state.custom_fields_enabled,
        "custom_fields": state.custom_fields,
    }
    if fields_result is not None and not fields_result.ok:
        response["custom_fields_error"] = fields_result.message
    return JSONResponse(response)


async def list_langos_calls(request: Request) -> JSONResponse:
    """Return every recorded call to Langos with its response."""
    state: FakeAshbyState = request.app.state.fake
    return JSONResponse({"calls": [call.to_json() for call in state.langos_calls]})


async def send_list(request: Request) -> JSONResponse:
    """Call Langos's ``assessment.list`` and return its status and body."""
    state: FakeAshbyState = request.app.state.fake
    return await _run(list_assessment_types(state, request.app.state.langos))


async def send_start(request: Request) -> JSONResponse:
    """Call Langos's ``assessment.start`` for a candidate and return its status and body.

    ``candidate`` is a seeded candidate's Ashby id or list index, or an object sent
    as-is. ``application`` and ``job`` objects, when given, replace those parts of the
    body. ``assessment_type_id`` defaults to the type on the interview plan.
    ``additional_fields``, an object, is sent as given so that tests can try any values.
    """
    state: FakeAshbyState = request.app.state.fake
    payload = await _read_json_object(request)
    assessment_type_id = _require_assessment_type_id(state, payload.get("assessment_type_id"))
    body, candidate_id = _build_body(state, payload, assessment_type_id, str(request.url_for("index")))
    client: LangosClient = request.app.state.langos
    return await _run(start_assessment(state, client, body, candidate_id=candidate_id))


async def send_cancel(request: Request) -> JSONResponse:
    """Call Langos's ``assessment.cancel`` and return its status and body."""
    state: FakeAshbyState = request.app.state.fake
    payload = await _read_json_object(request)
    assessment_id = payload.get("assessment_id")
    if not isinstance(assessment_id, str) or not assessment_id:
        raise ControlError(400, f"assessment_id: expected a non-empty string, got {assessment_id!r}")
    return await _run(cancel_assessment(state, request.app.state.langos, assessment_id))


def validate_langos_config(base_url: Any, api_key: Any) -> None:
    """Raise ControlError unless the base URL is an absolute http(s) URL and the key a non-empty string."""
    if not is_absolute_http_url(base_url):
        example = "http://127.0.0.1:8000/api/ats/webhook"
        raise ControlError(
            400, f"base_url: expected an absolute http(s) URL such as {example!r}, got {base_url!r}"
        )
    if not isinstance(api_key, str) or not api_key.strip():
        raise ControlError(400, "api_key: expected the non-empty API key that Langos issued")


def _build_body(
    state: FakeAshbyState, payload: dict[str, Any], assessment_type_id: str, ashby_base_url: str
) -> tuple[dict[str, Any], str | None]:
    reference = payload.get("candidate", 0)
    if isinstance(reference, dict):
        body = build_start_body(state.candidates[0], assessment_type_id, ashby_base_url)
        body["candidate"] = reference
        body["application"] = {"ashby_id": str(uuid.uuid4()), "status": "Active"}
        candidate_id = reference.get("ashby_id")
        candidate_id = candidate_id if isinstance(candidate_id, str) else None
    else:
        candidate = state.find_candidate(reference) if isinstance(reference, (str, int)) else None
        if candidate is None:
            raise ControlError(
                404,
                f"candidate: no seeded candidate has the Ashby id or index {reference!r}. "
                "Send a seeded candidate's id or index, or a candidate object",
            )
        body = build_start_body(candidate, assessment_type_id, ashby_base_url)
        candidate_id = candidate.ashby_id

    for part in ("application", "job"):
        if part in payload:
            body[part] = payload[part]
    if "additional_fields" in payload:
        additional_fields = payload["additional_fields"]
        if not isinstance(additional_fields, dict):
            raise ControlError(
                400,
                "additional_fields: expected an object that maps each custom field id to its value, "
                f"got {additional_fields!r}",
            )
        body["additional_fields"] = additional_fields
    return body, candidate_id


def _require_assessment_type_id(state: FakeAshbyState, value: Any) -> str:
    if value is None:
        value = state.plan_assessment_type_id
    if not isinstance(value, str) or not value:
        raise ControlError(
            400,
            f"assessment_type_id: expected a non-empty string because the interview plan "
            f"has no type, got {value!r}",
        )
    return value


async def _run(action: Any) -> JSONResponse:
    try:
        result: ActionResult = await action
    except LangosNotConfigured as error:
        raise ControlError(409, str(error)) from None

    status_code = 502 if result.call.error is not None else 200
    return JSONResponse(result.to_json(), status_code)


async def _read_json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}

    try:
        payload = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ControlError(400, f"body: invalid JSON: {error}") from None
    if not isinstance(payload, dict):
        raise ControlError(400, "body: expected a JSON object")
    return payload


def _failure_settings(state: FakeAshbyState) -> JSONResponse:
    return JSONResponse({"pending_failures": state.pending_failures, "failure_rate": state.failure_rate})


routes = [
    Route("/_fake/updates", list_updates, methods=["GET"], name="fake_updates"),
    Route("/_fake/assessments", list_assessments, methods=["GET"], name="fake_assessments"),
    Route("/_fake/api_key_checks", list_api_key_checks, methods=["GET"], name="fake_api_key_checks"),
    Route("/_fake/failures", inject_failures, methods=["POST"], name="fake_inject_failures"),
    Route("/_fake/failures", reset_failures, methods=["DELETE"], name="fake_reset_failures"),
    Route("/_fake/langos/config", langos_config, methods=["GET", "POST"], name="fake_langos_config"),
    Route("/_fake/langos/calls", list_langos_calls, methods=["GET"], name="fake_langos_calls"),
    Route("/_fake/langos/list", send_list, methods=["POST"], name="fake_langos_list"),
    Route("/_fake/langos/start", send_start, methods=["POST"], name="fake_langos_start"),
    Route("/_fake/langos/cancel", send_cancel, methods=["POST"], name="fake_langos_cancel"),
]
