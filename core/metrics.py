"""Prometheus metrics.

Counters and histograms live in each process. When several processes serve one
deployment, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder shared by them (the
standard ``prometheus_client`` multiprocess mode) and ``/metrics`` adds them up. The queue
gauges (depth, age of the oldest pending update, dead letters) are read from the database
at scrape time, so they are right whichever process answers.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from .models import Delivery, utcnow

REQUESTS = Counter(
    "langos_http_requests_total", "HTTP requests answered, by route template and status.", ["route", "method", "status"]
)
REQUEST_SECONDS = Histogram("langos_http_request_duration_seconds", "Time to answer an HTTP request.", ["route"])
DELIVERIES = Counter("langos_deliveries_total", "Delivery attempts to an ATS, by connector and outcome.", ["connector", "outcome"])
RETRIES = Counter("langos_delivery_retries_total", "Delivery attempts that failed and were scheduled again.", ["connector"])
DEAD_LETTERS = Counter("langos_dead_letters_total", "Deliveries that were given up on and dead-lettered.", ["connector"])
PUSH_SECONDS = Histogram("langos_delivery_push_duration_seconds", "Time of one push to an ATS.", ["connector"])


async def queue_gauges(host) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Return the delivery queue's depth, dead letters and the age of the oldest pending update."""
    async with host.session() as session:
        counts = dict((await session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))).all())
        oldest = await session.scalar(select(func.min(Delivery.created_at)).where(Delivery.status == "pending"))
    age = 0.0
    if oldest is not None:
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=utcnow().tzinfo)
        age = max(0.0, (utcnow() - oldest).total_seconds())
    return {
        "langos_delivery_queue_depth": float(counts.get("pending", 0)),
        "langos_delivery_dead_letters": float(counts.get("failed", 0)),
        "langos_delivery_oldest_pending_age_seconds": age,
    }


GAUGE_HELP = {
    "langos_delivery_queue_depth": "Deliveries waiting to be pushed.",
    "langos_delivery_dead_letters": "Deliveries dead-lettered and not yet retried.",
    "langos_delivery_oldest_pending_age_seconds": "Age of the oldest pending delivery, in seconds.",
}


def _registry() -> CollectorRegistry | None:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


async def metrics_endpoint(request: Request) -> Response:
    registry = _registry()
    body = generate_latest(registry) if registry is not None else generate_latest()
    lines = []
    for name, value in (await queue_gauges(request.app.state.host)).items():
        lines += [f"# HELP {name} {GAUGE_HELP[name]}", f"# TYPE {name} gauge", f"{name} {value}"]
    return Response(body + ("\n".join(lines) + "\n").encode(), media_type=CONTENT_TYPE_LATEST)


class RequestMetrics:
    """ASGI middleware that counts requests by route template, method and status.

    The label is the matched route's path template (``/reports/{assessment_id}``), never the
    raw path, so ids and tokens do not become label values; unmatched paths count as ``other``.
    """

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        # The labelled children, looked up once per label set because ``labels()`` validates
        # and takes a lock on every call. These tables hold the same label sets as the metrics.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[str, Any] = {}

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        status = 500

        async def send_with_status(message) -> None:  # type: ignore[no-untyped-def]
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None)
            label = (scope.get("root_path", "") + template) if template is not None else "other"
            key = (label, scope["method"], status)
            counter = self._counters.get(key)
            if counter is None:
                counter = self._counters[key] = REQUESTS.labels(label, scope["method"], str(status))
            timer = self._timers.get(label)
            if timer is None:
                timer = self._timers[label] = REQUEST_SECONDS.labels(label)
            counter.inc()
            timer.observe(time.perf_counter() - started)
