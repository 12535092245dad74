"""Calls from Langos to the Ashby API, with Ashby's errors mapped to the host's exceptions.

The Ashby API is RPC style (``POST /<category>.<method>`` with a JSON body) and takes the
customer's API key as the HTTP Basic username with an empty password. Validation and
not-found errors come back as HTTP 200 with ``success: false``, so every reply's body is
checked, not only its status.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

from core.exceptions import CredentialRejected, UpstreamError, UpstreamUnavailable
from core.types import Secret

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.ashbyhq.com"
CONNECTOR = "ashby"


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def _error_info(response: httpx.Response) -> tuple[str | None, str | None]:
    """Return the error code and message of an Ashby error envelope, when there is one."""
    try:
        body = response.json()
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    info = body.get("errorInfo")
    if isinstance(info, dict):
        return info.get("code"), info.get("message")
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        return str(errors[0]), None
    return None, None


class AshbyClient:
    """One customer's view of the Ashby API."""

    def __init__(self, http: httpx.AsyncClient, api_url: str, api_key: Secret, *, workspace_id: str = "-") -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self.api_key = api_key
        self.workspace_id = workspace_id

    async def call(self, method: str, body: dict[str, Any]) -> Any:
        """Call ``method`` and return the ``results`` of a successful reply."""
        url = f"{self.api_url}/{method}"
        started = time.perf_counter()
        try:
            response = await self.http.post(
                url,
                json=body,
                auth=(self.api_key.reveal(), ""),
                headers={"Accept": "application/json; version=1"},
            )
        except httpx.TimeoutException:
            self._log(method, "timeout", started)
            raise UpstreamUnavailable(f"Ashby did not respond to {method} in time", connector=CONNECTOR) from None
        except httpx.TransportError as exc:
            self._log(method, "unreachable", started)
            raise UpstreamUnavailable(
                f"Ashby could not be reached at {self.api_url} ({type(exc).__name__})", connector=CONNECTOR
            ) from None

        self._log(method, response.status_code, started)
        return self._results(method, response)

    def _log(self, method: str, status: object, started: float) -> None:
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        logger.info(
            "outbound connector=ashby workspace=%s route=%s status=%s duration_ms=%.1f",
            self.workspace_id, method, status, duration_ms,
            extra={"connector": CONNECTOR, "workspace_id": self.workspace_id, "route": method, "status": status,
                   "duration_ms": duration_ms},
        )

    def _results(self, method: str, response: httpx.Response) -> Any:
        status = response.status_code
        code, message = _error_info(response)
        detail = f": {message}" if message else ""

        if status == 401:
            raise CredentialRejected(
                "Ashby did not accept the request as authenticated; paste the Ashby API key again",
                connector=CONNECTOR, status_code=status, code=code,
            )
        if status == 403 and code == "missing_endpoint_permission":
            raise CredentialRejected(
                f"The Ashby API key lacks the permission for {method}{detail}. "
                "Edit the key in Ashby (Admin > API Keys), enable the permission, then connect again.",
                connector=CONNECTOR, status_code=status, code=code,
            )
        if status == 403:
            raise CredentialRejected(
                "Ashby rejected the API key: it is invalid or was deactivated. "
                "Create a new key in Ashby (Admin > API Keys) and paste it here.",
                connector=CONNECTOR, status_code=status, code=code,
            )
        if status == 429 or status >= 500:
            raise UpstreamUnavailable(
                f"Ashby responded to {method} with HTTP {status}{detail}",
                connector=CONNECTOR, status_code=status, code=code, retry_after=_retry_after(response),
            )
        if status != 200:
            raise UpstreamError(
                f"Ashby responded to {method} with HTTP {status}{detail}", connector=CONNECTOR, status_code=status, code=code
            )

        try:
            body = response.json()
        except ValueError:
            raise UpstreamUnavailable(
                f"Ashby responded to {method} with a body that is not JSON", connector=CONNECTOR, status_code=status
            ) from None
        if not isinstance(body, dict) or body.get("success") is not True:
            raise UpstreamError(
                f"Ashby rejected {method} ({code or 'no error code'}){detail}",
                connector=CONNECTOR, status_code=status, code=code,
            )
        return body.get("results")
