"""A bare Starlette app that answers assessment.list and assessment.start with the same JSON as
Langos, without authentication or a database: the ceiling the webhook benchmark compares to."""

from __future__ import annotations

import json
import os
import uuid

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

LIST_RESULTS = json.loads(os.environ.get("BARE_LIST_RESULTS", "[]"))


async def assessment_list(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"success": True, "results": LIST_RESULTS})


async def assessment_start(request: Request) -> JSONResponse:
    await request.json()
    return JSONResponse({"success": True, "results": {"assessment_id": str(uuid.uuid4())}})


app = Starlette(
    routes=[
        Route("/api/ats/webhook/assessment.list", assessment_list, methods=["POST"]),
        Route("/api/ats/webhook/assessment.start", assessment_start, methods=["POST"]),
        Route("/healthz", lambda request: JSONResponse({"status": "ok"})),
    ]
)
