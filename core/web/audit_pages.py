"""Settings > Audit log: the workspace's security-relevant actions, on a page and as CSV."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import func, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..models import AdminUser, AuditEvent
from .common import current_user, get_host, login_redirect, render

PAGE_SIZE = 100
CSV_COLUMNS = ("at", "actor", "action", "target", "client_address", "detail")


async def _admin(request: Request, session) -> AdminUser | None:  # type: ignore[no-untyped-def]
    user = await current_user(request, session)
    if user is not None and user.role != "admin":
        raise HTTPException(403, "Only workspace admins can read the audit log.")
    return user


async def audit_page(request: Request) -> Response:
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    async with get_host(request).session() as session:
        user = await _admin(request, session)
        if user is None:
            return login_redirect(request)
        query = select(AuditEvent).where(AuditEvent.workspace_id == user.workspace_id)
        total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
        events = list(await session.scalars(
            query.order_by(AuditEvent.at.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        ))
        pages = max(1, -(-total // PAGE_SIZE))
        return render(request, "settings/audit.html", {"events": events, "page": page, "pages": pages, "total": total})


async def audit_csv(request: Request) -> Response:
    async with get_host(request).session() as session:
        user = await _admin(request, session)
        if user is None:
            return login_redirect(request)
        events = await session.scalars(
            select(AuditEvent).where(AuditEvent.workspace_id == user.workspace_id).order_by(AuditEvent.at)
        )
        output = io.StringIO()
        writer = csv.writer(output)
        writer.writerow(CSV_COLUMNS)
        for event in events:
            writer.writerow([
                event.at.isoformat(), event.actor, event.action, event.target or "", event.client_address or "",
                json.dumps(event.detail, sort_keys=True) if event.detail else "",
            ])
    return Response(
        output.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="langos-audit-log.csv"', "Cache-Control": "no-store"},
    )


def routes() -> list[Route]:
    return [
        Route("/settings/audit", audit_page, methods=["GET"], name="audit"),
        Route("/settings/audit.csv", audit_csv, methods=["GET"], name="audit_csv"),
    ]
