"""The Ashby wire format: inbound request bodies and the ``assessment.update`` body.

Inbound bodies are validated with pydantic. Ashby shows the ``message`` of a 422 reply to
the recruiter who pressed Start Assessment, so the messages here are written for them.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.exceptions import RequestValidationError
from core.types import AssessmentUpdate

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PROFILE_URL_LABEL = "View in Langos"


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
    additional_fields: dict[str, Any] | None = None


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
    "candidate": "Ashby sent no candidate; start the assessment from the candidate's profile.",
    "candidate.ashby_id": "Ashby sent no candidate id; start the assessment from the candidate's profile.",
    "application": "Ashby sent no application; start the assessment from the candidate's application.",
    "application.ashby_id": "Ashby sent no application id; start the assessment from the candidate's application.",
}


def _describe(error: dict[str, Any]) -> tuple[str, str]:
    field = ".".join(str(part) for part in error["loc"]) or "body"
    problem = "is missing" if error["type"] == "missing" else f"is invalid ({error['msg']})"
    hint = _FIELD_HELP.get(field, "Check the request and send it again.")
    return field, f"The field {field} {problem}. {hint}"


def parse(model: type[BaseModel], body: Any) -> Any:
    """Validate ``body`` against ``model``; raise ``RequestValidationError`` naming the first bad field."""
    if not isinstance(body, dict):
        raise RequestValidationError("The request body must be a JSON object.", field="body", status_code=400)
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


def _data_point(identifier: str, label: str, type_: str, value: Any) -> dict[str, Any]:
    return {"identifier": identifier, "label": label, "type": type_, "value": value}


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "category"


def update_body(update: AssessmentUpdate) -> dict[str, Any]:
    """Build the ``assessment.update`` body for ``update``.

    A result is what marks an assessment complete in Ashby, and it requires
    ``assessment_profile_url``; a ``cancelled_reason`` marks it cancelled.
    """
    body: dict[str, Any] = {
        "assessment_id": update.assessment_id,
        "timestamp": int(update.occurred_at.timestamp() * 1000),
        "assessment_profile_url": _data_point("profile_url", PROFILE_URL_LABEL, "url", update.report_url),
    }
    if update.event == "started":
        body["assessment_status"] = _data_point("status", "Status", "string", "Started")
    elif update.event == "completed":
        body["assessment_status"] = _data_point("status", "Status", "string", "Completed")
        body["assessment_result"] = _data_point("score", "Score", "numeric_score", update.score)
        metadata = [_data_point("max_score", "Maximum score", "numeric_score", update.max_score)]
        seen = {"max_score", "duration"}
        for category in update.category_scores:
            identifier = f"category_{_slug(category.name)}"
            while identifier in seen:
                identifier += "_"
            seen.add(identifier)
            metadata.append(_data_point(identifier, category.name, "numeric_score", category.score))
        if update.duration_minutes is not None:
            metadata.append(_data_point("duration", "Time taken", "numeric_duration_minutes", update.duration_minutes))
        body["metadata"] = metadata
    elif update.event == "cancelled":
        body["cancelled_reason"] = _data_point(
            "cancelled_reason", "Cancelled", "string", update.cancelled_reason or "Cancelled in Langos"
        )
    else:
        body["assessment_status"] = _data_point("status", "Status", "string", update.event.replace("_", " ").title())
    return body
