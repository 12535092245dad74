"""The HTTP client that plays Ashby's side of the partner calls to Langos.

Ashby joins the partner's base URL and the method name, so the calls go to
``{base}/assessment.list``, ``{base}/assessment.start`` and ``{base}/assessment.cancel``.
Each call sends the Langos-issued key as the HTTP Basic username with an empty password
and a JSON body, and is recorded in ``state.langos_calls`` with its response.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from .seed import Candidate
from .state import FakeAshbyState, LangosCall, utc_now

logger = logging.getLogger(__name__)

USER_AGENT = "FakeAshby/1.0"
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_TEXT_BODY = 2000


class LangosNotConfigured(Exception):
    """The Langos base URL or API key is not set, so no call can be sent."""


class LangosClient:
    """Sends ``assessment.*`` calls to the Langos instance configured in the state.

    ``open`` creates one ``httpx.AsyncClient`` for the app's lifetime. Without it, as
    under ``httpx.ASGITransport``, which runs no lifespan, each call uses a short-lived
    client. ``transport`` replaces the network, for example with an ASGI app in tests.
    A short-lived client closes the transport after each call, so pass one that can be
    reused after closing, such as ``httpx.ASGITransport`` or ``httpx.MockTransport``.
    """

    def __init__(self, state: FakeAshbyState, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._state = state
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    async def open(self) -> None:
        """Create the shared HTTP client."""
        self._http = self._new_http_client()

    async def aclose(self) -> None:
        """Close the shared HTTP client, if one is open."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def post(self, endpoint: str, body: dict[str, Any]) -> LangosCall:
        """Send ``body`` to ``{base}/{endpoint}`` and record the call.

        Raises LangosNotConfigured when the base URL or key is missing. A network error or
        timeout does not raise: the recorded call has ``status`` None and ``error`` set.
        """
        state = self._state
        if not state.langos_configured:
            raise LangosNotConfigured(
                "The Langos connection is not set up: enter the Langos base URL and API key first."
            )

        url = f"{state.langos_base_url.rstrip('/')}/{endpoint}"
        sent_at = utc_now()
        started = time.perf_counter()
        status: int | None = None
        response_body: Any = None
        error: str | None = None
        try:
            async with self._http_client() as http:
                response = await http.post(url, json=body, auth=(state.langos_api_key, ""))
            status = response.status_code
            response_body = _decode_body(response)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = (
                f"Could not reach Langos at {url}: {type(exc).__name__}: {exc}. Check that Langos "
                "is running and that the base URL's host and port are correct."
            )
            logger.warning("Call to Langos %s failed: %s", endpoint, error)

        call = LangosCall(
            endpoint=endpoint,
            url=url,
            request_body=body,
            sent_at=sent_at,
            status=status,
            response_body=response_body,
            error=error,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        state.langos_calls.append(call)
        if status is not None:
            logger.info("Langos %s returned HTTP %s in %s ms", endpoint, status, call.duration_ms)
        return call

    @contextlib.asynccontextmanager
    async def _http_client(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._http is not None:
            yield self._http
            return

        async with self._new_http_client() as http:
            yield http

    def _new_http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self._transport,
            timeout=TIMEOUT,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )


def build_start_body(candidate: Candidate, assessment_type_id: str, ashby_base_url: str) -> dict[str, Any]:
    """Build the ``assessment.start`` body that Ashby sends for ``candidate``.

    Field names are snake_case except the items of ``job.hiringTeam``, which Ashby sends
    in camelCase. ``ashby_base_url`` is the fake's own address, so the profile and job
    links in the body lead back to the fake's page.
    """
    base = ashby_base_url.rstrip("/")
    job = candidate.job
    job_body: dict[str, Any] = {
        "ashby_id": job.ashby_id,
        "name": job.name,
        "ashby_job_url": f"{base}/#job-{job.ashby_id}",
        "hiringTeam": [
            {
                "userId": member.user_id,
                "firstName": member.first_name,
                "lastName": member.last_name,
                "email": member.email,
                "role": member.role,
            }
            for member in job.hiring_team
        ],
    }
    if job.req_id is not None:
        job_body["req_id"] = job.req_id

    return {
        "assessment_type_id": assessment_type_id,
        "candidate": {
            "ashby_id": candidate.ashby_id,
            "first_name": candidate.first_name,
            "last_name": candidate.last_name,
            # NOTE: Ashby's docs mark email as required and do not say what Ashby sends for a
            # candidate without one. The fake sends null.
            "email": candidate.email,
            "ashby_profile_url": f"{base}/#candidate-{candidate.ashby_id}",
        },
        "application": {"ashby_id": candidate.application_id, "status": candidate.application_status},
        "job": job_body,
    }


def _decode_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:MAX_TEXT_BODY]
