"""The endpoints Ashby calls: ``assessment.list``, ``assessment.start``, ``assessment.cancel``
and ``assessment.customField.list``.

Ashby joins the base URL and the method name itself, so each route also answers on a
path with a doubled slash (a base URL entered with a trailing slash).
``docs/openapi/ashby-webhook.yaml`` describes the requests and replies.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any, Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.exceptions import AuthenticationError, NotFound, RateLimited, RequestValidationError
from core.host import AtsCaller, Host
from core.types import AssessmentOrder, Candidate, OrderOption

from . import payloads

logger = logging.getLogger(__name__)

CONNECTOR = "ashby"

Handler = Callable[[Host, AsyncSession, AtsCaller, Any], Awaitable[JSONResponse]]


def error_response(status_code: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Return the error envelope the Ashby API itself uses."""
    body = {"success": False, "errors": [code], "errorInfo": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status_code, headers=headers)


async def _read_json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: JSON nested deeper than the parser's recursion limit.
        raise RequestValidationError("The request body is not valid JSON.", field="body", status_code=400) from None


def endpoint(host: Host, handler: Handler) -> Callable[[Request], Awaitable[JSONResponse]]:
    """Wrap ``handler`` with authentication, body parsing, the transaction and error replies."""

    async def run(request: Request) -> JSONResponse:
        async with host.session() as session:
            try:
                caller = await host.authenticate_ats(session, request, CONNECTOR)
                body = await _read_json(request)
                response = await handler(host, session, caller, body)
            except AuthenticationError as exc:
                return error_response(401, "unauthorized", str(exc), headers={"WWW-Authenticate": 'Basic realm="Langos"'})
            except RateLimited as exc:
                return error_response(429, "rate_limit_exceeded", str(exc),
                                      headers={"Retry-After": str(math.ceil(exc.retry_after))})
            except RequestValidationError as exc:
                await session.rollback()
                # The host's body limit raises a RequestValidationError with status 413.
                code = "request_too_large" if exc.status_code == 413 else "invalid_input"
                return error_response(exc.status_code, code, exc.message)
            except NotFound as exc:
                await session.rollback()
                return error_response(404, "not_found", str(exc))
            # A call answered from the host's caches never began a transaction, so there is nothing to commit.
            if session.in_transaction():
                await session.commit()
            return response

    return run


async def assessment_list(host: Host, session: AsyncSession, caller: AtsCaller, body: Any) -> JSONResponse:
    if not isinstance(body, dict):
        raise RequestValidationError("The request body must be a JSON object.", field="body", status_code=400)
    types = await host.hooks.list_assessment_types(session=session, workspace_id=caller.workspace_id)
    results = [{"assessment_type_id": t.id, "name": t.name, "description": t.description} for t in types]
    return JSONResponse({"success": True, "results": results})


async def custom_field_list(host: Host, session: AsyncSession, caller: AtsCaller, body: Any) -> JSONResponse:
    """Offer the engine's order options as the custom fields of Ashby's Start Assessment form."""
    if not isinstance(body, dict):
        raise RequestValidationError("The request body must be a JSON object.", field="body", status_code=400)
    options = await host.hooks.list_order_options(session=session, workspace_id=caller.workspace_id)
    fields = []
    for option in options:
        if option.kind not in payloads.CUSTOM_FIELD_TYPES:
            logger.warning("order option %s of kind %r has no Ashby custom field type; not offered", option.id, option.kind)
            continue
        fields.append(payloads.custom_field(option))
    # Ashby expects ``fields`` at the top level of this reply, not under ``results``.
    return JSONResponse({"success": True, "fields": fields})


def _recruiter_message(exc: RequestValidationError, options: Sequence[OrderOption]) -> str:
    """Return the 422 message, starting with the field's label when an order option is invalid.

    The recruiter knows the option only by the label Ashby shows on the Start Assessment form.
    """
    option_id = (exc.field or "").removeprefix("options.")
    if option_id == exc.field:
        return exc.message
    label = next((option.label for option in options if option.id == option_id), None)
    if label is None or label.casefold() in exc.message.casefold():
        return exc.message
    return f"{label}: {exc.message}"


async def assessment_start(host: Host, session: AsyncSession, caller: AtsCaller, body: Any) -> JSONResponse:
    options: list[OrderOption] = []
    try:
        request = payloads.parse_start(body)
        if request.additional_fields is not None:
            options = await host.hooks.list_order_options(session=session, workspace_id=caller.workspace_id)
        order = AssessmentOrder(
            workspace_id=caller.workspace_id,
            integration_id=caller.integration_id,
            assessment_type_id=request.assessment_type_id,
            external_application_id=request.application.ashby_id,
            candidate=Candidate(
                external_id=request.candidate.ashby_id,
                first_name=request.candidate.first_name,
                last_name=request.candidate.last_name,
                email=(request.candidate.email or "").strip(),
                profile_url=request.candidate.ashby_profile_url,
            ),
            job_name=request.job.name if request.job else None,
            external_job_id=request.job.ashby_id if request.job else None,
            options=payloads.parse_additional_fields(request.additional_fields, options),
        )
        started = await host.hooks.start_assessment(session=session, order=order)
    except RequestValidationError as exc:
        # Ashby shows this message to the recruiter who started the assessment.
        await session.rollback()
        logger.info("assessment.start rejected for workspace %s: field %s", caller.workspace_id, exc.field)
        if not options and (exc.field or "").startswith("options."):
            options = await host.hooks.list_order_options(session=session, workspace_id=caller.workspace_id)
        return JSONResponse({"message": _recruiter_message(exc, options)}, status_code=exc.status_code)
    return JSONResponse({"success": True, "results": {"assessment_id": started.assessment_id}})


async def assessment_cancel(host: Host, session: AsyncSession, caller: AtsCaller, body: Any) -> JSONResponse:
    request = payloads.parse(payloads.CancelRequest, body)
    await host.hooks.cancel_assessment(session=session, workspace_id=caller.workspace_id, assessment_id=request.assessment_id)
    return JSONResponse({"success": True, "results": {"assessment_id": request.assessment_id}})


def build_routes(host: Host) -> list[Route]:
    routes = []
    for method, handler in (
        ("assessment.list", assessment_list),
        ("assessment.start", assessment_start),
        ("assessment.cancel", assessment_cancel),
        ("assessment.customField.list", custom_field_list),
    ):
        view = endpoint(host, handler)
        routes.append(Route(f"/{method}", view, methods=["POST"], name=f"ashby:{method}"))
        routes.append(Route(f"//{method}", view, methods=["POST"]))
    return routes
