"""The effects of a candidate email's delivery on the assessment's invitation state, its timeline and the ATS.

The delivery worker calls these in the transaction that marks the ``Email`` row sent or
failed, so the email's state, the assessment's ``invitation_status``, the timeline event
and the ``Delivery`` row for the ATS change together.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.ext.asyncio import AsyncSession

from .engine import queue_delivery, record_event
from .models import Assessment, Email

logger = logging.getLogger(__name__)

# Email kinds that concern a candidate's assessment; other emails (an admin's invitation
# to a workspace) change no assessment.
CANDIDATE_KINDS = frozenset({"invitation", "reminder"})


async def _assessment_of(session: AsyncSession, message: Email) -> Assessment | None:
    if message.assessment_id is None or message.kind not in CANDIDATE_KINDS:
        return None
    return await session.get(Assessment, message.assessment_id)


async def record_email_sent(session: AsyncSession, message: Email, now: dt.datetime) -> None:
    """Mark the assessment's email sent and record ``invitation_sent`` or ``reminder_sent``.

    A sent invitation of an assessment that is still ``invited`` also queues the
    ``invited`` update for the ATS.
    """
    assessment = await _assessment_of(session, message)
    if assessment is None:
        return

    assessment.invitation_status = "sent"
    assessment.invitation_error = None
    record_event(session, assessment, f"{message.kind}_sent", {"email": message.recipient}, at=now)
    if message.kind == "invitation" and assessment.status == "invited":
        await queue_delivery(session, assessment, "invited", now)


async def record_email_failed(session: AsyncSession, message: Email, reason: str, now: dt.datetime) -> None:
    """Mark the assessment's email failed, record ``invitation_failed`` and tell the ATS.

    ``reason`` is stored as ``invitation_error`` and sent to the ATS, so it must be a
    plain sentence without credentials. The ATS update is queued only while the
    assessment is ``invited``, because a started or closed assessment no longer waits
    for the email.
    """
    assessment = await _assessment_of(session, message)
    if assessment is None:
        return

    assessment.invitation_status = "failed"
    assessment.invitation_error = reason
    record_event(
        session, assessment, "invitation_failed", {"email": message.recipient, "kind": message.kind, "reason": reason},
        at=now,
    )
    if assessment.status == "invited":
        await queue_delivery(session, assessment, "invitation_failed", now)
    logger.warning("the %s email of assessment %s failed: %s", message.kind, assessment.id, reason)
