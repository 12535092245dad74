"""The candidate's invitation after it is sent: expiry, reminders, and an admin's resend, extend and cancel.

An invitation is open while its assessment is ``invited``. The delivery worker expires
invitations whose ``expires_at`` has passed and reminds candidates who have not started
shortly before that time. Admins resend, extend or cancel an invitation from the report
page or the CLI. Each change of state is written with its timeline event and, when the ATS
must learn of it, with the ``Delivery`` row that carries it there.

The candidate's link contains a token that Langos stores only as a digest, so every email
that carries a link (a reminder, a resent or reopened invitation) carries a new token, and
the link in earlier emails stops working.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .crypto import hash_token, new_token
from .engine import (
    MAX_EXPIRY_DAYS,
    OPEN_STATUSES,
    cancel_pending_emails,
    expire_invitation,
    invitation_past_expiry,
    queue_delivery,
    record_event,
)
from .exceptions import Conflict, RequestValidationError
from .mail import queue_candidate_email
from .models import Assessment, Email, utcnow

logger = logging.getLogger(__name__)

# How many assessments one pass of the sweep or of the reminders handles at most.
BATCH_SIZE = 200
MAX_REASON_LENGTH = 500


@dataclasses.dataclass(frozen=True)
class Extension:
    """The outcome of extending an invitation."""

    expires_at: dt.datetime
    reopened: bool


def candidate_link(public_url: str, token: str) -> str:
    return f"{public_url}/take/{token}"


def _issue_token(assessment: Assessment, public_url: str) -> str:
    """Give ``assessment`` a new candidate token and return the new link; earlier links stop working."""
    token = new_token()
    assessment.candidate_token_digest = hash_token(token)
    return candidate_link(public_url, token)


# ---- the worker's sweeps ------------------------------------------------------------------


async def expire_due(session: AsyncSession, now: dt.datetime | None = None, *, limit: int = BATCH_SIZE) -> int:
    """Expire invited assessments whose ``expires_at`` has passed; return how many. The caller commits.

    Started assessments are left alone: their time limit governs them. Each row changes
    through a conditional UPDATE, so two workers never expire the same assessment twice.
    """
    now = now or utcnow()
    due = await session.scalars(
        select(Assessment)
        .where(Assessment.status == "invited", Assessment.expires_at <= now)
        .order_by(Assessment.expires_at)
        .limit(limit)
    )
    expired = 0
    for assessment in list(due):
        if await expire_invitation(session, assessment, now=now):
            expired += 1
    return expired


def reminder_lead(assessment: Assessment, threshold: dt.timedelta) -> dt.timedelta:
    """Return how long before ``expires_at`` the reminder is due.

    It is ``threshold``, unless the invitation was valid for less than twice that: then the
    reminder goes out halfway through, so it never arrives right after the invitation.
    """
    if assessment.expires_at is None:
        return dt.timedelta(0)
    window = assessment.expires_at - assessment.created_at
    return window / 2 if window < 2 * threshold else threshold


async def send_due_reminders(
    session: AsyncSession,
    now: dt.datetime | None = None,
    *,
    public_url: str,
    threshold: dt.timedelta,
    limit: int = BATCH_SIZE,
) -> int:
    """Queue one reminder for each unstarted invitation that expires soon; return how many. The caller commits.

    An invitation gets a reminder once its invitation email was sent, when less than
    ``reminder_lead`` is left. The reminder carries a new link, so the link in the
    invitation stops working. A ``threshold`` of zero turns reminders off.
    """
    if threshold <= dt.timedelta(0):
        return 0
    now = now or utcnow()
    invitation_sent = exists().where(
        Email.assessment_id == Assessment.id, Email.kind == "invitation", Email.status == "sent"
    )
    candidates = await session.scalars(
        select(Assessment)
        .where(
            Assessment.status == "invited",
            Assessment.reminder_sent_at.is_(None),
            Assessment.invitation_status != "failed",
            Assessment.expires_at > now,
            Assessment.expires_at < now + threshold,
            invitation_sent,
        )
        .order_by(Assessment.expires_at)
        .limit(limit)
    )
    sent = 0
    for assessment in list(candidates):
        if assessment.expires_at - now >= reminder_lead(assessment, threshold):
            continue
        if await _remind(session, assessment, now, public_url):
            sent += 1
    return sent


async def _remind(session: AsyncSession, assessment: Assessment, now: dt.datetime, public_url: str) -> bool:
    token = new_token()
    # The condition on reminder_sent_at makes a second worker's UPDATE match no row.
    result = await session.execute(
        update(Assessment)
        .where(Assessment.id == assessment.id, Assessment.status == "invited", Assessment.reminder_sent_at.is_(None))
        .values(reminder_sent_at=now, candidate_token_digest=hash_token(token))
        .execution_options(synchronize_session=False)
    )
    await session.refresh(assessment)
    if result.rowcount != 1:
        return False

    # The worker records the reminder_sent timeline event once the email has gone out.
    await queue_candidate_email(session, assessment, "reminder", candidate_link(public_url, token))
    logger.info("reminder queued for assessment %s, whose invitation expires at %s",
                assessment.id, assessment.expires_at.isoformat())
    return True


# ---- an admin's actions -------------------------------------------------------------------


def parse_days(raw: Any) -> int:
    """Return the number of days to extend by; raise ``RequestValidationError`` naming ``days`` otherwise."""
    text = str(raw).strip() if raw is not None else ""
    if not text.isdigit() or not 1 <= int(text) <= MAX_EXPIRY_DAYS:
        truncated = text if len(text) <= 20 else text[:20] + "…"
        raise RequestValidationError(
            f"Days to add must be a whole number from 1 to {MAX_EXPIRY_DAYS}, not {truncated!r}. "
            "Enter the number of days to move the expiry by.",
            field="days",
        )
    return int(text)


def parse_reason(raw: Any) -> str:
    """Return the cancellation reason, stripped; raise ``RequestValidationError`` naming ``reason`` otherwise."""
    reason = " ".join(str(raw).split()) if raw is not None else ""
    if not reason:
        raise RequestValidationError(
            "The reason is missing. Say why the assessment is cancelled; the ATS shows it to the recruiter.",
            field="reason",
        )
    if len(reason) > MAX_REASON_LENGTH:
        raise RequestValidationError(
            f"The reason has {len(reason)} characters; shorten it to at most {MAX_REASON_LENGTH}.", field="reason"
        )
    return reason


async def resend(session: AsyncSession, assessment: Assessment, *, public_url: str, actor: str) -> None:
    """Send the invitation again with a new link; the link in earlier emails stops working. The caller commits."""
    if assessment.status != "invited":
        raise Conflict(f"Only an invitation the candidate has not started can be resent; this assessment is {assessment.status}.")
    if invitation_past_expiry(assessment, utcnow()):
        raise Conflict("The invitation has expired. Extend it instead, which sends a new invitation.")

    link = _issue_token(assessment, public_url)
    await queue_candidate_email(session, assessment, "invitation", link)
    record_event(session, assessment, "invitation_resent", {"by": actor, "email": assessment.candidate_email})
    logger.info("invitation of assessment %s resent by %s", assessment.id, actor)


async def extend(
    session: AsyncSession, assessment: Assessment, days: int, *, public_url: str, actor: str
) -> Extension:
    """Move the invitation's expiry ``days`` later, counted from now or from the current expiry, whichever is later.

    An expired invitation is reopened and sent again with a new link, unless the ATS has
    ordered a newer assessment of the same type for the same application: that one is the
    open order then. A still-open invitation keeps its link. Either way an ``invited``
    update with the new expiry is queued for the ATS. The caller commits.
    """
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise RequestValidationError(f"Days to add must be from 1 to {MAX_EXPIRY_DAYS}, not {days!r}.", field="days")
    if assessment.status == "started":
        raise Conflict("The candidate has started, so the time limit applies and the invitation's expiry no longer does.")
    if assessment.status not in ("invited", "expired"):
        raise Conflict(f"Only an open or expired invitation can be extended; this assessment is {assessment.status}.")

    # An invitation past its expiry that the sweep has not reached yet is simply extended,
    # and its link works again.
    now = utcnow()
    reopened = assessment.status == "expired"
    if reopened:
        await _check_no_newer_order(session, assessment)

    expires_at = max(now, assessment.expires_at or now) + dt.timedelta(days=days)
    assessment.expires_at = expires_at
    assessment.reminder_sent_at = None
    if reopened:
        assessment.status = "invited"
        assessment.expired_at = None
        assessment.cancelled_reason = None
        await _flush_reopened(session, assessment)
        await queue_candidate_email(session, assessment, "invitation", _issue_token(assessment, public_url))

    record_event(session, assessment, "extended", {"by": actor, "days": days, "expires_at": expires_at.isoformat()}, at=now)
    await queue_delivery(session, assessment, "invited", now)
    logger.info("invitation of assessment %s extended by %s days to %s by %s%s", assessment.id, days,
                expires_at.isoformat(), actor, " and reopened" if reopened else "")
    return Extension(expires_at=expires_at, reopened=reopened)


async def _check_no_newer_order(session: AsyncSession, assessment: Assessment) -> None:
    newer = await session.scalar(
        select(Assessment.id).where(
            Assessment.integration_id == assessment.integration_id,
            Assessment.external_application_id == assessment.external_application_id,
            Assessment.assessment_type_id == assessment.assessment_type_id,
            Assessment.id != assessment.id,
            Assessment.status.not_in(("cancelled", "expired")),
        )
    )
    if newer is not None:
        raise Conflict(
            f"The ATS has ordered a newer assessment ({newer}) of this type for this application, "
            "so this expired one cannot be reopened. Extend or resend the newer one instead."
        )


async def _flush_reopened(session: AsyncSession, assessment: Assessment) -> None:
    """Write the reopened status now, so a newer order created meanwhile fails here with a clear message."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(
            "The ATS ordered a newer assessment of this type for this application meanwhile, "
            "so this expired one cannot be reopened. Reload the page."
        ) from None


async def cancel(session: AsyncSession, assessment: Assessment, *, reason: str, actor: str) -> None:
    """Cancel an open assessment on an admin's behalf and queue the ``cancelled`` update. The caller commits.

    A candidate in the middle of the assessment can save or submit nothing afterwards.
    """
    reason = parse_reason(reason)
    if assessment.status not in OPEN_STATUSES:
        raise Conflict(f"Only an invited or started assessment can be cancelled; this assessment is {assessment.status}.")

    now = utcnow()
    text = f"Cancelled in Langos by {actor}: {reason}"
    result = await session.execute(
        update(Assessment)
        .where(Assessment.id == assessment.id, Assessment.status.in_(OPEN_STATUSES))
        .values(status="cancelled", cancelled_at=now, cancelled_reason=text)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(assessment)
    if result.rowcount != 1:
        raise Conflict(f"The assessment changed meanwhile and is now {assessment.status}. Reload the page.")

    record_event(session, assessment, "cancelled", {"by": actor, "reason": reason}, at=now)
    await cancel_pending_emails(session, assessment.id)
    await queue_delivery(session, assessment, "cancelled", now)
    logger.info("assessment %s cancelled in Langos by %s", assessment.id, actor)
