"""The audit log: one row per security-relevant action, written in the action's transaction."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from .models import AuditEvent

logger = logging.getLogger(__name__)


def record(
    session: AsyncSession,
    *,
    workspace_id: str | None,
    actor: str,
    action: str,
    target: str | None = None,
    client_address: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the caller's transaction; ``detail`` must hold no secret."""
    event = AuditEvent(
        workspace_id=workspace_id, actor=actor, action=action, target=target, client_address=client_address, detail=detail
    )
    session.add(event)
    logger.info("audit workspace=%s actor=%s action=%s target=%s from=%s",
                workspace_id or "-", actor, action, target or "-", client_address or "-")
    return event
