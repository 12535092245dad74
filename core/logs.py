"""Logging set-up and the per-call log line of connector routes."""

from __future__ import annotations

import logging
import time

from pythonjsonlogger.json import JsonFormatter
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("core.inbound")


# httpcore's DEBUG records include whole response headers, such as Set-Cookie.
TRANSPORT_LOGGERS = ("httpcore", "hpack", "h11")


def quiet_transport_loggers() -> None:
    """Keep the HTTP transport libraries at INFO or above, whatever the root level."""
    for name in TRANSPORT_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)


def configure_logging(level: str = "INFO", log_format: str = "text") -> None:
    """Send log records to standard error; called by the entry points only.

    ``log_format="json"`` writes one JSON object per record, with the ids a record carries
    in ``extra`` (connector, workspace_id, assessment_id, delivery_id...) as fields.
    """
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", rename_fields={"levelname": "level"}))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    quiet_transport_loggers()


class ConnectorCallLogger:
    """ASGI middleware that logs one line per call to a connector route.

    The line names the connector, the workspace the key selected (set by
    ``Host.authenticate_ats`` on ``request.state``), the route, the status and the time
    taken. Headers and bodies are never logged, since they carry keys and candidate data.
    When the ``core.inbound`` logger is above INFO, calls pass through untimed.
    """

    def __init__(self, app: ASGIApp, connector: str) -> None:
        self.app = app
        self.connector = connector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        if not logger.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        status = 500
        scope.setdefault("state", {})

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        except HTTPException as exc:
            # Unmatched paths and methods inside the mount raise; the app's handler answers them.
            status = exc.status_code
            raise
        finally:
            workspace = scope["state"].get("workspace_id", "-")
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            route = scope.get("path", "")
            logger.info(
                "inbound connector=%s workspace=%s route=%s status=%s duration_ms=%.1f",
                self.connector, workspace, route, status, duration_ms,
                extra={"connector": self.connector, "workspace_id": workspace, "route": route, "status": status,
                       "duration_ms": duration_ms},
            )
