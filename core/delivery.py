"""The delivery worker: pushes queued updates to the ATS and sends queued email.

Each ``Delivery`` row is written in the transaction that changed the assessment, so an
update is never lost between the state change and the push. The worker delivers the rows
of one assessment in order, retries failures that retrying can fix with exponential
backoff and jitter (honouring ``Retry-After``), and marks a row ``failed`` when the ATS
rejects it for good or its attempts run out. Failed rows stay visible in settings, where
an admin can retry them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from typing import TYPE_CHECKING

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .exceptions import CredentialRejected, UpstreamError
from .models import Assessment, Delivery, Email, Integration, utcnow
from .types import AssessmentUpdate, CategoryScore

if TYPE_CHECKING:
    from .host import Host

logger = logging.getLogger(__name__)

BATCH_SIZE = 50
EMAIL_MAX_ATTEMPTS = 5
ONE_MS = dt.timedelta(milliseconds=1)


def report_url(public_url: str, assessment_id: str) -> str:
    return f"{public_url}/reports/{assessment_id}"


def backoff_delay(attempts: int, base: float, maximum: float, retry_after: float | None = None) -> float:
    """Return the seconds to wait before the next attempt: exponential, with full jitter."""
    delay = min(maximum, base * 2 ** max(attempts - 1, 0))
    delay = random.uniform(delay / 2, delay)
    if retry_after is not None:
        delay = max(delay, min(retry_after, maximum))
    return delay


def build_update(public_url: str, delivery: Delivery, assessment: Assessment, not_before: dt.datetime | None) -> AssessmentUpdate:
    """Turn a queued delivery into the update a connector pushes.

    ``not_before`` is the time of the last update delivered for the assessment; the
    update's time is moved past it so the ATS sees increasing timestamps.
    """
    occurred_at = delivery.occurred_at
    if not_before is not None and occurred_at <= not_before:
        occurred_at = not_before + ONE_MS

    update = AssessmentUpdate(
        assessment_id=assessment.id,
        event=delivery.event,
        occurred_at=occurred_at,
        report_url=report_url(public_url, assessment.id),
    )
    if delivery.event == "completed":
        categories = tuple(CategoryScore(**item) for item in assessment.category_scores or [])
        update = AssessmentUpdate(
            assessment_id=update.assessment_id,
            event=update.event,
            occurred_at=occurred_at,
            report_url=update.report_url,
            score=assessment.score,
            max_score=assessment.max_score,
            category_scores=categories,
            duration_minutes=assessment.duration_minutes,
        )
    return update


class DeliveryWorker:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.settings = host.settings

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, polling every ``delivery_poll_interval`` seconds."""
        logger.info("delivery worker started")
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:
                logger.exception("delivery worker pass failed; trying again after the poll interval")
                done = 0
            if done == 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.delivery_poll_interval)
                except TimeoutError:
                    pass
        logger.info("delivery worker stopped")

    async def run_once(self) -> int:
        """Process every due email and delivery once; return how many were attempted."""
        return await self._send_emails() + await self._push_deliveries()

    async def drain(self, timeout: float = 30.0) -> None:
        """Process until nothing is due; for the CLI and tests."""
        deadline = time.monotonic() + timeout
        while await self.run_once():
            if time.monotonic() > deadline:
                raise TimeoutError(f"deliveries still due after {timeout} s")

    # Deliveries

    async def _push_deliveries(self) -> int:
        async with self.host.session() as session:
            due = list(
                await session.scalars(
                    select(Delivery)
                    .where(Delivery.status == "pending", Delivery.next_attempt_at <= utcnow())
                    .order_by(Delivery.created_at)
                    .limit(BATCH_SIZE)
                )
            )
        attempted = 0
        blocked: set[str] = set()
        for delivery in due:
            if delivery.assessment_id in blocked:
                continue
            async with self.host.session() as session:
                delivery = await session.get(Delivery, delivery.id)
                if delivery is None or delivery.status != "pending":
                    continue
                if await self._has_earlier_pending(session, delivery):
                    blocked.add(delivery.assessment_id)
                    continue
                ok = await self._attempt(session, delivery)
                await session.commit()
                attempted += 1
                if not ok:
                    blocked.add(delivery.assessment_id)
        return attempted

    async def _has_earlier_pending(self, session: AsyncSession, delivery: Delivery) -> bool:
        earlier = await session.scalar(
            select(Delivery.id).where(
                Delivery.assessment_id == delivery.assessment_id,
                Delivery.status == "pending",
                Delivery.created_at < delivery.created_at,
            ).limit(1)
        )
        return earlier is not None

    async def _superseded(self, session: AsyncSession, delivery: Delivery) -> bool:
        """Return True when an update queued after ``delivery`` was already delivered."""
        later = await session.scalar(
            select(Delivery.id).where(
                Delivery.assessment_id == delivery.assessment_id,
                Delivery.status == "delivered",
                Delivery.created_at > delivery.created_at,
            ).limit(1)
        )
        return later is not None

    async def _last_delivered_at(self, session: AsyncSession, assessment_id: str) -> dt.datetime | None:
        return await session.scalar(
            select(Delivery.occurred_at)
            .where(and_(Delivery.assessment_id == assessment_id, Delivery.status == "delivered"))
            .order_by(Delivery.occurred_at.desc())
            .limit(1)
        )

    async def _attempt(self, session: AsyncSession, delivery: Delivery) -> bool:
        """Push one delivery and record the outcome on it; return True when delivered."""
        integration = await session.get(Integration, delivery.integration_id)
        assessment = await session.get(Assessment, delivery.assessment_id)
        now = utcnow()
        delivery.attempts += 1
        delivery.last_attempt_at = now

        if integration is None or assessment is None or integration.credential_encrypted is None:
            delivery.status = "failed"
            delivery.last_error = "The integration was disconnected; reconnect it and retry this delivery."
            logger.warning("delivery %s of assessment %s failed: integration disconnected", delivery.id, delivery.assessment_id)
            return False
        if delivery.connector not in self.host.hooks.connectors:
            delivery.status = "failed"
            delivery.last_error = f"The connector {delivery.connector!r} is not enabled on this server."
            logger.warning("delivery %s failed: connector %s not enabled", delivery.id, delivery.connector)
            return False

        if await self._superseded(session, delivery):
            delivery.status = "skipped"
            delivery.last_error = "A newer update of this assessment was already delivered."
            logger.info("delivery %s (%s) of assessment %s skipped: a newer update was delivered",
                        delivery.id, delivery.event, assessment.id)
            return True

        last = await self._last_delivered_at(session, assessment.id)
        update = build_update(self.settings.public_url, delivery, assessment, last)
        delivery.occurred_at = update.occurred_at
        context = self.host.connector_context(delivery.connector, delivery.workspace_id, integration.id)
        started = time.perf_counter()
        try:
            await self.host.hooks.push_update(
                delivery.connector, context=context, credential=self.host.credential(integration), update=update
            )
        except CredentialRejected as exc:
            self._fail(delivery, exc)
            integration.status = "error"
            integration.error_message = exc.message
            return False
        except UpstreamError as exc:
            if exc.retryable and delivery.attempts < self.settings.delivery_max_attempts:
                self._schedule_retry(delivery, exc)
            else:
                self._fail(delivery, exc)
            return False
        except Exception as exc:
            logger.exception("delivery %s of assessment %s raised an unexpected error", delivery.id, assessment.id)
            delivery.last_error = f"unexpected error: {exc!r}"
            if delivery.attempts < self.settings.delivery_max_attempts:
                delivery.next_attempt_at = utcnow() + dt.timedelta(seconds=self._delay(delivery.attempts))
            else:
                delivery.status = "failed"
            return False

        delivery.status = "delivered"
        delivery.delivered_at = utcnow()
        delivery.last_error = None
        delivery.last_status_code = 200
        logger.info("delivery %s (%s) of assessment %s delivered in %.0f ms after %d attempt(s)", delivery.id,
                    delivery.event, assessment.id, (time.perf_counter() - started) * 1000, delivery.attempts)
        return True

    def _delay(self, attempts: int, retry_after: float | None = None) -> float:
        return backoff_delay(attempts, self.settings.delivery_backoff_base, self.settings.delivery_backoff_max, retry_after)

    def _schedule_retry(self, delivery: Delivery, exc: UpstreamError) -> None:
        delay = self._delay(delivery.attempts, exc.retry_after)
        delivery.next_attempt_at = utcnow() + dt.timedelta(seconds=delay)
        delivery.last_error = exc.message
        delivery.last_status_code = exc.status_code
        logger.warning("delivery %s of assessment %s failed (attempt %d): %s; retrying in %.1f s",
                       delivery.id, delivery.assessment_id, delivery.attempts, exc.message, delay)

    def _fail(self, delivery: Delivery, exc: UpstreamError) -> None:
        delivery.status = "failed"
        delivery.last_error = exc.message
        delivery.last_status_code = exc.status_code
        logger.error("delivery %s of assessment %s failed for good after %d attempt(s): %s",
                     delivery.id, delivery.assessment_id, delivery.attempts, exc.message)

    # Email

    async def _send_emails(self) -> int:
        async with self.host.session() as session:
            due = list(
                await session.scalars(
                    select(Email)
                    .where(Email.status == "pending", Email.next_attempt_at <= utcnow())
                    .order_by(Email.created_at)
                    .limit(BATCH_SIZE)
                )
            )
            for message in due:
                message.attempts += 1
                try:
                    await self.host.mail.send(message)
                except OSError as exc:
                    message.last_error = f"{type(exc).__name__}: {exc}"
                    if message.attempts >= EMAIL_MAX_ATTEMPTS:
                        message.status = "failed"
                        logger.error("email %s to %s failed for good: %s", message.id, message.recipient, message.last_error)
                    else:
                        delay = self._delay(message.attempts)
                        message.next_attempt_at = utcnow() + dt.timedelta(seconds=delay)
                        logger.warning("email %s failed (attempt %d): %s; retrying in %.1f s",
                                       message.id, message.attempts, message.last_error, delay)
                    continue
                message.status = "sent"
                message.sent_at = utcnow()
            await session.commit()
        return len(due)


async def retry_delivery(session: AsyncSession, workspace_id: str, delivery_id: str) -> Delivery | None:
    """Put a failed delivery back in the queue; return None when it is not in the workspace."""
    delivery = await session.get(Delivery, delivery_id)
    if delivery is None or delivery.workspace_id != workspace_id:
        return None
    if delivery.status == "failed":
        delivery.status = "pending"
        delivery.next_attempt_at = utcnow()
        logger.info("delivery %s queued again by an admin", delivery.id)
    return delivery
