"""The engine API: an external assessment engine reads assessments and reports events.

An engine that runs the assessment itself, in place of the built-in candidate page, calls
these routes with ``Authorization: Bearer lgs_engine_...``, a workspace key of kind
``engine``. Each reported event carries the caller's ``event_id``, stored on the timeline
event it produced, so a retried request changes nothing. ``docs/engine-api.md`` documents
the requests, the replies and the error codes, and ``docs/openapi/engine-api.yaml``
describes them in OpenAPI 3.1, served at ``/api/engine/openapi.yaml``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
from pathlib import Path
from typing import Any, Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import engine
from ..crypto import Secret
from ..exceptions import AuthenticationError, Conflict, NotFound, RequestValidationError
from ..host import Host, keys_from_request
from ..integrations import authenticate_key
from ..json_input import nul_field
from ..models import ApiKey, Assessment, AssessmentType, TimelineEvent
from ..types import CategoryScore
from .common import get_host
from .security import RequestBodyLimit

logger = logging.getLogger(__name__)

KEY_KIND = "engine"
EVENT_TYPES = ("started", "progress", "completed")
# The length of TimelineEvent.external_event_id.
MAX_EVENT_ID_LENGTH = 200
# ``detail`` is stored on the timeline and shown on the report page, so it stays small.
MAX_DETAIL_BYTES = 10_000
AUTHENTICATE_HEADER = {"WWW-Authenticate": 'Bearer realm="Langos engine API"'}
# Read from the source tree, as the page templates are.
OPENAPI_DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi" / "engine-api.yaml"

Handler = Callable[[Request, AsyncSession, ApiKey], Awaitable[JSONResponse]]


@dataclasses.dataclass(frozen=True)
class EngineEvent:
    """A reported event whose fields passed the checks that need no assessment."""

    event_id: str
    type: str
    occurred_at: dt.datetime | None
    detail: dict[str, Any] | None
    category_scores: list[Any] | None


async def issue_engine_key(host: Host, session: AsyncSession, workspace_id: str, actor: str) -> tuple[Secret, ApiKey]:
    """Create an engine API key for ``workspace_id``.

    Only the key's digest is stored, so the returned secret is the one chance to show it.
    """
    key = host.hasher.generate(KEY_KIND)
    record = ApiKey(
        workspace_id=workspace_id,
        integration_id=None,
        kind=KEY_KIND,
        prefix=host.hasher.prefix(key.reveal()),
        digest=host.hasher.digest(key.reveal()),
        created_by=actor,
    )
    session.add(record)
    await session.flush()
    logger.info("issued engine key %s in workspace %s by %s", record.prefix, workspace_id, actor)
    return key, record


async def authenticate_engine(host: Host, session: AsyncSession, request: Request) -> ApiKey:
    """Return the engine key the request carries, or raise ``AuthenticationError``."""
    candidates = keys_from_request(request)
    if not candidates:
        raise AuthenticationError("missing API key: send the header 'Authorization: Bearer lgs_engine_...'")
    for candidate in candidates:
        record = await authenticate_key(host, session, candidate, KEY_KIND)
        if record is not None:
            return record
    raise AuthenticationError(
        "invalid API key: the key is unknown, revoked or expired; ask a Langos admin for a new engine key"
    )


def _error(message: str, status_code: int, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status_code)


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[JSONResponse]]:
    """Wrap ``handler`` with authentication, the transaction and the JSON error replies."""

    async def run(request: Request) -> JSONResponse:
        host = get_host(request)
        assessment_id = request.path_params["assessment_id"]
        async with host.session() as session:
            try:
                caller = await authenticate_engine(host, session, request)
                response = await handler(request, session, caller)
            except AuthenticationError as exc:
                logger.info("engine API call for assessment %s rejected: %s", assessment_id, exc)
                return JSONResponse({"error": str(exc)}, status_code=401, headers=AUTHENTICATE_HEADER)
            except RequestValidationError as exc:
                await session.rollback()
                logger.info("engine API call for assessment %s rejected: field %s: %s", assessment_id, exc.field, exc.message)
                return _error(exc.message, exc.status_code, exc.field)
            except NotFound:
                await session.rollback()
                return _error(
                    f"assessment {assessment_id!r} not found; check the id, and that the API key belongs "
                    "to the assessment's workspace",
                    404,
                )
            except Conflict as exc:
                await session.rollback()
                logger.info("engine API call for assessment %s rejected: %s", assessment_id, exc)
                return _error(str(exc), 409)
            try:
                await session.commit()
            except IntegrityError:
                # A concurrent request stored the same event_id first; the unique index
                # on (assessment_id, external_event_id) rejected this one.
                await session.rollback()
                logger.info("engine API call for assessment %s lost a race on a repeated event id", assessment_id)
                return JSONResponse({"duplicate": True})
            return response

    return run


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def assessment_json(assessment: Assessment) -> dict[str, Any]:
    assessment_type = assessment.assessment_type
    return {
        "id": assessment.id,
        "status": assessment.status,
        "candidate": {
            "first_name": assessment.candidate_first_name,
            "last_name": assessment.candidate_last_name,
            "name": assessment.candidate_name,
            "email": assessment.candidate_email,
        },
        "job_name": assessment.job_name,
        "assessment_type": {
            "id": assessment_type.id,
            "name": assessment_type.name,
            "time_limit_minutes": assessment_type.time_limit_minutes,
            "categories": [
                {"id": category.id, "name": category.name, "weight": category.weight}
                for category in assessment_type.categories
            ],
        },
        "created_at": _iso(assessment.created_at),
        "started_at": _iso(assessment.started_at),
        "completed_at": _iso(assessment.completed_at),
        "cancelled_at": _iso(assessment.cancelled_at),
        "duration_minutes": assessment.duration_minutes,
        "score": assessment.score,
        "max_score": assessment.max_score,
        "category_scores": assessment.category_scores or [],
    }


async def get_assessment(request: Request, session: AsyncSession, caller: ApiKey) -> JSONResponse:
    assessment = await engine.get_assessment(session, caller.workspace_id, request.path_params["assessment_id"])
    return JSONResponse(assessment_json(assessment))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


async def _read_json(request: Request) -> Any:
    raw = await request.body()
    try:
        # NaN and Infinity are rejected: they are not JSON, and the replies could not encode them.
        body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise RequestValidationError(
            "The request body is not valid JSON; send a JSON object with event_id and type.",
            field="body",
            status_code=400,
        ) from None
    field = nul_field(body)
    if field is not None:
        raise RequestValidationError(
            f"{field} contains a NUL character (\\u0000), which Langos cannot store; "
            "remove it and send the event again.",
            field=field,
        )
    return body


def _parse_time(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    expected = "send an ISO 8601 timestamp with a timezone, such as 2024-05-01T09:30:00Z, or leave it out"
    if not isinstance(value, str):
        raise RequestValidationError(f"occurred_at {value!r} is invalid; {expected}", field="occurred_at")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise RequestValidationError(f"occurred_at {value!r} is invalid; {expected}", field="occurred_at") from None
    if parsed.tzinfo is None:
        raise RequestValidationError(
            f"occurred_at {value!r} has no timezone; add Z or an offset such as +02:00", field="occurred_at"
        )
    return parsed.astimezone(dt.timezone.utc)


def _parse_event_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RequestValidationError(
            "event_id is missing; send a unique string for each event, such as a UUID, "
            "so that a retried request is stored once",
            field="event_id",
        )
    if len(value) > MAX_EVENT_ID_LENGTH:
        raise RequestValidationError(
            f"event_id has {len(value)} characters; use at most {MAX_EVENT_ID_LENGTH}", field="event_id"
        )
    return value


def _parse_detail(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RequestValidationError(f"detail {value!r} is invalid; send a JSON object or leave it out", field="detail")
    size = len(json.dumps(value).encode())
    if size > MAX_DETAIL_BYTES:
        raise RequestValidationError(
            f"detail has {size} bytes of JSON; keep it under {MAX_DETAIL_BYTES}", field="detail"
        )
    return value


def _parse_category_scores(event_type: str, value: Any) -> list[Any] | None:
    if event_type != "completed":
        if value is not None:
            raise RequestValidationError(
                f"category_scores is accepted only with type 'completed'; leave it out of {event_type!r} events",
                field="category_scores",
            )
        return None
    if value is None:
        raise RequestValidationError(
            "category_scores is missing; a completed event needs one score from 0 to 100 for every category",
            field="category_scores",
        )
    if not isinstance(value, list):
        raise RequestValidationError(
            'category_scores must be a list of objects such as {"name": "Python", "score": 80}',
            field="category_scores",
        )
    return value


def parse_event(body: Any) -> EngineEvent:
    """Check the fields of a reported event that do not depend on the assessment."""
    if not isinstance(body, dict):
        raise RequestValidationError(
            "The request body must be a JSON object with event_id and type.", field="body", status_code=400
        )
    event_id = _parse_event_id(body.get("event_id"))
    event_type = body.get("type")
    if event_type not in EVENT_TYPES:
        raise RequestValidationError(
            f"type {event_type!r} is invalid; use one of {', '.join(EVENT_TYPES)}", field="type"
        )
    return EngineEvent(
        event_id=event_id,
        type=event_type,
        occurred_at=_parse_time(body.get("occurred_at")),
        detail=_parse_detail(body.get("detail")),
        category_scores=_parse_category_scores(event_type, body.get("category_scores")),
    )


def _category_score(index: int, item: Any, names: list[str], type_name: str) -> tuple[str, float]:
    field = f"category_scores[{index}]"
    if not isinstance(item, dict):
        raise RequestValidationError(f'{field} must be an object such as {{"name": "Python", "score": 80}}', field=field)

    name = item.get("name")
    if name not in names:
        raise RequestValidationError(
            f"{field}.name {name!r} is not a category of {type_name!r}; use one of {', '.join(map(repr, names))}",
            field=f"{field}.name",
        )

    score = item.get("score")
    valid = isinstance(score, (int, float)) and not isinstance(score, bool) and math.isfinite(score)
    if not valid or not 0 <= score <= 100:
        raise RequestValidationError(f"{field}.score {score!r} is invalid; send a number from 0 to 100", field=f"{field}.score")
    return name, float(score)


def score_from_categories(assessment_type: AssessmentType, items: list[Any]) -> engine.Score:
    """Check that ``items`` scores every category of the type exactly once, and weight the scores."""
    names = [category.name for category in assessment_type.categories]
    scores: dict[str, float] = {}
    for index, item in enumerate(items):
        name, score = _category_score(index, item, names, assessment_type.name)
        if name in scores:
            raise RequestValidationError(
                f"category_scores[{index}].name {name!r} appears more than once; send one score per category",
                field=f"category_scores[{index}].name",
            )
        scores[name] = score

    missing = [name for name in names if name not in scores]
    if missing:
        raise RequestValidationError(
            f"category_scores has no score for {', '.join(map(repr, missing))}; "
            f"send one score for every category of {assessment_type.name!r}",
            field="category_scores",
        )

    categories = [CategoryScore(name=name, score=scores[name], max_score=100.0) for name in names]
    weights = [category.weight for category in assessment_type.categories]
    return engine.Score(overall=engine.weighted_overall(categories, weights), categories=tuple(categories))


async def _reported_before(session: AsyncSession, assessment_id: str, event_id: str) -> bool:
    # Two concurrent requests with the same new event_id can both pass this check; the
    # unique index on (assessment_id, external_event_id) then rejects the second at commit.
    found = await session.scalar(
        select(TimelineEvent.id).where(
            TimelineEvent.assessment_id == assessment_id, TimelineEvent.external_event_id == event_id
        )
    )
    return found is not None


async def _apply_started(session: AsyncSession, assessment: Assessment, event: EngineEvent) -> None:
    # An assessment that is already started stays as it is, so nothing records the event id.
    # A retry then changes nothing either.
    await engine.begin(session, assessment, at=event.occurred_at, external_event_id=event.event_id)


async def _apply_progress(session: AsyncSession, assessment: Assessment, event: EngineEvent) -> None:
    engine.ensure_open(assessment)
    engine.record_event(
        session, assessment, "progress", event.detail, at=event.occurred_at, external_event_id=event.event_id
    )


async def _apply_completed(session: AsyncSession, assessment: Assessment, event: EngineEvent) -> None:
    engine.ensure_open(assessment)
    score = score_from_categories(assessment.assessment_type, event.category_scores or [])
    started_at = assessment.started_at
    if event.occurred_at is not None and started_at is not None and event.occurred_at < started_at:
        raise RequestValidationError(
            f"occurred_at {event.occurred_at.isoformat()!r} is before the assessment started "
            f"({started_at.isoformat()}); send the time the candidate finished",
            field="occurred_at",
        )
    await engine.complete(
        session, assessment, score, at=event.occurred_at, source="engine", external_event_id=event.event_id
    )


APPLY = {"started": _apply_started, "progress": _apply_progress, "completed": _apply_completed}


async def post_event(request: Request, session: AsyncSession, caller: ApiKey) -> JSONResponse:
    event = parse_event(await _read_json(request))
    assessment = await engine.get_assessment(session, caller.workspace_id, request.path_params["assessment_id"])
    if await _reported_before(session, assessment.id, event.event_id):
        return JSONResponse({"duplicate": True, "assessment": assessment_json(assessment)})

    await APPLY[event.type](session, assessment, event)
    logger.info("engine event %r (%s) applied to assessment %s with key %s",
                event.event_id, event.type, assessment.id, caller.prefix)
    return JSONResponse({"duplicate": False, "assessment": assessment_json(assessment)})


async def openapi_document(request: Request) -> Response:
    """Return the engine API's OpenAPI description as YAML; reading it needs no key."""
    try:
        text = OPENAPI_DOCUMENT.read_text(encoding="utf-8")
    except OSError as exc:
        logger.error("the engine API's OpenAPI description cannot be read from %s: %s", OPENAPI_DOCUMENT, exc)
        return _error("The OpenAPI description is not installed with this Langos; see docs/engine-api.md.", 404)
    return Response(text, media_type="application/yaml")


def routes(*, max_body_bytes: int) -> list[Route]:
    """Return the engine API's routes; a body over ``max_body_bytes`` gets a 413 reply."""
    prefix = "/api/engine/assessments/{assessment_id}"
    # The body limit raises RequestBodyTooLarge, a RequestValidationError, where the
    # handler reads the body, so ``endpoint`` reports it like any invalid field.
    limit = [Middleware(RequestBodyLimit, max_bytes=max_body_bytes)]
    return [
        Route("/api/engine/openapi.yaml", openapi_document, methods=["GET"], name="engine:openapi"),
        Route(prefix, endpoint(get_assessment), methods=["GET"], name="engine:assessment", middleware=limit),
        Route(prefix + "/events", endpoint(post_event), methods=["POST"], name="engine:events", middleware=limit),
    ]
