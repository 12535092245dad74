"""Ashby's public API endpoints that Langos calls: ``apiKey.info`` and ``assessment.update``.

Authentication copies Ashby's: HTTP Basic with the API key as the username and an empty
password. A missing key gets 401, an unknown key 403, and a key without the endpoint's
permission 403 ``missing_endpoint_permission``. Validation errors come back with HTTP 200
and ``success: false``, as Ashby sends them.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .contract import ContractError, validate_update
from .state import ApiKey, ApiKeyCheck, FakeAshbyState, InjectedFailure, utc_now

logger = logging.getLogger(__name__)

API_KEYS_READ = "apiKeys:read"
CANDIDATES_WRITE = "candidates:write"


class ApiError(Exception):
    """An error that the fake returns in Ashby's error envelope with HTTP ``status_code``."""

    def __init__(
        self, status_code: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = headers


def error_envelope(code: str, message: str) -> dict[str, Any]:
    """Build Ashby's error body.

    ``errors`` repeats the code because Ashby marks that list deprecated but older clients still read it.
    """
    return {
        "success": False,
        "errors": [code],
        "errorInfo": {"code": code, "message": message, "requestId": uuid.uuid4().hex, "meta": {}},
    }


async def api_error_response(request: Request, exc: ApiError) -> JSONResponse:
    """Render an ApiError as Ashby's error envelope."""
    return JSONResponse(error_envelope(exc.code, exc.message), exc.status_code, headers=exc.headers)


def read_basic_username(request: Request) -> str | None:
    """Return the username of the request's HTTP Basic credentials, or None when there are none."""
    header = request.headers.get("authorization")
    if not header:
        return None

    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic":
        return None

    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None

    username, _, _ = decoded.partition(":")
    return username or None


# User-Agent prefixes of bare HTTP libraries. Integrators report that the Ashby API, behind
# Cloudflare, answers such requests (and those without a User-Agent) with 403 "error code: 1010".
LIBRARY_USER_AGENTS = ("python-httpx/", "python-requests/", "python-urllib/", "curl/")


def check_user_agent(request: Request) -> None:
    """Raise ApiError 403 unless the request names its product in the User-Agent header."""
    agent = request.headers.get("user-agent", "").strip()
    if not agent or agent.lower().startswith(LIBRARY_USER_AGENTS):
        raise ApiError(403, "browser_signature_banned", "error code: 1010. Send a User-Agent that names your product.")


def authenticate(request: Request, state: FakeAshbyState) -> ApiKey:
    """Return the API key that the request authenticates with, or raise ApiError 401 or 403."""
    check_user_agent(request)
    key = read_basic_username(request)
    if key is None:
        raise ApiError(
            401,
            "missing_api_key",
            "No API key was sent. Send the Ashby API key as the HTTP Basic username with an empty password.",
        )

    api_key = state.find_api_key(key)
    if api_key is None:
        raise ApiError(403, "invalid_api_key", "The API key is invalid or has been deactivated.")
    return api_key


def require_scope(api_key: ApiKey, scope: str, endpoint: str) -> None:
    """Raise ApiError 403 ``missing_endpoint_permission`` unless the key has ``scope``."""
    if scope not in api_key.scopes:
        raise ApiError(
            403,
            "missing_endpoint_permission",
            f"The API key lacks the {scope} permission that {endpoint} requires.",
        )


async def api_key_info(request: Request) -> JSONResponse:
    """Return the title, creation time and scopes of the calling key, as Ashby's apiKey.info does."""
    state: FakeAshbyState = request.app.state.fake
    api_key: ApiKey | None = None
    try:
        api_key = authenticate(request, state)
        require_scope(api_key, API_KEYS_READ, "apiKey.info")
    except ApiError as error:
        _record_key_check(state, error.status_code, api_key, error.message)
        raise

    _record_key_check(state, 200, api_key, None)
    results = {
        "title": api_key.title,
        "createdAt": api_key.created_at.isoformat().replace("+00:00", "Z"),
        "scopes": list(api_key.scopes),
    }
    return JSONResponse({"success": True, "results": results})


async def assessment_update(request: Request) -> JSONResponse:
    """Validate and record an assessment update, unless an injected failure is due."""
    state: FakeAshbyState = request.app.state.fake
    api_key = authenticate(request, state)
    require_scope(api_key, CANDIDATES_WRITE, "assessment.update")

    raw = await request.body()
    failure = state.next_failure()
    if failure is not None:
        return _injected_failure_response(state, failure, _parse_or_text(raw))

    try:
        body = _parse_json_body(request, raw)
        validate_update(body)
    except ContractError as error:
        record = state.record_update(_parse_or_text(raw), error=str(error))
        logger.info("Rejected assessment.update for assessment %s: %s", record.assessment_id, error)
        return JSONResponse(error_envelope("invalid_input", str(error)))

    state.record_update(body, error=None)
    logger.info("Accepted assessment.update for assessment %s", body["assessment_id"])
    return JSONResponse({"success": True, "results": {}})


def _record_key_check(state: FakeAshbyState, status: int, api_key: ApiKey | None, error: str | None) -> None:
    title = api_key.title if api_key is not None else None
    check = ApiKeyCheck(received_at=utc_now(), status=status, key_title=title, error=error)
    state.api_key_checks.append(check)
    logger.info("apiKey.info returned %s for key %r", status, title)


def _parse_json_body(request: Request, raw: bytes) -> Any:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise ContractError("Content-Type", f"expected application/json, got {content_type!r}")

    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ContractError("body", f"invalid JSON: {error}") from None


def _parse_or_text(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return raw.decode("utf-8", errors="replace")


def _injected_failure_response(state: FakeAshbyState, failure: InjectedFailure, body: Any) -> JSONResponse:
    if failure.status == 429:
        code = "rate_limit_exceeded"
    elif failure.status >= 500:
        code = "internal_server_error"
    else:
        code = "request_failed"

    headers = {}
    if failure.status == 429 and failure.retry_after is not None:
        headers["Retry-After"] = f"{failure.retry_after:g}"

    message = f"Injected failure: the fake Ashby returned HTTP {failure.status}."
    record = state.record_update(body, error=message)
    logger.info(
        "Failed assessment.update for assessment %s with injected HTTP %s",
        record.assessment_id,
        failure.status,
    )
    return JSONResponse(error_envelope(code, message), failure.status, headers=headers)


routes = [
    Route("/apiKey.info", api_key_info, methods=["POST"], name="api_key_info"),
    Route("/assessment.update", assessment_update, methods=["POST"], name="assessment_update"),
]
