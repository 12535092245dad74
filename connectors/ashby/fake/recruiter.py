"""Recruiter actions in Ashby that call Langos: testing the key, loading the custom fields,
starting and cancelling assessments.

Each action sends one call through ``LangosClient``, stores what Ashby would keep from the
reply in the state, and returns an ``ActionResult`` whose message the page or the JSON
endpoint shows. The JSON endpoints and the HTML forms share these functions.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .contract import ContractError, validate_custom_field_list, validate_update
from .langos import LangosClient
from .state import FakeAshbyState, LangosCall, StartedAssessment, utc_now


@dataclasses.dataclass(frozen=True)
class ActionResult:
    """The outcome of one recruiter action, with a ``message`` written for the recruiter."""

    call: LangosCall
    ok: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        """Return Langos's status and body, with the outcome as the fake judged it."""
        return {
            "status": self.call.status,
            "body": self.call.response_body,
            "ok": self.ok,
            "message": self.message,
            "error": self.call.error,
        }


async def list_assessment_types(state: FakeAshbyState, client: LangosClient) -> ActionResult:
    """Call ``assessment.list`` and replace the stored types with the returned ones.

    A failed call keeps the types from the last successful call, as Ashby keeps the
    interview plan's dropdown, and its message names what to check for that failure.
    """
    call = await client.post("assessment.list", {})
    if call.error is not None:
        return ActionResult(call, False, call.error)

    body = call.response_body
    results = body.get("results") if isinstance(body, dict) else None
    if call.status != 200 or not _is_success(body) or not isinstance(results, list):
        return ActionResult(call, False, _describe_list_failure(call))

    state.assessment_types = [item for item in results if isinstance(item, dict)]
    if state.find_assessment_type(state.plan_assessment_type_id or "") is None:
        state.plan_assessment_type_id = None
    return ActionResult(call, True, f"Connected to Langos: {len(state.assessment_types)} assessment type(s).")


async def list_custom_fields(state: FakeAshbyState, client: LangosClient) -> ActionResult:
    """Call ``assessment.customField.list`` and keep the fields for the Start Assessment form.

    A reply that breaks the contract clears the fields, and the result's message names the problem.
    """
    call = await client.post("assessment.customField.list", {})
    state.custom_fields = []
    if call.error is not None:
        return ActionResult(call, False, call.error)
    if call.status != 200:
        return ActionResult(call, False, f"Langos did not list its custom fields: {_describe_failure(call)}")

    try:
        validate_custom_field_list(call.response_body)
    except ContractError as exc:
        return ActionResult(call, False, f"The custom field list from Langos breaks the contract: {exc}")

    state.custom_fields = list(call.response_body["fields"])
    return ActionResult(call, True, f"Langos offers {len(state.custom_fields)} custom field(s).")


async def start_assessment(
    state: FakeAshbyState,
    client: LangosClient,
    body: dict[str, Any],
    *,
    candidate_id: str | None,
) -> ActionResult:
    """Call ``assessment.start`` with ``body`` and store the assessment that Langos started.

    A 422 reply's ``message`` is stored under ``candidate_id`` in ``state.start_errors``,
    because Ashby shows it to the recruiter. An ``update_request`` in a successful reply
    is validated and recorded like a separate ``assessment.update``.
    """
    call = await client.post("assessment.start", body)
    result = _judge_start_reply(state, call, body, candidate_id)

    if candidate_id is not None:
        if result.ok:
            state.start_errors.pop(candidate_id, None)
        else:
            state.start_errors[candidate_id] = result.message
    return result


async def cancel_assessment(state: FakeAshbyState, client: LangosClient, assessment_id: str) -> ActionResult:
    """Call ``assessment.cancel`` and mark the assessment cancelled when Langos confirms it."""
    call = await client.post("assessment.cancel", {"assessment_id": assessment_id})
    if call.error is not None:
        return ActionResult(call, False, call.error)
    if call.status != 200 or not _is_success(call.response_body):
        return ActionResult(call, False, f"Langos did not cancel the assessment: {_describe_failure(call)}")

    started = state.find_started(assessment_id)
    if started is not None and started.cancelled_at is None:
        started.cancelled_at = utc_now()
    return ActionResult(call, True, "Assessment cancelled.")


def _judge_start_reply(
    state: FakeAshbyState, call: LangosCall, body: dict[str, Any], candidate_id: str | None
) -> ActionResult:
    if call.error is not None:
        return ActionResult(call, False, call.error)

    reply = call.response_body
    if call.status == 422:
        message = reply.get("message") if isinstance(reply, dict) else None
        if isinstance(message, str) and message:
            return ActionResult(call, False, message)
        return ActionResult(call, False, "Langos rejected the start with HTTP 422 but sent no message.")
    if call.status == 409:
        return ActionResult(call, False, "Langos says the candidate is already being assessed (HTTP 409).")

    results = reply.get("results") if isinstance(reply, dict) else None
    assessment_id = results.get("assessment_id") if isinstance(results, dict) else None
    started = call.status == 200 and _is_success(reply) and isinstance(assessment_id, str) and assessment_id
    if not started:
        return ActionResult(call, False, f"Langos did not start the assessment: {_describe_failure(call)}")

    # A repeated start may return the id of an assessment that is already stored.
    existing = state.find_started(assessment_id)
    assessment_type_id = str(body.get("assessment_type_id"))
    assessment_type = state.find_assessment_type(assessment_type_id)
    state.record_started(
        StartedAssessment(
            assessment_id=assessment_id,
            candidate_id=candidate_id,
            assessment_type_id=assessment_type_id,
            assessment_type_name=assessment_type.get("name") if assessment_type else None,
            started_at=utc_now(),
        )
    )

    if existing is None:
        message = "Assessment started."
    elif existing.cancelled_at is not None:
        message = "Langos returned the existing assessment, which was cancelled in Ashby."
    else:
        message = "Langos returned the existing assessment, so no new one was started."
    if "update_request" in results:
        message += _record_inline_update(state, results["update_request"], assessment_id)
    return ActionResult(call, True, message)


def _record_inline_update(state: FakeAshbyState, update: Any, assessment_id: str) -> str:
    error: str | None = None
    try:
        validate_update(update)
    except ContractError as exc:
        error = str(exc)

    if error is None and update["assessment_id"] != assessment_id:
        got = update["assessment_id"]
        error = f"assessment_id: expected {assessment_id!r} from the start reply, got {got!r}"

    state.record_update(update, error=error, source="assessment.start reply")
    if error is not None:
        return f" Its update_request was rejected: {error}"
    return ""


def _is_success(body: Any) -> bool:
    return isinstance(body, dict) and body.get("success") is True


def _describe_list_failure(call: LangosCall) -> str:
    """Explain a failed ``assessment.list`` call by its status, with what the recruiter should check."""
    status = call.status
    detail = _describe_failure(call).rstrip(".")
    if status in (401, 403):
        return (
            f"Langos rejected the API key: {detail}. Check the Langos API key: "
            "copy it again from Settings › Integrations in Langos."
        )
    if status == 404:
        return (
            f"Nothing answered at {call.url} (HTTP 404). Check the base URL: "
            "it should end in /api/ats/webhook."
        )
    if status == 200:
        return (
            f"The reply from {call.url} is not an assessment.list reply with success true and a "
            "results list. Check the base URL: it should end in /api/ats/webhook."
        )
    return (
        f"Langos could not list its assessment types: {detail}. "
        "Check the Langos server log for the cause, then try again."
    )


def _describe_failure(call: LangosCall) -> str:
    body = call.response_body
    if isinstance(body, dict):
        error_info = body.get("errorInfo")
        if isinstance(error_info, dict) and isinstance(error_info.get("message"), str):
            return f"HTTP {call.status}, {error_info['message']}"
        if isinstance(body.get("message"), str):
            return f"HTTP {call.status}, {body['message']}"
    return f"HTTP {call.status}"
