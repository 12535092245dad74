"""The delivery worker: pushes queued updates to the ATS and sends queued email.

Each ``Delivery`` row (the outbox) is written in the transaction that changed the
assessment, so an update cannot be lost between the state change and the push. Workers,
in the server process or in ``langos worker`` processes, claim due rows for a lease
(``claimed_until``); a worker that dies leaves its claims to expire and another takes
them over. Delivery is at least once: a worker killed after the ATS accepted an update
but before recording it delivers it again.

The rows of one assessment go out in ``sequence`` order. Failures that retrying can fix
(timeouts, connection errors, 429, 5xx) are retried with exponential backoff and full
jitter, honouring ``Retry-After``, until the attempts or the retry window run out; then
the row is dead-lettered (``failed``), never deleted. A rejected credential pauses the
integration ("Needs attention") with its updates kept waiting until the admin replaces the
key or resumes; an update the ATS rejects as invalid is dead-lettered and also pauses it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
import random
import socket
import time
from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload

from . import metrics
from .email_outcomes import record_email_failed, record_email_sent
from .engine import complete_overdue
from .invitations import expire_due, send_due_reminders
from .exceptions import CredentialRejected, UpstreamError
from .models import Assessment, Delivery, DeliveryAttempt, Email, Integration, utcnow
from .mail import MailDeliveryError
from .crypto import Secret
from .types import AssessmentUpdate, CategoryScore

if TYPE_CHECKING:
    from .host import Host

logger = logging.getLogger(__name__)

EMAIL_MAX_ATTEMPTS = 5
OVERDUE_SWEEP_SECONDS = 30.0
INVITATION_SWEEP_SECONDS = 30.0
# Updates that describe an open invitation or a running assessment, which a terminal update outranks.
NON_TERMINAL_EVENTS = frozenset({"invited", "invitation_failed", "started"})
TERMINAL_EVENTS = frozenset({"completed", "cancelled", "expired"})
ONE_MS = dt.timedelta(milliseconds=1)


def report_url(public_url: str, assessment_id: str) -> str:
    return f"{public_url}/reports/{assessment_id}"


def backoff_delay(attempts: int, base: float, maximum: float, retry_after: float | None = None) -> float:
    """Return the seconds to wait before the next attempt: exponential, with full jitter.

    ``Retry-After`` from the ATS is a floor, capped at ``maximum``.
    """
    ceiling = min(maximum, base * 2 ** max(attempts - 1, 0))
    delay = random.uniform(0, ceiling)
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

    fields: dict = {}
    if delivery.event == "invited":
        fields = {"expires_at": assessment.expires_at}
    elif delivery.event == "invitation_failed":
        fields = {"message": assessment.invitation_error}
    elif delivery.event == "completed":
        fields = {
            "score": assessment.score,
            "max_score": assessment.max_score,
            "category_scores": tuple(CategoryScore(**item) for item in assessment.category_scores or []),
            "duration_minutes": assessment.duration_minutes,
            "passed": assessment.passed,
            "pass_mark": assessment.pass_mark,
        }
    elif delivery.event in ("cancelled", "expired"):
        fields = {"cancelled_reason": assessment.cancelled_reason}
    return AssessmentUpdate(
        assessment_id=assessment.id,
        event=delivery.event,
        occurred_at=occurred_at,
        report_url=report_url(public_url, assessment.id),
        **fields,
    )


def _outranked(delivery: Delivery, siblings: list[Delivery], assessment: Assessment) -> bool:
    """Return whether ``delivery`` reports an open state that an earlier terminal update of a closed assessment ended.

    An invitation email sent after an admin cancelled would otherwise queue an ``invited``
    update behind the ``cancelled`` one. A reopened invitation is ``invited`` again, so
    its update goes out.
    """
    if delivery.event not in NON_TERMINAL_EVENTS or assessment.status not in TERMINAL_EVENTS:
        return False
    return any(row.event in TERMINAL_EVENTS and row.sequence < delivery.sequence for row in siblings)


@dataclasses.dataclass
class PlannedDelivery:
    """A claimed delivery picked for this pass, with what it needs to be pushed."""

    delivery: Delivery
    integration: Integration | None
    prepared: AssessmentUpdate | Outcome


@dataclasses.dataclass
class Outcome:
    """The result of one attempt, recorded on the delivery and as a ``DeliveryAttempt``."""

    outcome: str
    summary: str
    status_code: int | None = None
    retry_after: float | None = None
    pause_message: str | None = None
    sent_occurred_at: dt.datetime | None = None


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class DeliveryWorker:
    """Claims due deliveries and emails and pushes them, ``concurrency`` assessments at a time."""

    def __init__(self, host: Host, *, name: str | None = None, concurrency: int = 16, batch_size: int = 200) -> None:
        self.host = host
        self.settings = host.settings
        self.name = name or default_worker_name()
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.lease = dt.timedelta(seconds=self.settings.delivery_lease_seconds)
        self._credentials: dict[str, tuple[str, Secret]] = {}
        self._last_sweep = float("-inf")
        self._last_invitation_sweep = float("-inf")

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, polling every ``delivery_poll_interval`` seconds when idle."""
        logger.info("delivery worker %s started", self.name)
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:
                logger.exception("delivery worker %s pass failed; trying again after the poll interval", self.name)
                done = 0
            if done == 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.delivery_poll_interval)
                except TimeoutError:
                    pass
        logger.info("delivery worker %s stopped", self.name)

    async def run_once(self) -> int:
        """Run the sweeps, then process due emails and one batch of deliveries.

        The sweeps complete overdue assessments, expire invitations and queue reminders.

        Return how many emails and deliveries were attempted.
        """
        await self._complete_overdue()
        await self._sweep_invitations()
        return await self._send_emails() + await self._push_deliveries()

    async def _complete_overdue(self) -> None:
        """Complete, at most every ``OVERDUE_SWEEP_SECONDS``, assessments whose time limit passed."""
        if time.monotonic() - self._last_sweep < OVERDUE_SWEEP_SECONDS:
            return
        self._last_sweep = time.monotonic()
        async with self.host.session() as session:
            try:
                done = await complete_overdue(session)
                await session.commit()
            except IntegrityError:
                # Another worker or the candidate's own request completed one of them first.
                await session.rollback()
                logger.info("overdue sweep lost a race with another completion; the next sweep retries")
                return
        if done:
            logger.info("completed %d assessment(s) whose time limit had passed", done)

    async def _sweep_invitations(self) -> None:
        """Expire invitations and queue reminders, at most every ``INVITATION_SWEEP_SECONDS``."""
        if time.monotonic() - self._last_invitation_sweep < INVITATION_SWEEP_SECONDS:
            return
        self._last_invitation_sweep = time.monotonic()
        threshold = dt.timedelta(hours=self.settings.reminder_hours)
        async with self.host.session() as session:
            try:
                expired = await expire_due(session)
                reminded = await send_due_reminders(session, public_url=self.settings.public_url, threshold=threshold)
                await session.commit()
            except IntegrityError:
                # A candidate's request or an admin queued an update of the same assessment first.
                await session.rollback()
                logger.info("invitation sweep lost a race with another change; the next sweep retries")
                return
        if expired or reminded:
            logger.info("expired %d invitation(s) and queued %d reminder(s)", expired, reminded)

    async def drain(self, timeout: float = 30.0) -> None:
        """Process until nothing is due; for the CLI and tests."""
        deadline = time.monotonic() + timeout
        while await self.run_once():
            if time.monotonic() > deadline:
                raise TimeoutError(f"deliveries still due after {timeout} s")

    # Claiming

    async def _claim(self, session: AsyncSession, model: type, ready: list) -> list[str]:
        """Claim due rows of ``model`` for this worker's lease; return the ids claimed."""
        now = utcnow()
        claimable = and_(model.status == "pending", or_(model.claimed_until.is_(None), model.claimed_until < now))
        query = select(model.id).where(claimable, model.next_attempt_at <= now, *ready)
        query = query.order_by(model.next_attempt_at).limit(self.batch_size)
        if session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=model)
        ids = list(await session.scalars(query))
        if not ids:
            await session.rollback()
            return []

        lease_until = now + self.lease
        await session.execute(
            update(model)
            .where(model.id.in_(ids), claimable)
            .values(claimed_by=self.name, claimed_until=lease_until)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
        mine = await session.scalars(
            select(model.id).where(model.id.in_(ids), model.claimed_by == self.name, model.claimed_until == lease_until)
        )
        return list(mine)

    # Deliveries
    #
    # One pass: claim a batch, read everything it needs in one transaction, push without
    # holding a transaction, and record every outcome in one more. Only the first pending
    # update of each assessment goes out in a pass, so the ATS receives them in order.

    async def _push_deliveries(self) -> int:
        async with self.host.session() as session:
            ready = [Delivery.integration_id.in_(select(Integration.id).where(Integration.status != "error"))]
            ids = await self._claim(session, Delivery, ready)
            if not ids:
                return 0
            plan, release = await self._plan(session, ids)
            await session.commit()

        semaphore = asyncio.Semaphore(self.concurrency)

        async def push(item: PlannedDelivery) -> tuple[PlannedDelivery, Outcome, float]:
            if isinstance(item.prepared, Outcome):
                return item, item.prepared, 0.0
            async with semaphore:
                started = time.perf_counter()
                outcome = await self._push(item.delivery, item.integration, item.prepared)
                return item, outcome, (time.perf_counter() - started) * 1000

        outcomes = await asyncio.gather(*(push(item) for item in plan))
        await self._record(outcomes, release)
        return len(ids)

    async def _plan(self, session: AsyncSession, ids: list[str]) -> tuple[list[PlannedDelivery], list[str]]:
        """Pick the first pending update of each claimed assessment and build what to push.

        Returns the planned deliveries and the ids of claimed rows that wait for a later pass.
        """
        claimed = list(await session.scalars(select(Delivery).where(Delivery.id.in_(ids))))
        assessment_ids = {row.assessment_id for row in claimed}
        siblings: dict[str, list[Delivery]] = defaultdict(list)
        for row in await session.scalars(select(Delivery).where(Delivery.assessment_id.in_(assessment_ids))):
            siblings[row.assessment_id].append(row)
        assessments = {
            row.id: row
            for row in await session.scalars(
                select(Assessment).where(Assessment.id.in_(assessment_ids)).options(lazyload(Assessment.assessment_type))
            )
        }
        integration_ids = {row.integration_id for row in claimed}
        integrations = {
            row.id: row for row in await session.scalars(select(Integration).where(Integration.id.in_(integration_ids)))
        }

        plan: list[PlannedDelivery] = []
        release: list[str] = []
        mine = set(ids)
        for assessment_id, rows in siblings.items():
            rows.sort(key=lambda row: row.sequence)
            pending = [row for row in rows if row.status == "pending"]
            first = pending[0] if pending else None
            for row in pending:
                if row.id in mine and row is not first:
                    release.append(row.id)
            if first is None or first.id not in mine:
                continue
            integration = integrations.get(first.integration_id)
            prepared = self._prepare(first, rows, integration, assessments.get(assessment_id))
            plan.append(PlannedDelivery(delivery=first, integration=integration, prepared=prepared))
        return plan, release

    def _prepare(
        self, delivery: Delivery, siblings: list[Delivery], integration: Integration | None, assessment: Assessment | None
    ) -> AssessmentUpdate | Outcome:
        if integration is None or assessment is None or integration.credential_encrypted is None:
            return Outcome("failed", "The integration was disconnected; reconnect it, then retry this delivery.")
        if delivery.connector not in self.host.hooks.connectors:
            return Outcome("failed", f"The connector {delivery.connector!r} is not enabled on this server.")
        delivered = [row for row in siblings if row.status == "delivered"]
        if any(row.sequence > delivery.sequence for row in delivered):
            return Outcome("skipped", "A newer update of this assessment was already delivered.")
        if _outranked(delivery, siblings, assessment):
            return Outcome("skipped", f"The assessment is {assessment.status}; this update would overwrite that in the ATS.")
        last = max((row.occurred_at for row in delivered), default=None)
        return build_update(self.settings.public_url, delivery, assessment, last)

    async def _push(self, delivery: Delivery, integration: Integration, update_: AssessmentUpdate) -> Outcome:
        connector = delivery.connector
        context = self.host.connector_context(connector, delivery.workspace_id, integration.id)
        started = time.perf_counter()
        try:
            await self.host.hooks.push_update(
                connector, context=context, credential=self._credential(integration), update=update_
            )
        except CredentialRejected as exc:
            return Outcome("paused", exc.message, exc.status_code, pause_message=exc.message)
        except UpstreamError as exc:
            if exc.retryable:
                return Outcome("retry", exc.message, exc.status_code, retry_after=exc.retry_after)
            message = (
                f"The ATS rejected an update of assessment {delivery.assessment_id} as invalid ({exc.message}). "
                "The update was dead-lettered; resume deliveries once the cause is fixed."
            )
            return Outcome("failed", exc.message, exc.status_code, pause_message=message)
        except Exception as exc:
            logger.exception("delivery %s of assessment %s raised an unexpected error", delivery.id, delivery.assessment_id)
            return Outcome("retry", f"unexpected error: {type(exc).__name__}")
        finally:
            metrics.PUSH_SECONDS.labels(connector).observe(time.perf_counter() - started)
        return Outcome("delivered", "accepted", 200, sent_occurred_at=update_.occurred_at)

    def _credential(self, integration: Integration) -> Secret:
        """Decrypt the integration's credential once per stored value."""
        token = integration.credential_encrypted or ""
        cached = self._credentials.get(integration.id)
        if cached is None or cached[0] != token:
            cached = (token, self.host.credential(integration))
            self._credentials[integration.id] = cached
        return cached[1]

    async def _record(self, outcomes: list[tuple[PlannedDelivery, Outcome, float]], release: list[str]) -> None:
        """Write every outcome and attempt of a pass in one transaction, and release the other claims."""
        logged = []
        async with self.host.session() as session:
            if release:
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(release), Delivery.claimed_by == self.name)
                    .values(claimed_by=None, claimed_until=None)
                    .execution_options(synchronize_session=False)
                )
            paused: dict[str, str] = {}
            for item, outcome, duration_ms in outcomes:
                delivery = await session.merge(item.delivery, load=False)
                kind, next_attempt = self._apply(delivery, outcome)
                if outcome.pause_message is not None:
                    paused[delivery.integration_id] = outcome.pause_message
                session.add(DeliveryAttempt(
                    delivery_id=delivery.id, attempted_at=delivery.last_attempt_at, duration_ms=round(duration_ms, 1),
                    outcome=kind, status_code=outcome.status_code, summary=outcome.summary[:2000],
                    next_attempt_at=next_attempt, worker=self.name,
                ))
                logged.append((delivery, kind, outcome, duration_ms, next_attempt))
            for integration_id, message in paused.items():
                await self._pause(session, integration_id, message)
            await session.commit()

        for delivery, kind, outcome, duration_ms, next_attempt in logged:
            metrics.DELIVERIES.labels(delivery.connector, kind).inc()
            self._log(delivery, kind, outcome, duration_ms, next_attempt)

    def _apply(self, delivery: Delivery, outcome: Outcome) -> tuple[str, dt.datetime | None]:
        """Set the delivery's state from one attempt's outcome; return the final kind and the next attempt time."""
        now = utcnow()
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.last_status_code = outcome.status_code
        delivery.claimed_by = None
        delivery.claimed_until = None
        kind = outcome.outcome
        window_over = now - delivery.queued_at > dt.timedelta(seconds=self.settings.delivery_retry_window_seconds)
        if kind == "retry" and (delivery.attempts >= self.settings.delivery_max_attempts or window_over):
            kind = "failed"
        next_attempt = None

        if kind == "delivered":
            delivery.status = "delivered"
            delivery.delivered_at = now
            delivery.last_error = None
            # The time sent, which may have been moved past an earlier update's, orders the next one.
            delivery.occurred_at = outcome.sent_occurred_at or delivery.occurred_at
        elif kind == "skipped":
            delivery.status = "skipped"
            delivery.last_error = outcome.summary
        elif kind == "retry":
            next_attempt = now + dt.timedelta(seconds=self._delay(delivery.attempts, outcome.retry_after))
            delivery.next_attempt_at = next_attempt
            delivery.last_error = outcome.summary
            metrics.RETRIES.labels(delivery.connector).inc()
        elif kind == "paused":
            delivery.next_attempt_at = now
            delivery.last_error = outcome.summary
        else:
            delivery.status = "failed"
            delivery.last_error = outcome.summary
            metrics.DEAD_LETTERS.labels(delivery.connector).inc()
        return kind, next_attempt

    async def _pause(self, session: AsyncSession, integration_id: str, message: str) -> None:
        integration = await session.get(Integration, integration_id)
        if integration is not None and integration.status != "not_connected":
            integration.status = "error"
            integration.error_message = message
            logger.error("integration %s (%s) of workspace %s paused: %s",
                         integration.id, integration.connector, integration.workspace_id, message)

    def _log(self, delivery: Delivery, kind: str, outcome: Outcome, duration_ms: float, next_attempt: dt.datetime | None) -> None:
        ids = (delivery.id, delivery.event, delivery.assessment_id, delivery.workspace_id)
        extra = {
            "delivery_id": delivery.id, "assessment_id": delivery.assessment_id, "workspace_id": delivery.workspace_id,
            "connector": delivery.connector, "event": delivery.event, "outcome": kind, "attempt": delivery.attempts,
            "status": outcome.status_code, "duration_ms": round(duration_ms, 1), "worker": self.name,
        }
        if kind == "delivered":
            logger.info("delivery %s (%s) of assessment %s in workspace %s delivered in %.0f ms after %d attempt(s)",
                        *ids, duration_ms, delivery.attempts, extra=extra)
        elif kind == "retry":
            logger.warning("delivery %s (%s) of assessment %s in workspace %s failed (attempt %d): %s; next attempt at %s",
                           *ids, delivery.attempts, outcome.summary, next_attempt.isoformat() if next_attempt else "-",
                           extra=extra)
        elif kind == "skipped":
            logger.info("delivery %s (%s) of assessment %s in workspace %s skipped: %s", *ids, outcome.summary, extra=extra)
        else:
            logger.error("delivery %s (%s) of assessment %s in workspace %s %s after %d attempt(s): %s",
                         *ids, "dead-lettered" if kind == "failed" else "paused", delivery.attempts, outcome.summary,
                         extra=extra)

    def _delay(self, attempts: int, retry_after: float | None = None) -> float:
        return backoff_delay(attempts, self.settings.delivery_backoff_base, self.settings.delivery_backoff_max, retry_after)

    # Email

    async def _send_emails(self) -> int:
        async with self.host.session() as session:
            ids = await self._claim(session, Email, [])
        for email_id in ids:
            await self._send_email(email_id)
        return len(ids)

    async def _send_email(self, email_id: str) -> None:
        """Send one claimed email and record the outcome.

        Permanent failures (a 5xx reply, an invalid address) fail the email at once;
        temporary ones are retried with backoff up to ``EMAIL_MAX_ATTEMPTS`` attempts. The
        email's state, the assessment's ``invitation_status``, its timeline event and the
        update for the ATS are written in one transaction after the send.
        """
        async with self.host.session() as session:
            message = await session.get(Email, email_id)
            if message is None or message.status != "pending" or message.claimed_by != self.name:
                return
            # Detached so no transaction stays open during the network call.
            session.expunge(message)

        failure: MailDeliveryError | None = None
        try:
            await self.host.mail.send(message)
        except MailDeliveryError as exc:
            failure = exc
        except OSError as exc:
            failure = MailDeliveryError(f"Sending failed: {type(exc).__name__}: {exc}", permanent=False)
        except Exception as exc:
            logger.exception("email %s of assessment %s raised an unexpected error", message.id, message.assessment_id)
            failure = MailDeliveryError(f"Sending failed with an unexpected error: {type(exc).__name__}", permanent=False)

        # A concurrent change of the same assessment can take the update's sequence number
        # first; the outcome is then recorded again in a fresh transaction.
        for _ in range(3):
            try:
                await self._record_email(email_id, failure)
                return
            except IntegrityError:
                logger.info("recording the outcome of email %s clashed with a concurrent change; trying again", email_id)
        logger.error("could not record the outcome of email %s; it is sent again once its claim expires", email_id)

    async def _record_email(self, email_id: str, failure: MailDeliveryError | None) -> None:
        async with self.host.session() as session:
            message = await session.get(Email, email_id)
            if message is None:
                return
            now = utcnow()
            message.attempts += 1
            message.claimed_by = None
            message.claimed_until = None
            delay = None

            if failure is None:
                message.status = "sent"
                message.sent_at = now
                message.last_error = None
                await record_email_sent(session, message, now)
            elif failure.permanent or message.attempts >= EMAIL_MAX_ATTEMPTS:
                message.status = "failed"
                message.last_error = failure.reason
                await record_email_failed(session, message, failure.reason, now)
            else:
                delay = self._delay(message.attempts)
                message.next_attempt_at = now + dt.timedelta(seconds=delay)
                message.last_error = failure.reason
            await session.commit()

        if failure is None:
            logger.info("email %s (%s) of assessment %s sent", message.id, message.kind, message.assessment_id)
        elif delay is None:
            logger.error("email %s (%s) of assessment %s failed after %d attempt(s): %s",
                         message.id, message.kind, message.assessment_id, message.attempts, failure.reason)
        else:
            logger.warning("email %s (%s) of assessment %s failed (attempt %d): %s; retrying in %.1f s",
                           message.id, message.kind, message.assessment_id, message.attempts, failure.reason, delay)


async def retry_delivery(session: AsyncSession, workspace_id: str, delivery_id: str) -> Delivery | None:
    """Put a dead-lettered delivery back in the queue; return None when it is not in the workspace."""
    delivery = await session.get(Delivery, delivery_id)
    if delivery is None or delivery.workspace_id != workspace_id:
        return None
    if delivery.status == "failed":
        delivery.status = "pending"
        delivery.next_attempt_at = utcnow()
        delivery.queued_at = utcnow()
        logger.info("delivery %s of assessment %s queued again by an admin", delivery.id, delivery.assessment_id)
    return delivery


class ReplayRejected(Exception):
    """A replay would send an older state over a newer one."""


async def replay_delivery(session: AsyncSession, workspace_id: str, delivery_id: str) -> Delivery | None:
    """Queue a delivered update again, as a new delivery; return None when it is not in the workspace.

    Only the newest delivered update of an assessment can be replayed, since an older one
    would overwrite the newer state in the ATS.
    """
    original = await session.get(Delivery, delivery_id)
    if original is None or original.workspace_id != workspace_id:
        return None
    if original.status != "delivered":
        raise ReplayRejected("Only a delivered update can be replayed; retry a dead-lettered one instead.")
    newest = await session.scalar(
        select(Delivery.sequence).where(Delivery.assessment_id == original.assessment_id, Delivery.status == "delivered")
        .order_by(Delivery.sequence.desc()).limit(1)
    )
    if newest != original.sequence:
        raise ReplayRejected("Only the newest delivered update of an assessment can be replayed; an older one would overwrite it.")

    last = await session.scalar(select(Delivery.sequence).where(Delivery.assessment_id == original.assessment_id)
                                .order_by(Delivery.sequence.desc()).limit(1))
    replay = Delivery(
        workspace_id=original.workspace_id,
        integration_id=original.integration_id,
        assessment_id=original.assessment_id,
        connector=original.connector,
        event=original.event,
        sequence=(last or 0) + 1,
        occurred_at=original.occurred_at,
        next_attempt_at=utcnow(),
    )
    session.add(replay)
    await session.flush()
    logger.info("delivery %s of assessment %s replayed as %s", original.id, original.assessment_id, replay.id)
    return replay


async def resume_integration(session: AsyncSession, integration: Integration) -> None:
    """Clear "needs attention" so the waiting deliveries go out."""
    if integration.status == "error":
        integration.status = "connected"
        integration.error_message = None
        logger.info("integration %s (%s) of workspace %s resumed", integration.id, integration.connector, integration.workspace_id)
