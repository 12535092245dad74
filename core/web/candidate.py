"""The candidate's pages: the invitation link, the questions and submitting the answers.

A candidate is not signed in. The token in the link selects the assessment, and only its
SHA-256 digest is stored, so the token never appears in a log line or a database row.
Form posts carry the session's CSRF token in the hidden ``csrf_token`` field; the JSON
requests of the answer and focus event endpoints carry it in the ``X-CSRF-Token`` header.

Every way in (page load, answer, focus event, submit) tells the candidate why a closed
assessment accepts nothing more: the employer withdrew it, the invitation expired, or the
time limit ran out and the saved answers were submitted.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import engine
from ..engine import minutes_text
from ..exceptions import Conflict, RequestValidationError
from ..models import Answer, Assessment, TimelineEvent, utcnow
from .common import CSRF_FIELD, check_csrf, get_host, read_form, redirect, render

logger = logging.getLogger(__name__)

CSRF_HEADER = "X-CSRF-Token"
ANSWER_FIELD_PREFIX = "q_"
# A reload in the same browser session records at most one "opened" event per interval.
OPENED_RELOAD_INTERVAL = dt.timedelta(minutes=1)
# Every new browser session records an "opened" event, up to this many per assessment,
# so a client that drops its cookies cannot write one row per request without end.
MAX_OPENED_EVENTS = 200
# The browser session remembers this many assessments it has opened.
OPENED_SESSION_KEY = "opened_assessments"
OPENED_SESSION_SIZE = 5
# Statuses in which the candidate can no longer see or change the questions.
CLOSED_STATUSES = frozenset({"cancelled", "completed", "expired"})

# The event kinds the questions page may report, and the limits that keep a page from
# flooding the timeline: one event per kind per interval after each opening of the link,
# and a total per assessment.
FOCUS_EVENT_KINDS = ("focus_lost", "focus_regained")
FOCUS_EVENT_INTERVAL = dt.timedelta(seconds=1)
MAX_FOCUS_EVENTS = 500

# Only the digest of each assessment's current token is stored, so a link replaced by a
# resend or a reminder cannot be distinguished from a mistyped one. The message covers both.
INVALID_LINK = (
    "This link is not valid. If you received a newer email about this assessment, "
    "use the link in the newest one. Otherwise, contact the employer who invited you."
)
FORM_EXPIRED = "The form expired. Reload the page and try again."
SUBMITTED = "Thank you, your answers were submitted. You can close this page."
TIME_LIMIT_SUBMITTED = (
    "The time limit of {minutes} ran out, and your answers were submitted as you saved them. "
    "You can close this page."
)
TOO_MANY_FOCUS_EVENTS = "Too many focus events for this assessment; no more are recorded."
FOCUS_EVENTS_TOO_FAST = "Focus events of one kind are recorded at most once per second; this one was not recorded."

# Page titles for a closed assessment, by status.
CLOSED_TITLES = {
    "cancelled": "Assessment withdrawn",
    "expired": "Invitation expired",
    "completed": "Answers submitted",
}


def _iso_utc(moment: dt.datetime) -> str:
    """Return ``moment`` as ISO 8601 in UTC with milliseconds, such as 2026-12-05T00:40:00.000Z."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _message(
    request: Request, title: str, message: str, status_code: int, *, back_url: str | None = None
) -> Response:
    context = {"title": title, "message": message, "back_url": back_url}
    return _no_referrer(render(request, "candidate/message.html", context, status_code=status_code))


def _no_referrer(response: Response) -> Response:
    # The URL contains the candidate's token, so keep it out of Referer headers.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _invalid_link(request: Request) -> Response:
    return _message(request, "Link not valid", INVALID_LINK, 404)


def _take_url(token: str) -> str:
    return f"/take/{token}"


def _back_url(assessment: Assessment, token: str) -> str | None:
    """Return the link back to the assessment, or None once it is cancelled, expired or submitted.

    Call it before a rollback, because a rollback expires the loaded assessment.
    """
    return None if assessment.status in CLOSED_STATUSES else _take_url(token)


async def _find(session: AsyncSession, request: Request) -> Assessment | None:
    return await engine.find_by_token(session, request.path_params["token"])


async def _record_opened(request: Request, session: AsyncSession, assessment: Assessment) -> None:
    """Record an "opened" event for each browser session that opens the link.

    A reload in the same browser session, including the page shown after Start, is
    recorded again only after ``OPENED_RELOAD_INTERVAL``.
    """
    opened = request.session.get(OPENED_SESSION_KEY)
    opened = [value for value in opened if isinstance(value, str)] if isinstance(opened, list) else []
    seen_here = assessment.id in opened

    last, count = (
        await session.execute(
            select(func.max(TimelineEvent.at), func.count())
            .where(TimelineEvent.assessment_id == assessment.id, TimelineEvent.kind == "opened")
        )
    ).one()
    reloaded_soon = seen_here and last is not None and utcnow() - last < OPENED_RELOAD_INTERVAL
    if count < MAX_OPENED_EVENTS and not reloaded_soon:
        engine.record_event(session, assessment, "opened")

    if not seen_here:
        request.session[OPENED_SESSION_KEY] = [*opened, assessment.id][-OPENED_SESSION_SIZE:]


async def _submitted_by_time_limit(session: AsyncSession, assessment: Assessment) -> bool:
    detail = await session.scalar(
        select(TimelineEvent.detail)
        .where(TimelineEvent.assessment_id == assessment.id, TimelineEvent.kind == "submitted")
        .order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc())
        .limit(1)
    )
    return isinstance(detail, dict) and detail.get("source") == "time limit"


def _closed_title(assessment: Assessment, default: str) -> str:
    return CLOSED_TITLES.get(assessment.status, default)


async def _saved_answers(session: AsyncSession, assessment_id: str) -> dict[str, int]:
    rows = await session.scalars(select(Answer).where(Answer.assessment_id == assessment_id))
    return {row.question_id: row.selected_option for row in rows}


def _sections(assessment: Assessment, saved: dict[str, int]) -> list[dict[str, Any]]:
    """Group the questions by category and number them across the whole assessment."""
    sections = []
    number = 0
    for category in assessment.assessment_type.categories:
        questions = []
        for question in category.questions:
            number += 1
            questions.append(
                {
                    "id": question.id,
                    "number": number,
                    "prompt": question.prompt,
                    "options": list(question.options),
                    "selected": saved.get(question.id),
                }
            )
        sections.append({"name": category.name, "questions": questions})
    return sections


def _question_count(assessment: Assessment) -> int:
    return sum(len(category.questions) for category in assessment.assessment_type.categories)


async def _status_page(request: Request, session: AsyncSession, assessment: Assessment, token: str) -> Response:
    if assessment.status == "completed":
        if await _submitted_by_time_limit(session, assessment):
            message = TIME_LIMIT_SUBMITTED.format(minutes=minutes_text(assessment.effective_time_limit))
            return _message(request, "Time limit reached", message, 200)
        return _message(request, "Answers submitted", SUBMITTED, 200)
    try:
        engine.ensure_open(assessment)
    except Conflict as exc:
        return _message(request, _closed_title(assessment, "Assessment closed"), str(exc), 410)

    context: dict[str, Any] = {
        "assessment": assessment,
        "assessment_type": assessment.assessment_type,
        "question_count": _question_count(assessment),
        "time_limit": minutes_text(assessment.effective_time_limit),
        "take_url": _take_url(token),
    }
    if assessment.status == "invited":
        return _no_referrer(render(request, "candidate/welcome.html", context))

    saved = await _saved_answers(session, assessment.id)
    context["sections"] = _sections(assessment, saved)
    context["answered"] = len(saved)
    deadline = engine.deadline(assessment)
    assert deadline is not None, "a started assessment has a deadline"
    context["deadline"] = deadline
    # countdown.js counts down from the server's clock, not the browser's, so a browser
    # whose clock is wrong still shows the right time left.
    context["deadline_iso"] = _iso_utc(deadline)
    context["server_now_iso"] = _iso_utc(utcnow())
    return _no_referrer(render(request, "candidate/questions.html", context))


async def take_page(request: Request) -> Response:
    async with get_host(request).session() as session:
        assessment = await _find(session, request)
        if assessment is None:
            return _invalid_link(request)

        await _record_opened(request, session, assessment)
        # A candidate who comes back after the deadline sees the result page, not the
        # questions, and one who comes after the invitation's expiry sees why it closed.
        await engine.complete_if_overdue(session, assessment)
        await engine.expire_invitation(session, assessment)
        await session.commit()
        return await _status_page(request, session, assessment, request.path_params["token"])


async def start(request: Request) -> Response:
    token = request.path_params["token"]
    async with get_host(request).session() as session:
        assessment = await _find(session, request)
        if assessment is None:
            return _invalid_link(request)

        form = await read_form(request)
        if not check_csrf(request, form):
            return _message(request, "Form expired", FORM_EXPIRED, 400, back_url=_take_url(token))

        try:
            await engine.begin(session, assessment)
        except Conflict as exc:
            logger.info("start of assessment %s rejected: %s", assessment.id, exc)
            back_url = _back_url(assessment, token)
            title = _closed_title(assessment, "Cannot start")
            await session.rollback()
            return _message(request, title, str(exc), 409, back_url=back_url)
        await session.commit()
    return redirect(_take_url(token))


def _parse_option(value: Any) -> int:
    """Return the chosen option index from a JSON number or a form string."""
    parsed = value
    if isinstance(value, bool):
        parsed = None
    elif isinstance(value, str):
        try:
            parsed = int(value.strip())
        except ValueError:
            parsed = None
    if not isinstance(parsed, int):
        # The message shows what was sent, cut short, not the failed conversion.
        raise RequestValidationError(
            f"option {str(value)[:40]!r} is invalid; send the index of the chosen option as a whole number, "
            "starting at 0",
            field="option",
        )
    return parsed


def _parse_question_id(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RequestValidationError(
            "question_id is missing; send the id of the question being answered", field="question_id"
        )
    if not isinstance(value, str):
        raise RequestValidationError(
            "question_id must be a string; send the id of the question being answered as a string",
            field="question_id",
        )
    return value.strip()


def _header_csrf_ok(request: Request) -> bool:
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER, "")
    # Compare bytes: compare_digest rejects str arguments that are not ASCII.
    return bool(expected) and bool(sent) and hmac.compare_digest(expected.encode(), sent.encode())


async def _json_body(request: Request, example: str) -> dict[str, Any]:
    """Return the request's JSON object, or raise ``RequestValidationError`` showing ``example``."""
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise RequestValidationError(
            f"The request body is not valid JSON; send {example}.", field="body", status_code=400
        ) from None
    if not isinstance(body, dict):
        raise RequestValidationError(
            f"The request body must be a JSON object such as {example}.", field="body", status_code=400
        )
    return body


async def _answer_input(request: Request) -> tuple[bool, Any]:
    """Return whether the CSRF token matched, and the posted answer as a mapping."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await _json_body(request, '{"question_id": ..., "option": ...}')
        return _header_csrf_ok(request), body

    form = await read_form(request)
    return check_csrf(request, form) or _header_csrf_ok(request), form


def _json_error(exc: RequestValidationError) -> JSONResponse:
    return JSONResponse({"error": exc.message, "field": exc.field}, status_code=exc.status_code)


async def _json_conflict(session: AsyncSession, exc: Conflict) -> JSONResponse:
    """Roll back and return the 409 reply, whose ``error`` the page shows as the reason."""
    await session.rollback()
    return JSONResponse({"error": str(exc)}, status_code=409)


async def answer(request: Request) -> Response:
    async with get_host(request).session() as session:
        assessment = await _find(session, request)
        if assessment is None:
            return JSONResponse({"error": INVALID_LINK}, status_code=404)

        try:
            csrf_ok, posted = await _answer_input(request)
            if not csrf_ok:
                return JSONResponse({"error": FORM_EXPIRED, "field": CSRF_FIELD}, status_code=403)
            question_id = _parse_question_id(posted.get("question_id"))
            option = _parse_option(posted.get("option"))
            await engine.save_answer(session, assessment, question_id, option)
        except RequestValidationError as exc:
            logger.info("answer for assessment %s rejected: field %s: %s", assessment.id, exc.field, exc.message)
            await session.rollback()
            return _json_error(exc)
        except Conflict as exc:
            logger.info("answer for assessment %s rejected: %s", assessment.id, exc)
            return await _json_conflict(session, exc)
        await session.commit()
    return JSONResponse({"saved": True})


def _parse_focus_kind(value: Any) -> str:
    if value not in FOCUS_EVENT_KINDS:
        printable = value if isinstance(value, str) else json.dumps(value)
        raise RequestValidationError(
            f"kind {printable[:40]!r} is invalid; send one of {', '.join(FOCUS_EVENT_KINDS)}", field="kind"
        )
    return value


async def _ensure_accepting_events(session: AsyncSession, assessment: Assessment) -> None:
    """Raise ``Conflict`` unless the candidate is working on ``assessment`` within the time limit.

    Once the time limit has passed, the assessment is completed with the saved answers and
    committed first, as the answer endpoint does, so the candidate's page learns why.
    """
    engine.ensure_open(assessment)
    if assessment.status != "started":
        raise Conflict("Start the assessment first.")
    if await engine.complete_if_overdue(session, assessment):
        await session.commit()
        raise Conflict(
            f"The time limit of {minutes_text(assessment.effective_time_limit)} has passed; "
            "your saved answers were submitted."
        )


async def _focus_event_rejection(session: AsyncSession, assessment: Assessment, kind: str) -> str | None:
    """Return why the focus event exceeds a limit, or None when it may be recorded."""
    count = await session.scalar(
        select(func.count())
        .select_from(TimelineEvent)
        .where(TimelineEvent.assessment_id == assessment.id, TimelineEvent.kind.in_(FOCUS_EVENT_KINDS))
    ) or 0
    if count >= MAX_FOCUS_EVENTS:
        return TOO_MANY_FOCUS_EVENTS

    # The interval applies within one opening of the page: closing the page reports
    # focus_lost, and the reopened page may report focus_lost again at once.
    latest = dict(
        (
            await session.execute(
                select(TimelineEvent.kind, func.max(TimelineEvent.at))
                .where(TimelineEvent.assessment_id == assessment.id, TimelineEvent.kind.in_((kind, "opened")))
                .group_by(TimelineEvent.kind)
            )
        ).all()
    )
    last_of_kind, last_opened = latest.get(kind), latest.get("opened")
    if last_of_kind is None or (last_opened is not None and last_opened > last_of_kind):
        return None
    if utcnow() - last_of_kind < FOCUS_EVENT_INTERVAL:
        return FOCUS_EVENTS_TOO_FAST
    return None


async def focus_event(request: Request) -> Response:
    """Record that the candidate's questions page lost or regained focus.

    The time is the server's. NOTE: two requests that arrive at the same moment can both
    pass the limits, so the cap per assessment may be exceeded by a few events.
    """
    async with get_host(request).session() as session:
        assessment = await _find(session, request)
        if assessment is None:
            return JSONResponse({"error": INVALID_LINK}, status_code=404)

        if not _header_csrf_ok(request):
            return JSONResponse({"error": FORM_EXPIRED, "field": CSRF_FIELD}, status_code=403)
        try:
            body = await _json_body(request, '{"kind": "focus_lost"}')
            kind = _parse_focus_kind(body.get("kind"))
            await _ensure_accepting_events(session, assessment)
            error = await _focus_event_rejection(session, assessment, kind)
        except RequestValidationError as exc:
            logger.info("focus event for assessment %s rejected: field %s: %s", assessment.id, exc.field, exc.message)
            return _json_error(exc)
        except Conflict as exc:
            logger.info("focus event for assessment %s rejected: %s", assessment.id, exc)
            return await _json_conflict(session, exc)

        if error is not None:
            # Debug level, because a page that floods the endpoint would flood the log too.
            logger.debug("focus event for assessment %s rejected: %s", assessment.id, error)
            return JSONResponse({"error": error}, status_code=429)
        engine.record_event(session, assessment, kind)
        await session.commit()
    return JSONResponse({"recorded": True})


async def _save_posted_answers(session: AsyncSession, assessment: Assessment, form: FormData) -> None:
    """Save the answers in the submitted form that differ from the saved ones.

    Answers the page already saved on change are skipped, so the timeline shows each
    choice once.
    """
    saved = await _saved_answers(session, assessment.id)
    for name, value in form.multi_items():
        if not name.startswith(ANSWER_FIELD_PREFIX):
            continue
        question_id = name[len(ANSWER_FIELD_PREFIX):]
        option = _parse_option(value)
        if saved.get(question_id) != option:
            await engine.save_answer(session, assessment, question_id, option)
            saved[question_id] = option


async def submit(request: Request) -> Response:
    token = request.path_params["token"]
    async with get_host(request).session() as session:
        assessment = await _find(session, request)
        if assessment is None:
            return _invalid_link(request)

        form = await read_form(request)
        if not check_csrf(request, form):
            return _message(request, "Form expired", FORM_EXPIRED, 400, back_url=_take_url(token))

        try:
            await _save_posted_answers(session, assessment, form)
            await engine.submit(session, assessment)
        except RequestValidationError as exc:
            logger.info("submit of assessment %s rejected: field %s: %s", assessment.id, exc.field, exc.message)
            back_url = _back_url(assessment, token)
            await session.rollback()
            return _message(request, "Answers not saved", exc.message, 422, back_url=back_url)
        except Conflict as exc:
            logger.info("submit of assessment %s rejected: %s", assessment.id, exc)
            back_url = _back_url(assessment, token)
            title = _closed_title(assessment, "Cannot submit")
            await session.rollback()
            return _message(request, title, str(exc), 409, back_url=back_url)
        await session.commit()
    return redirect(_take_url(token))


def routes() -> list[Route]:
    return [
        Route("/take/{token}", take_page, methods=["GET"], name="take"),
        Route("/take/{token}/start", start, methods=["POST"]),
        Route("/take/{token}/answer", answer, methods=["POST"]),
        Route("/take/{token}/events", focus_event, methods=["POST"]),
        Route("/take/{token}/submit", submit, methods=["POST"]),
    ]
