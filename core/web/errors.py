"""Error pages: a 404 and a 500 that never show a traceback or a secret."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from .security import SECURITY_HEADERS

logger = logging.getLogger(__name__)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if _wants_json(request):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    return request.app.state.templates.TemplateResponse(
        request, "error.html", {"status": exc.status_code, "message": exc.detail, "user": None},
        status_code=exc.status_code, headers=exc.headers,
    )


async def server_error(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error on %s %s: %r", request.method, request.url.path, exc, exc_info=exc)
    # Starlette answers from outside the middleware stack here, so the headers are added by hand.
    headers = dict(SECURITY_HEADERS)
    if _wants_json(request):
        return JSONResponse({"error": "Internal error; the server log has the details."}, status_code=500, headers=headers)
    return HTMLResponse("<h1>Something went wrong</h1><p>The server log has the details.</p>", status_code=500,
                        headers=headers)


def handlers() -> dict[Any, Any]:
    return {HTTPException: http_error, 500: server_error}
