"""The built-in assessment engine: assessment types, candidates' sessions and scoring.

It implements the assessment hooks as an ordinary plugin registered with ``trylast``, so a
plugin that brings another engine overrides it. Every change of an assessment's state is
written in the same transaction as the ``Delivery`` row that carries it to the ATS.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from typing import Any

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload, make_transient_to_detached
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from .crypto import hash_token, new_token
from .exceptions import Conflict, NotFound, RequestValidationError
from .flights import Flights
from .hookspecs import hookimpl
from .mail import queue_candidate_email
from .order_batch import INSERT_TIMELINE_EVENT, OrderBatcher, invited_event, new_assessment_values
from .models import (
    ORDER_KEY_COLUMNS,
    REORDERABLE,
    Answer,
    Assessment,
    AssessmentType,
    Delivery,
    Email,
    Integration,
    TimelineEvent,
    utcnow,
)
from .types import (
    AssessmentOrder,
    AssessmentTypeSummary,
    CategoryScore,
    OrderOption,
    OrderOptionChoice,
    StartedAssessment,
)

logger = logging.getLogger(__name__)

OPEN_STATUSES = frozenset({"invited", "started"})
# The reason stored and sent to the ATS when the ATS itself cancelled the assessment.
ATS_CANCEL_REASON = "Cancelled by the ATS"
EXPIRED_MESSAGE = "This invitation has expired. Ask the employer to send a new one."


@dataclasses.dataclass(frozen=True)
class Score:
    """An assessment's result: a weighted percentage overall and a percentage per category."""

    overall: float
    categories: tuple[CategoryScore, ...]


# How long a workspace's listed assessment types, and what new orders read of it, are reused.
# Another process's change takes effect after this time.
LIST_CACHE_SECONDS = 1.0
# The name under which ``build_plugin_manager`` registers the built-in engine.
ENGINE_PLUGIN_NAME = "langos.engine"

# The languages candidate emails can be written in, by ISO 639-1 code.
EMAIL_LANGUAGES: dict[str, str] = {"en": "English", "de": "German", "fr": "French", "es": "Spanish"}
MAX_EXPIRY_DAYS = 90

EXPIRY_OPTION = "expiry_days"
LANGUAGE_OPTION = "email_language"
ORDER_OPTIONS: tuple[OrderOption, ...] = (
    OrderOption(
        id=EXPIRY_OPTION,
        label="Days until the invitation expires",
        kind="number",
        description="Leave empty for the assessment type's default.",
        minimum=1,
        maximum=MAX_EXPIRY_DAYS,
    ),
    OrderOption(
        id=LANGUAGE_OPTION,
        label="Language of the invitation email",
        kind="choice",
        description="Leave empty for English.",
        choices=tuple(OrderOptionChoice(key=code, label=name) for code, name in EMAIL_LANGUAGES.items()),
    ),
)


@dataclasses.dataclass(frozen=True)
class OrderSettings:
    """The validated order options of one order."""

    expiry_days: int | None
    language: str


def _whole_number(value: Any) -> int | None:
    """Return ``value`` as an int when it is a whole number or a string of one; otherwise None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def parse_order_options(options: Any) -> OrderSettings:
    """Validate the order option values an ATS sent; raise ``RequestValidationError`` naming the option.

    Unknown options are ignored, because an ATS may send fields Langos does not define.
    An empty value means the default.
    """
    values = options if isinstance(options, dict) else {}
    expiry = values.get(EXPIRY_OPTION)
    expiry_days = None if expiry in (None, "") else _whole_number(expiry)
    if expiry not in (None, "") and (expiry_days is None or not 1 <= expiry_days <= MAX_EXPIRY_DAYS):
        raise RequestValidationError(
            f"Days until the invitation expires must be a whole number from 1 to {MAX_EXPIRY_DAYS}, "
            f"not {expiry!r}. Correct it and start the assessment again.",
            field=f"options.{EXPIRY_OPTION}",
        )
    language = values.get(LANGUAGE_OPTION)
    if language in (None, ""):
        language = "en"
    elif not isinstance(language, str) or language.strip().lower() not in EMAIL_LANGUAGES:
        names = ", ".join(f"{name} ({code})" for code, name in EMAIL_LANGUAGES.items())
        raise RequestValidationError(
            f"Langos cannot write the invitation email in {language!r}. Choose one of: {names}.",
            field=f"options.{LANGUAGE_OPTION}",
        )
    else:
        language = language.strip().lower()
    return OrderSettings(expiry_days=expiry_days, language=language)


class BuiltinEngine:
    """The default implementation of the assessment hooks."""

    def __init__(self, public_url: str) -> None:
        self.public_url = public_url
        self._list_cache: dict[str, tuple[float, list[AssessmentTypeSummary]]] = {}
        self._list_loads = Flights()
        self._orders = OrderBatcher(_INSERT_ORDER.__getitem__, self.candidate_url, cache_seconds=LIST_CACHE_SECONDS)

    @hookimpl(trylast=True)
    async def langos_list_assessment_types(self, session: AsyncSession, workspace_id: str) -> list[AssessmentTypeSummary]:
        cached = self._cached_types(workspace_id)
        if cached is None and await self._list_loads.wait(workspace_id):
            cached = self._cached_types(workspace_id)
        if cached is not None:
            return cached

        with self._list_loads.load(workspace_id):
            rows = await session.execute(
                select(AssessmentType.id, AssessmentType.name, AssessmentType.description)
                .where(AssessmentType.workspace_id == workspace_id, AssessmentType.active.is_(True))
                .order_by(AssessmentType.created_at, AssessmentType.name)
            )
            summaries = [AssessmentTypeSummary(id=row.id, name=row.name, description=row.description) for row in rows]
            self._list_cache[workspace_id] = (time.monotonic(), summaries)
        return list(summaries)

    def _cached_types(self, workspace_id: str) -> list[AssessmentTypeSummary] | None:
        cached = self._list_cache.get(workspace_id)
        if cached is None or time.monotonic() - cached[0] >= LIST_CACHE_SECONDS:
            return None
        return list(cached[1])

    def forget_workspace(self, workspace_id: str) -> None:
        """Drop what this engine caches of the workspace: its listed assessment types, and the types,
        name and invitation templates that new orders read. Call it after committing a change to them.
        """
        self._list_cache.pop(workspace_id, None)
        self._orders.forget(workspace_id)

    @hookimpl(trylast=True)
    def langos_list_order_options(self, session: AsyncSession, workspace_id: str) -> list[OrderOption]:
        return list(ORDER_OPTIONS)

    @hookimpl(trylast=True)
    async def langos_start_assessment(self, session: AsyncSession, order: AssessmentOrder) -> StartedAssessment:
        try:
            settings = parse_order_options(dict(order.options))
        except RequestValidationError:
            # A repeated order returns its assessment whatever options it carries, also when
            # the first one is still being written with its batch.
            existing = await _open_order(session, order)
            if existing is None and await self._orders.settled(session.bind, order):
                existing = await _open_order(session, order)
            if existing is not None:
                return StartedAssessment(assessment_id=existing.id, created=False, status=existing.status)
            raise
        bind = session.bind
        if not session.in_transaction() and isinstance(bind, AsyncEngine):
            # The session has no transaction in progress, so the order can be committed with
            # the concurrent ones.
            started = await self._orders.start(bind, order, expiry_days=settings.expiry_days, language=settings.language)
            if started is not None:
                return started
        # The categories and questions are not needed here, and loading them would cost more than the insert.
        found = await session.get(AssessmentType, order.assessment_type_id, options=_WITHOUT_CATEGORIES)
        try:
            assessment_type = _orderable_type(found, order)
        except RequestValidationError:
            # A repeated order still returns its assessment after the type is retired.
            existing = await _open_order(session, order)
            if existing is not None:
                return StartedAssessment(assessment_id=existing.id, created=False, status=existing.status)
            raise

        token = new_token()
        # Every column is set here, because the row is written with a Core INSERT, which
        # does not read the attributes back.
        values = new_assessment_values(
            order, assessment_type, expiry_days=settings.expiry_days, language=settings.language, token=token
        )
        assessment = Assessment(**values)
        assessment.assessment_type = assessment_type
        # The invitation is rendered before the INSERT, so its queries and template work stay
        # out of the write transaction, which on SQLite makes every other writer wait. It
        # leaves the session until the row it refers to exists.
        invitation = await queue_candidate_email(session, assessment, "invitation", self.candidate_url(token))
        session.expunge(invitation)
        existing = await _insert_order(session, order, assessment)
        if existing is not None:
            return StartedAssessment(assessment_id=existing.id, created=False, status=existing.status)

        session.add(invitation)
        await session.execute(INSERT_TIMELINE_EVENT, invited_event(values))
        logger.info("assessment %s created for application %s in workspace %s",
                    assessment.id, order.external_application_id, order.workspace_id)
        return StartedAssessment(assessment_id=assessment.id, created=True, status=assessment.status)

    @hookimpl(trylast=True)
    async def langos_cancel_assessment(self, session: AsyncSession, workspace_id: str, assessment_id: str) -> str:
        assessment = await get_assessment(session, workspace_id, assessment_id)
        if assessment.status in OPEN_STATUSES:
            assessment.status = "cancelled"
            assessment.cancelled_at = utcnow()
            assessment.cancelled_reason = ATS_CANCEL_REASON
            session.add(TimelineEvent(assessment_id=assessment.id, kind="cancelled", detail={"by": "ats"}))
            await cancel_pending_emails(session, assessment.id)
            # No update is queued, because the ATS requested the cancellation itself.
            logger.info("assessment %s cancelled by the ATS", assessment.id)
        return assessment.status

    def candidate_url(self, token: str) -> str:
        return f"{self.public_url}/take/{token}"


_WITHOUT_CATEGORIES = (lazyload(AssessmentType.categories),)
_ASSESSMENT_COLUMNS = tuple(Assessment.__table__.columns)
# Built once with the values passed at execution, so each call reuses the compiled statement
# instead of coercing every value and computing a new cache key. Only SQLite and PostgreSQL
# are supported databases.
_INSERT_ORDER = {
    dialect.dialect.name: dialect.insert(Assessment.__table__)
    .on_conflict_do_nothing(index_elements=list(ORDER_KEY_COLUMNS), index_where=text(REORDERABLE))
    .returning(Assessment.__table__.c.id)
    for dialect in (postgresql, sqlite)
}


def _orderable_type(assessment_type: AssessmentType | None, order: AssessmentOrder) -> AssessmentType:
    """Return ``assessment_type``, or raise ``RequestValidationError`` when it is missing, foreign or retired."""
    if assessment_type is None or assessment_type.workspace_id != order.workspace_id:
        raise RequestValidationError(
            f"Langos has no assessment type {order.assessment_type_id!r} for this account. "
            "Pick an assessment from the list Langos offers, or ask your Langos admin to add it.",
            field="assessment_type_id",
        )
    if not assessment_type.active:
        raise RequestValidationError(
            f"The Langos assessment {assessment_type.name!r} has been retired. Pick another assessment type.",
            field="assessment_type_id",
        )
    return assessment_type


async def _insert_order(session: AsyncSession, order: AssessmentOrder, assessment: Assessment) -> Assessment | None:
    """Insert the new ``assessment`` unless its order already has one; return that one, or None.

    The INSERT does nothing on a conflict with the partial unique index
    ``uq_assessments_open_order``, so a new order costs no lookup first, and a repeated or
    concurrent identical order costs neither a failed statement nor a savepoint. On
    PostgreSQL the INSERT waits for a concurrent transaction that inserted the same order
    and then sees its row. SQLite has one writer at a time. The inserted assessment joins
    the session as a persistent object, without a second query.
    """
    values = {column.key: getattr(assessment, column.key) for column in _ASSESSMENT_COLUMNS}
    statement = _INSERT_ORDER[session.get_bind().dialect.name]
    # The row in the way may leave the index between the two statements (it expires, or a
    # cancellation frees the order), so a conflict whose row is gone is tried once more.
    for _ in range(2):
        if await session.scalar(statement, values) is not None:
            make_transient_to_detached(assessment)
            session.add(assessment)
            return None
        existing = await _open_order(session, order)
        if existing is not None:
            return existing
    raise Conflict(
        f"the assessment order for application {order.external_application_id!r} changed during the request; "
        "send it again"
    )


async def _open_order(session: AsyncSession, order: AssessmentOrder) -> Assessment | None:
    """Return the order's assessment that is neither cancelled nor expired, if there is one.

    An invitation past its expiry that the sweep has not reached yet is expired here, so
    the repeated order creates a new assessment.
    """
    existing = await _find_order(session, order)
    if existing is not None and await expire_invitation(session, existing):
        return None
    return existing


async def _find_order(session: AsyncSession, order: AssessmentOrder) -> Assessment | None:
    """Return the assessment of this order that is neither cancelled nor expired, if there is one."""
    return await session.scalar(
        select(Assessment).where(
            Assessment.integration_id == order.integration_id,
            Assessment.external_application_id == order.external_application_id,
            Assessment.assessment_type_id == order.assessment_type_id,
            Assessment.status.not_in(("cancelled", "expired")),
        )
    )


async def get_assessment(session: AsyncSession, workspace_id: str, assessment_id: str) -> Assessment:
    """Return the assessment, or raise ``NotFound`` when it is missing or in another workspace."""
    assessment = await session.get(Assessment, assessment_id)
    if assessment is None or assessment.workspace_id != workspace_id:
        raise NotFound(f"assessment {assessment_id!r} not found")
    return assessment


async def find_by_token(session: AsyncSession, token: str) -> Assessment | None:
    return await session.scalar(select(Assessment).where(Assessment.candidate_token_digest == hash_token(token)))


def record_event(
    session: AsyncSession,
    assessment: Assessment,
    kind: str,
    detail: dict[str, Any] | None = None,
    *,
    at: dt.datetime | None = None,
    external_event_id: str | None = None,
) -> TimelineEvent:
    event = TimelineEvent(
        assessment_id=assessment.id, kind=kind, detail=detail, at=at or utcnow(), external_event_id=external_event_id
    )
    session.add(event)
    return event


async def queue_delivery(session: AsyncSession, assessment: Assessment, event: str, occurred_at: dt.datetime) -> None:
    """Queue an update for the ATS that ordered ``assessment``, in the caller's transaction."""
    if assessment.integration_id is None:
        return
    integration = await session.get(Integration, assessment.integration_id)
    if integration is None:
        return
    last = await session.scalar(select(func.max(Delivery.sequence)).where(Delivery.assessment_id == assessment.id))
    session.add(
        Delivery(
            workspace_id=assessment.workspace_id,
            integration_id=integration.id,
            assessment_id=assessment.id,
            connector=integration.connector,
            event=event,
            sequence=(last or 0) + 1,
            occurred_at=occurred_at,
            next_attempt_at=utcnow(),
        )
    )


def ensure_open(assessment: Assessment, *, now: dt.datetime | None = None) -> None:
    """Raise ``Conflict`` unless the candidate may still work on ``assessment`` at ``now`` (default: the current time).

    An invitation past its expiry is closed even before the sweep marks it expired.
    """
    if assessment.status == "cancelled":
        raise Conflict("This assessment was cancelled by the employer and can no longer be taken.")
    if assessment.status == "completed":
        raise Conflict("This assessment has already been submitted.")
    if assessment.status == "expired" or invitation_past_expiry(assessment, now or utcnow()):
        raise Conflict(EXPIRED_MESSAGE)


def invitation_past_expiry(assessment: Assessment, now: dt.datetime) -> bool:
    """Return whether ``assessment`` is still invited although its invitation expired at or before ``now``."""
    return assessment.status == "invited" and assessment.expires_at is not None and assessment.expires_at <= now


def expiry_reason(expires_at: dt.datetime) -> str:
    """Return the sentence the report and the ATS show for an expired invitation."""
    return f"The invitation expired on {expires_at:%Y-%m-%d %H:%M} UTC before the candidate started."


async def expire_invitation(session: AsyncSession, assessment: Assessment, *, now: dt.datetime | None = None) -> bool:
    """Mark an invited assessment whose invitation has expired as ``expired``; return True when this call did.

    The change is a conditional UPDATE, so of two workers, or a worker and a candidate's
    request, only one records the event and queues the ``expired`` update for the ATS.
    The caller commits.
    """
    now = now or utcnow()
    if not invitation_past_expiry(assessment, now):
        return False

    expires_at = assessment.expires_at
    result = await session.execute(
        update(Assessment)
        .where(Assessment.id == assessment.id, Assessment.status == "invited", Assessment.expires_at <= now)
        .values(status="expired", expired_at=expires_at, cancelled_reason=expiry_reason(expires_at))
        .execution_options(synchronize_session=False)
    )
    await session.refresh(assessment)
    if result.rowcount != 1:
        return False

    # The report shows the expiry and the reason beside the timeline, so the event has no detail.
    record_event(session, assessment, "expired", at=expires_at)
    await cancel_pending_emails(session, assessment.id)
    await queue_delivery(session, assessment, "expired", expires_at)
    logger.info("assessment %s expired: its invitation expired at %s", assessment.id, expires_at.isoformat())
    return True


async def cancel_pending_emails(session: AsyncSession, assessment_id: str) -> int:
    """Stop the assessment's unsent emails, because their link no longer works; return how many.

    NOTE: a worker that claimed an email just before this runs may still send it.
    """
    result = await session.execute(
        update(Email)
        .where(Email.assessment_id == assessment_id, Email.status == "pending")
        .values(status="cancelled", last_error="Not sent: the assessment was closed first.",
                claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


async def begin(
    session: AsyncSession, assessment: Assessment, *, at: dt.datetime | None = None, external_event_id: str | None = None
) -> bool:
    """Mark the assessment started; return False when it already was.

    The change is a conditional UPDATE, so of two concurrent starts only one records the
    event and queues the update for the ATS. A start after the invitation's expiry marks
    the assessment expired, commits that, and raises ``Conflict``: the web handlers roll
    back on ``Conflict``, and the expiry must reach the ATS anyway.
    """
    now = at or utcnow()
    # An engine may report a start late, or with a clock ahead of ours: the expiry is
    # judged at the reported time, but never later than the current time.
    judged_at = min(now, utcnow())
    if await expire_invitation(session, assessment, now=judged_at):
        await _commit_expiry(session, assessment)
    ensure_open(assessment, now=judged_at)
    if assessment.status == "started":
        return False

    result = await session.execute(
        update(Assessment)
        .where(
            Assessment.id == assessment.id,
            Assessment.status == "invited",
            or_(Assessment.expires_at.is_(None), Assessment.expires_at > judged_at),
        )
        .values(status="started", started_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(assessment)
    if result.rowcount != 1:
        ensure_open(assessment, now=judged_at)
        return False

    record_event(session, assessment, "started", at=now, external_event_id=external_event_id)
    await queue_delivery(session, assessment, "started", now)
    logger.info("assessment %s started by the candidate", assessment.id)
    return True


async def _commit_expiry(session: AsyncSession, assessment: Assessment) -> None:
    """Commit an expiry found while handling a candidate's request, which then fails."""
    try:
        await session.commit()
    except IntegrityError:
        # A concurrent change queued an update with the same sequence number first. The
        # state it committed decides the message for the candidate.
        await session.rollback()
        await session.refresh(assessment)


def minutes_text(minutes: float) -> str:
    """Format a number of minutes with the matching singular or plural, such as "1 minute" or "1.5 minutes"."""
    return f"{minutes:g} minute" if minutes == 1 else f"{minutes:g} minutes"


def deadline(assessment: Assessment) -> dt.datetime | None:
    """Return when the candidate's time runs out, or None before the assessment is started."""
    if assessment.started_at is None:
        return None
    return assessment.started_at + dt.timedelta(minutes=assessment.effective_time_limit)


async def complete_if_overdue(session: AsyncSession, assessment: Assessment, *, now: dt.datetime | None = None) -> bool:
    """Complete a started assessment whose time limit has passed, with the answers saved so far.

    Return True when it completed the assessment. The completion is dated at the deadline,
    because no answer after it counts. Its update for the ATS is queued in the caller's
    transaction, and the caller commits.
    """
    due = deadline(assessment)
    if assessment.status != "started" or due is None or (now or utcnow()) < due:
        return False

    score = await score_answers(session, assessment)
    await complete(session, assessment, score, at=due, source="time limit")
    logger.info("assessment %s completed by its time limit of %s minutes",
                assessment.id, assessment.effective_time_limit)
    return True


async def _reject_if_overdue(session: AsyncSession, assessment: Assessment) -> None:
    """Raise ``Conflict`` once the time limit has passed, after completing and committing the assessment.

    The web handlers roll back on ``Conflict``, so the completion is committed here:
    the recruiter gets a result even though the candidate's request fails.
    """
    if not await complete_if_overdue(session, assessment):
        return

    try:
        await session.commit()
    except IntegrityError:
        # A concurrent request that completed the assessment first queued the same update
        # sequence number. Its result is kept, and any other conflict is re-raised.
        await session.rollback()
        await session.refresh(assessment)
        if assessment.status != "completed":
            raise
        logger.info("assessment %s was completed by a concurrent request", assessment.id)
    raise Conflict(
        f"The time limit of {minutes_text(assessment.effective_time_limit)} has passed; "
        "your saved answers were submitted."
    )


async def save_answer(session: AsyncSession, assessment: Assessment, question_id: str, option: int) -> None:
    """Store the candidate's choice for one question, replacing an earlier one.

    After the time limit it completes the assessment, commits, and raises ``Conflict``.
    """
    ensure_open(assessment)
    if assessment.status != "started":
        raise Conflict("Start the assessment before answering.")
    await _reject_if_overdue(session, assessment)

    question = _question(assessment, question_id)
    if question is None:
        raise RequestValidationError(f"question {question_id!r} is not part of this assessment", field="question_id")
    if not 0 <= option < len(question.options):
        raise RequestValidationError(
            f"option {option!r} does not exist; choose 0 to {len(question.options) - 1}", field="option"
        )

    answer = await session.scalar(
        select(Answer).where(Answer.assessment_id == assessment.id, Answer.question_id == question_id)
    )
    if answer is None:
        session.add(Answer(assessment_id=assessment.id, question_id=question_id, selected_option=option))
    else:
        answer.selected_option = option
        answer.answered_at = utcnow()
    record_event(session, assessment, "answer", {"question_id": question_id, "option": option})


def _question(assessment: Assessment, question_id: str) -> Any:
    for category in assessment.assessment_type.categories:
        for question in category.questions:
            if question.id == question_id:
                return question
    return None


async def score_answers(session: AsyncSession, assessment: Assessment) -> Score:
    answers = {
        row.question_id: row.selected_option
        for row in await session.scalars(select(Answer).where(Answer.assessment_id == assessment.id))
    }
    categories: list[CategoryScore] = []
    weights: list[float] = []
    for category in assessment.assessment_type.categories:
        possible = sum(q.points for q in category.questions)
        earned = sum(q.points for q in category.questions if answers.get(q.id) == q.correct_option)
        percent = round(100.0 * earned / possible, 1) if possible else 0.0
        categories.append(CategoryScore(name=category.name, score=percent, max_score=100.0))
        weights.append(category.weight)
    return Score(overall=weighted_overall(categories, weights), categories=tuple(categories))


def weighted_overall(categories: list[CategoryScore], weights: list[float]) -> float:
    total_weight = sum(weights)
    if not categories or total_weight <= 0:
        return 0.0
    return round(sum(c.score / c.max_score * 100.0 * w for c, w in zip(categories, weights)) / total_weight, 1)


async def complete(
    session: AsyncSession,
    assessment: Assessment,
    score: Score,
    *,
    at: dt.datetime | None = None,
    source: str,
    external_event_id: str | None = None,
) -> None:
    """Record the result and queue the completion update for the ATS."""
    now = at or utcnow()
    ensure_open(assessment, now=min(now, utcnow()))
    if assessment.status == "invited":
        await begin(session, assessment, at=now)

    assessment.status = "completed"
    assessment.completed_at = now
    assessment.score = score.overall
    assessment.max_score = 100.0
    assessment.category_scores = [dataclasses.asdict(c) for c in score.categories]
    assessment.passed = None if assessment.pass_mark is None else score.overall >= assessment.pass_mark
    record_event(
        session, assessment, "submitted", {"source": source, "score": score.overall}, at=now, external_event_id=external_event_id
    )
    await queue_delivery(session, assessment, "completed", now)
    logger.info("assessment %s completed with score %s", assessment.id, score.overall)


async def submit(session: AsyncSession, assessment: Assessment) -> Score:
    """Score the candidate's answers and complete the assessment.

    After the time limit it completes the assessment as ``save_answer`` does, commits,
    and raises ``Conflict``.
    """
    ensure_open(assessment)
    if assessment.status != "started":
        raise Conflict("Start the assessment before submitting it.")
    await _reject_if_overdue(session, assessment)
    score = await score_answers(session, assessment)
    await complete(session, assessment, score, source="candidate")
    return score


async def complete_overdue(session: AsyncSession, *, limit: int = 100) -> int:
    """Complete started assessments whose time limit has passed; return how many. The caller commits.

    Candidates who never come back would otherwise leave their assessment started, and the
    recruiter without a result.
    """
    now = utcnow()
    # Each assessment keeps the time limit its type had when it was created.
    shortest = await session.scalar(
        select(func.min(func.coalesce(Assessment.time_limit_minutes, AssessmentType.time_limit_minutes)))
        .join(AssessmentType, Assessment.assessment_type_id == AssessmentType.id)
        .where(Assessment.status == "started")
    )
    if shortest is None:
        return 0
    # No assessment that started after this can be overdue yet.
    cutoff = now - dt.timedelta(minutes=shortest)
    started = await session.scalars(
        select(Assessment)
        .where(Assessment.status == "started", Assessment.started_at < cutoff)
        .order_by(Assessment.started_at)
        .limit(limit)
    )
    done = 0
    for assessment in list(started):
        if await complete_if_overdue(session, assessment, now=now):
            done += 1
    return done


def forget_cached_workspace(hooks: Any, workspace_id: str) -> None:
    """Drop what this process's engine caches of the workspace, so the next call reads the change.

    Call it after committing a change to the workspace's assessment types, name or email
    templates. Other processes keep their cache for up to ``LIST_CACHE_SECONDS``. An engine
    plugin that replaces the built-in one keeps its own cache, if any.

    :param hooks: the host's ``Hooks``.
    """
    engine = hooks.manager.get_plugin(ENGINE_PLUGIN_NAME)
    if isinstance(engine, BuiltinEngine):
        engine.forget_workspace(workspace_id)
