"""The Ashby wire format: inbound request bodies, custom fields and the ``assessment.update`` body.

Inbound bodies are validated with pydantic. Ashby shows the ``message`` of a 422 reply to
the recruiter who pressed Start Assessment, so the messages here are written for them.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.exceptions import RequestValidationError
from core.json_input import nul_field
from core.types import AssessmentUpdate, OrderOption

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PROFILE_URL_LABEL = "View in Langos"
INVITATION_EMAIL_LABEL = "Invitation email"


class _Lenient(BaseModel):
    """Ashby may add fields at any time; unknown fields are ignored, not rejected."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


# The maximum lengths are those of the columns the values are stored in.
class CandidateIn(_Lenient):
    ashby_id: str = Field(min_length=1, max_length=200)
    first_name: str = Field(default="", max_length=200)
    last_name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=320)
    ashby_profile_url: str | None = Field(default=None, max_length=2000)


class ApplicationIn(_Lenient):
    ashby_id: str = Field(min_length=1, max_length=200)
    # Ashby's spec lists Hired, Archived, Active and Lead, but integrators have seen other values.
    status: str | None = None


class JobIn(_Lenient):
    ashby_id: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=300)
    req_id: str | None = None
    ashby_job_url: str | None = None


class StartRequest(_Lenient):
    assessment_type_id: str = Field(min_length=1, max_length=36)
    candidate: CandidateIn
    application: ApplicationIn
    job: JobIn | None = None
    # Checked by parse_additional_fields, because Ashby does not define its shape.
    additional_fields: Any = None


class CancelRequest(_Lenient):
    assessment_id: str

    @field_validator("assessment_id")
    @classmethod
    def _uuid(cls, value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError("must be the assessment_id (a UUID) that Langos returned from assessment.start") from None


_FIELD_HELP = {
    "assessment_type_id": "Pick a Langos assessment in the interview plan, then start the assessment again.",
}
# Advice for a field Ashby left out; a field it sent in the wrong form gets the general advice.
_MISSING_HELP = {
    "candidate": "Ashby sent no candidate; start the assessment from the candidate's profile.",
    "candidate.ashby_id": "Ashby sent no candidate id; start the assessment from the candidate's profile.",
    "application": "Ashby sent no application; start the assessment from the candidate's application.",
    "application.ashby_id": "Ashby sent no application id; start the assessment from the candidate's application.",
}


# The shape a field must have, by pydantic error type, for the errors whose own message names a model class.
_EXPECTED_SHAPES = {
    "model_type": "it must be a JSON object",
    "model_attributes_type": "it must be a JSON object",
    "dict_type": "it must be a JSON object",
}


def _describe(error: dict[str, Any]) -> tuple[str, str]:
    field = ".".join(str(part) for part in error["loc"]) or "body"
    if error["type"] == "string_too_long":
        # A value typed in Ashby, such as a name: the recruiter can shorten it there.
        limit = error.get("ctx", {}).get("max_length")
        return field, (f"The field {field} is longer than the {limit} characters Langos can store. "
                       "Shorten it in Ashby, then start the assessment again.")
    missing = error["type"] == "missing"
    # pydantic's own message for a wrong shape names Langos's model classes, which Ashby's users never see.
    expected = _EXPECTED_SHAPES.get(error["type"])
    problem = "is missing" if missing else f"is invalid ({expected or error['msg']})"
    hint = _MISSING_HELP.get(field) if missing else None
    hint = hint or _FIELD_HELP.get(field, "Check the request and send it again.")
    return field, f"The field {field} {problem}. {hint}"


def parse(model: type[BaseModel], body: Any) -> Any:
    """Validate ``body`` against ``model``; raise ``RequestValidationError`` naming the first bad field."""
    if not isinstance(body, dict):
        raise RequestValidationError("The request body must be a JSON object.", field="body", status_code=400)
    field = nul_field(body)
    if field is not None:
        raise RequestValidationError(
            f"The field {field} contains a NUL character (\\u0000), which Langos cannot store. "
            "Remove it in Ashby and try again.",
            field=field,
        )
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        field, message = _describe(exc.errors()[0])
        raise RequestValidationError(message, field=field) from None


def parse_start(body: Any) -> StartRequest:
    request: StartRequest = parse(StartRequest, body)
    email = (request.candidate.email or "").strip()
    name = f"{request.candidate.first_name} {request.candidate.last_name}".strip() or "This candidate"
    if not email:
        raise RequestValidationError(
            f"{name} has no email address, so Langos cannot send the invitation. "
            "Add an email address to the candidate in Ashby, then start the assessment again.",
            field="candidate.email",
        )
    if not EMAIL.match(email):
        raise RequestValidationError(
            f"The email address {email!r} of {name} is not valid. Correct it in Ashby, then start the assessment again.",
            field="candidate.email",
        )
    return request


# Ashby's custom field types for the kinds of order option; an option of another kind is not offered.
CUSTOM_FIELD_TYPES = {"number": "Number", "choice": "ValueSelect"}


def custom_field(option: OrderOption) -> dict[str, Any]:
    """Describe an order option as an ``assessment.customField.list`` field.

    Ashby shows ``name`` on the Start Assessment form and sends the value back under ``id``.
    For a ValueSelect it shows each possible value's ``value`` and sends back its ``key``.
    """
    field: dict[str, Any] = {
        "id": option.id,
        "name": option.label,
        "type": CUSTOM_FIELD_TYPES[option.kind],
        "isRequired": option.required,
    }
    if option.kind == "choice":
        field["possible_values"] = [{"key": choice.key, "value": choice.label} for choice in option.choices]
    return field


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, list) else "an object"


def _unreadable_fields(problem: str, field: str) -> RequestValidationError:
    return RequestValidationError(
        f"Langos cannot read the custom fields that Ashby sent: {problem}. "
        "Start the assessment again, and contact Langos support if this happens again.",
        field=field,
    )


def _field_values(value: Any) -> dict[str, Any]:
    """Return the values of ``additional_fields`` by field id, from any of the shapes accepted."""
    if isinstance(value, dict):
        return {str(key): item for key, item in value.items()}
    if not isinstance(value, list):
        raise _unreadable_fields(
            f"additional_fields must be an object that maps each field id to its value, not {_kind_of(value)}",
            "additional_fields",
        )

    values: dict[str, Any] = {}
    for index, item in enumerate(value):
        identifier = item.get("id", item.get("key")) if isinstance(item, dict) else None
        if not isinstance(identifier, str) or "value" not in item:
            found = "an object without them" if isinstance(item, dict) else _kind_of(item)
            raise _unreadable_fields(
                f"additional_fields[{index}] must be an object with an id and a value, not {found}",
                f"additional_fields[{index}]",
            )
        values[identifier] = item["value"]
    return values


def _option_value(option: OrderOption | None, value: Any) -> Any:
    """Unwrap one field's value and, for a choice, turn a shown value into its key."""
    if isinstance(value, dict):
        if option is not None and option.kind == "choice" and "key" in value:
            value = value["key"]
        elif "value" in value:
            value = value["value"]
    if option is None or option.kind != "choice" or not isinstance(value, str):
        return value

    wanted = value.strip().casefold()
    for choice in option.choices:
        if wanted == choice.key.casefold():
            return choice.key
    for choice in option.choices:
        if wanted == choice.label.casefold():
            return choice.key
    return value


def parse_additional_fields(value: Any, options: Sequence[OrderOption]) -> dict[str, Any]:
    """Turn the ``additional_fields`` of ``assessment.start`` into order option values by option id.

    Ashby names ``additional_fields`` but does not define its shape, so three shapes are
    accepted: ``{id: value}``, ``{id: {"value": value}}`` and a list of ``{"id": ..., "value": ...}``
    objects, where ``key`` may stand for ``id``. A ValueSelect value may be the possible
    value's key, as expected, or the value Ashby shows. The engine validates the values and
    ignores fields it does not define. Raise ``RequestValidationError`` for any other shape.
    """
    if value is None:
        return {}

    by_id = {option.id: option for option in options}
    return {identifier: _option_value(by_id.get(identifier), item) for identifier, item in _field_values(value).items()}


def _data_point(identifier: str, label: str, type_: str, value: Any) -> dict[str, Any]:
    return {"identifier": identifier, "label": label, "type": type_, "value": value}


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "category"


def update_body(update: AssessmentUpdate) -> dict[str, Any]:
    """Build the ``assessment.update`` body for ``update``.

    A result is what marks an assessment complete in Ashby, and it requires
    ``assessment_profile_url``; a ``cancelled_reason`` marks it cancelled. An expired
    invitation is sent as cancelled with the status "Expired", because it is final and
    the recruiter may then start the assessment again. Data point values are limited to
    Ashby's five types, so times are sent as text.
    """
    body: dict[str, Any] = {
        "assessment_id": update.assessment_id,
        "timestamp": int(update.occurred_at.timestamp() * 1000),
        "assessment_profile_url": _data_point("profile_url", PROFILE_URL_LABEL, "url", update.report_url),
    }
    if update.event == "invited":
        body["assessment_status"] = _status("Invited")
        metadata = [_data_point("invitation_email", INVITATION_EMAIL_LABEL, "string", "Sent")]
        if update.expires_at is not None:
            metadata.append(_data_point("expires_at", "Invitation expires", "string", _utc_minute(update.expires_at)))
        body["metadata"] = metadata
    elif update.event == "invitation_failed":
        body["assessment_status"] = _status("Invitation not delivered")
        reason = update.message or "The invitation email could not be delivered."
        body["metadata"] = [_data_point("invitation_email", INVITATION_EMAIL_LABEL, "string", reason)]
    elif update.event == "started":
        body["assessment_status"] = _status("Started")
    elif update.event == "completed":
        body["assessment_status"] = _status("Completed")
        body["assessment_result"] = _data_point("score", "Score", "numeric_score", update.score)
        body["metadata"] = _result_metadata(update)
    elif update.event == "cancelled":
        body["cancelled_reason"] = _data_point(
            "cancelled_reason", "Cancelled", "string", update.cancelled_reason or "Cancelled in Langos"
        )
    elif update.event == "expired":
        body["assessment_status"] = _status("Expired")
        body["cancelled_reason"] = _data_point(
            "cancelled_reason", "Expired", "string", update.cancelled_reason or "The invitation expired."
        )
    else:
        body["assessment_status"] = _status(update.event.replace("_", " ").title())
    return body



def _status(value: str) -> dict[str, Any]:
    return _data_point("status", "Status", "string", value)


def _utc_minute(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _result_metadata(update: AssessmentUpdate) -> list[dict[str, Any]]:
    """Return the completed update's metadata: maximum score, category scores, time taken and pass mark."""
    metadata = [_data_point("max_score", "Maximum score", "numeric_score", update.max_score)]
    seen = {"max_score", "duration", "passed", "pass_mark"}
    for category in update.category_scores:
        identifier = f"category_{_slug(category.name)}"
        while identifier in seen:
            identifier += "_"
        seen.add(identifier)
        metadata.append(_data_point(identifier, category.name, "numeric_score", category.score))
    if update.duration_minutes is not None:
        metadata.append(_data_point("duration", "Time taken", "numeric_duration_minutes", update.duration_minutes))
    if update.pass_mark is not None and update.passed is not None:
        metadata.append(_data_point("passed", "Passed", "boolean_success", update.passed))
        metadata.append(_data_point("pass_mark", "Pass mark", "numeric_score", update.pass_mark))
    return metadata
