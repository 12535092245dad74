"""The admin's assessment list and the report of one assessment, as a page, JSON and PDF.

The report is what the ATS's "View in Langos" link opens: a signed-out admin is sent to
sign in and then straight back to it. The JSON and PDF downloads follow the same rule.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from typing import Any, Mapping
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import engine
from ..exceptions import NotFound
from ..models import AdminUser, Assessment, Delivery, TimelineEvent, utcnow
from .common import current_user, get_host, login_redirect, render
from .report_pdf import missing_score_text, render_report_pdf, time_taken_text
from .report_chart import score_chart
from .report_timeline import FocusSummary, focus_summary, replay_steps, timeline_entries

PAGE_SIZE = 50

STATUS_LABELS = {
    "invited": "Invited",
    "started": "In progress",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "expired": "Expired",
}
# The list's filters: query parameter and the label the form shows, which error messages name.
FILTER_LABELS = {
    "job": "Job",
    "status": "Status",
    "result": "Result",
    "score_min": "Minimum score",
    "score_max": "Maximum score",
    "created_from": "Created from",
    "created_to": "Created to",
}
# The result filter's values: pass or fail against the pass mark.
RESULT_LABELS = {"passed": "Passed", "failed": "Failed"}
# Bad filter values are quoted in messages up to this many characters.
SHOWN_VALUE_CHARS = 40

NOT_FOUND = "This assessment does not exist in your workspace. Open it from the list of assessments."


# ---- the assessment list ---------------------------------------------------------------


def _page_number(raw: str | None) -> int:
    """Return the requested page, falling back to the first page for anything but a positive number."""
    try:
        page = int(raw or "1")
    except ValueError:
        return 1
    return max(page, 1)


def _shown(value: str) -> str:
    return repr(value if len(value) <= SHOWN_VALUE_CHARS else value[:SHOWN_VALUE_CHARS] + "…")


@dataclasses.dataclass(frozen=True)
class ListFilters:
    """The assessment list's filters, where None means the filter is not set."""

    job: str | None = None
    status: str | None = None
    result: str | None = None
    score_min: float | None = None
    score_max: float | None = None
    created_from: dt.date | None = None
    created_to: dt.date | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """Return the WHERE conditions. Dates are whole UTC days, and ``created_to`` is included."""
        conditions: list[ColumnElement[bool]] = []
        if self.job is not None:
            conditions.append(Assessment.job_name == self.job)
        if self.status is not None:
            conditions.append(Assessment.status == self.status)
        if self.result is not None:
            conditions.append(Assessment.passed.is_(self.result == "passed"))
        if self.score_min is not None:
            conditions.append(Assessment.score >= self.score_min)
        if self.score_max is not None:
            conditions.append(Assessment.score <= self.score_max)
        if self.created_from is not None:
            conditions.append(Assessment.created_at >= _utc_midnight(self.created_from))
        if self.created_to is not None and self.created_to < dt.date.max:
            conditions.append(Assessment.created_at < _utc_midnight(self.created_to + dt.timedelta(days=1)))
        return conditions

    def query(self) -> dict[str, str]:
        """Return the set filters as query parameters, for the page links."""
        values = {
            "job": self.job,
            "status": self.status,
            "result": self.result,
            "score_min": None if self.score_min is None else f"{self.score_min:g}",
            "score_max": None if self.score_max is None else f"{self.score_max:g}",
            "created_from": None if self.created_from is None else self.created_from.isoformat(),
            "created_to": None if self.created_to is None else self.created_to.isoformat(),
        }
        return {name: value for name, value in values.items() if value is not None}


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone.utc)


def _parse_score(name: str, raw: str, errors: list[str]) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value <= 100:
        errors.append(
            f"{FILTER_LABELS[name]}: {_shown(raw)} is not a number from 0 to 100. "
            "Enter a score such as 70, or leave the field empty."
        )
        return None
    return value


def _parse_date(name: str, raw: str, errors: list[str]) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors.append(
            f"{FILTER_LABELS[name]}: {_shown(raw)} is not a date. "
            "Enter a date as YYYY-MM-DD, such as 2024-05-01, or leave the field empty."
        )
        return None


def parse_filters(params: Mapping[str, str], jobs: list[str]) -> tuple[ListFilters, list[str]]:
    """Read the list's filters from the query string and return them with one message per invalid field.

    ``jobs`` are the workspace's job names, the only values the job filter accepts. An
    empty field is not set.
    """
    raw = {name: params.get(name, "").strip() for name in FILTER_LABELS}
    errors: list[str] = []

    job = raw["job"] or None
    if job is not None and job not in jobs:
        errors.append(f"Job: {_shown(job)} is not a job in your workspace. Pick a job from the list.")
    status = raw["status"] or None
    if status is not None and status not in STATUS_LABELS:
        errors.append(
            f"Status: {_shown(status)} is not a status. Pick one of {', '.join(STATUS_LABELS.values())}."
        )
    result = raw["result"] or None
    if result is not None and result not in RESULT_LABELS:
        errors.append(f"Result: {_shown(result)} is not a result. Pick Passed or Failed.")

    score_min = _parse_score("score_min", raw["score_min"], errors) if raw["score_min"] else None
    score_max = _parse_score("score_max", raw["score_max"], errors) if raw["score_max"] else None
    if score_min is not None and score_max is not None and score_min > score_max:
        errors.append(
            f"Minimum score: {score_min:g} is above the maximum score {score_max:g}. "
            "Enter a minimum that is at most the maximum."
        )

    created_from = _parse_date("created_from", raw["created_from"], errors) if raw["created_from"] else None
    created_to = _parse_date("created_to", raw["created_to"], errors) if raw["created_to"] else None
    if created_from is not None and created_to is not None and created_from > created_to:
        errors.append(
            f"Created from: {created_from.isoformat()} is after the end date {created_to.isoformat()}. "
            "Enter a start date on or before the end date."
        )

    filters = ListFilters(job, status, result, score_min, score_max, created_from, created_to)
    return filters, errors


async def _job_names(session: AsyncSession, workspace_id: str) -> list[str]:
    rows = await session.scalars(
        select(Assessment.job_name)
        .where(Assessment.workspace_id == workspace_id, Assessment.job_name.is_not(None))
        .distinct()
        .order_by(Assessment.job_name)
    )
    return [name for name in rows if name]


def _list_url(filters: ListFilters, page: int) -> str:
    return "/assessments?" + urlencode({**filters.query(), "page": str(page)})


async def assessments_page(request: Request) -> Response:
    async with get_host(request).session() as session:
        user = await current_user(request, session)
        if user is None:
            return login_redirect(request)

        jobs = await _job_names(session, user.workspace_id)
        filters, errors = parse_filters(request.query_params, jobs)
        context: dict[str, Any] = {
            "jobs": jobs,
            "statuses": STATUS_LABELS,
            "results": RESULT_LABELS,
            "status_labels": STATUS_LABELS,
            "form": {name: request.query_params.get(name, "") for name in FILTER_LABELS},
            "filtered": bool(filters.query()) or bool(errors),
            "errors": errors,
        }
        if errors:
            return render(request, "reports/assessments.html", context, status_code=400)

        conditions = [Assessment.workspace_id == user.workspace_id, *filters.conditions()]
        total = await session.scalar(select(func.count()).select_from(Assessment).where(*conditions)) or 0
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(_page_number(request.query_params.get("page")), pages)
        rows = await session.scalars(
            select(Assessment)
            .where(*conditions)
            .order_by(Assessment.created_at.desc(), Assessment.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
        context.update(
            assessments=list(rows),
            page=page,
            pages=pages,
            total=total,
            previous_url=_list_url(filters, page - 1) if page > 1 else None,
            next_url=_list_url(filters, page + 1) if page < pages else None,
        )
        return render(request, "reports/assessments.html", context)


# ---- categories and loading ------------------------------------------------------------


def category_rows(assessment: Assessment) -> list[dict[str, Any]]:
    """Return each category's percentage, for the bars, with the weight its type gives it."""
    weights = {category.name: category.weight for category in assessment.assessment_type.categories}
    rows = []
    for item in assessment.category_scores or []:
        max_score = item.get("max_score") or 100.0
        percent = round(100.0 * float(item.get("score", 0.0)) / float(max_score), 1)
        rows.append({"name": item.get("name", ""), "percent": percent, "weight": weights.get(item.get("name"))})
    return rows


def _web_url(url: str | None) -> str | None:
    """Return ``url`` when it is an http(s) URL, else None.

    The ATS supplies the URL, so a ``javascript:`` URL must not reach an ``href``.
    """
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


def result_label(assessment: Assessment) -> str | None:
    """Return "Passed" or "Failed" against the pass mark, or None without a pass mark or a score."""
    if assessment.passed is None:
        return None
    return "Passed" if assessment.passed else "Failed"


def _session_end(assessment: Assessment, now: dt.datetime) -> dt.datetime:
    """Return when the candidate's session ended, or ``now`` (at most the deadline) while it runs."""
    for ended in (assessment.completed_at, assessment.cancelled_at, assessment.expired_at):
        if ended is not None:
            return ended
    due = engine.deadline(assessment)
    return min(now, due) if due is not None else now


def assessment_focus(assessment: Assessment, events: list[TimelineEvent], now: dt.datetime) -> FocusSummary:
    return focus_summary(events, _session_end(assessment, now))


async def _timeline(session: AsyncSession, assessment_id: str) -> list[TimelineEvent]:
    rows = await session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.assessment_id == assessment_id)
        .order_by(TimelineEvent.at, TimelineEvent.id)
    )
    return list(rows)


async def _deliveries(session: AsyncSession, assessment: Assessment) -> list[Delivery]:
    rows = await session.scalars(
        select(Delivery)
        .where(Delivery.assessment_id == assessment.id, Delivery.workspace_id == assessment.workspace_id)
        .order_by(Delivery.created_at, Delivery.id)
    )
    return list(rows)


async def _assessment_of(session: AsyncSession, user: AdminUser, assessment_id: str) -> Assessment:
    """Return the assessment in the admin's workspace, or raise a 404."""
    try:
        return await engine.get_assessment(session, user.workspace_id, assessment_id)
    except NotFound:
        raise HTTPException(404, NOT_FOUND) from None


# ---- the report page -------------------------------------------------------------------


async def report_page(request: Request) -> Response:
    async with get_host(request).session() as session:
        user = await current_user(request, session)
        if user is None:
            return login_redirect(request)

        assessment = await _assessment_of(session, user, request.path_params["assessment_id"])
        events = await _timeline(session, assessment.id)
        categories = category_rows(assessment)
        context = {
            "assessment": assessment,
            "profile_url": _web_url(assessment.candidate_profile_url),
            "status_label": STATUS_LABELS.get(assessment.status, assessment.status),
            "result_label": result_label(assessment),
            "categories": categories,
            "chart": score_chart(categories, assessment.score, assessment.pass_mark),
            "focus": assessment_focus(assessment, events, utcnow()),
            "timeline": timeline_entries(events, assessment.assessment_type),
            "replay": replay_steps(events, assessment.assessment_type),
            "deliveries": await _deliveries(session, assessment),
            "email_languages": engine.EMAIL_LANGUAGES,
            "time_taken": time_taken_text(assessment.duration_minutes, assessment.effective_time_limit),
            "missing_score": missing_score_text(assessment.status),
            # The values of a rejected resend, extend or cancel form, so the admin can correct them.
            "invitation_form": request.session.pop("invitation_form", {}),
        }
        return render(request, "reports/report.html", context)


# ---- the JSON and PDF downloads --------------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def report_data(assessment: Assessment, events: list[TimelineEvent], now: dt.datetime) -> dict[str, Any]:
    """Return the report as plain JSON values: times are ISO 8601 strings in UTC.

    ``now`` ends a time away from the page that has not ended yet. docs/reports.md lists
    every key, and a test fails when one is missing there.
    """
    assessment_type = assessment.assessment_type
    weights = {category.name: category.weight for category in assessment_type.categories}
    return {
        "id": assessment.id,
        "candidate": {
            "name": assessment.candidate_name,
            "email": assessment.candidate_email,
            "profile_url": _web_url(assessment.candidate_profile_url),
        },
        "job": {"name": assessment.job_name, "external_id": assessment.external_job_id},
        "assessment_type": {
            "id": assessment_type.id,
            "name": assessment_type.name,
            "time_limit_minutes": assessment_type.time_limit_minutes,
        },
        "status": assessment.status,
        "status_label": STATUS_LABELS.get(assessment.status, assessment.status),
        "score": assessment.score,
        "max_score": assessment.max_score,
        "pass_mark": assessment.pass_mark,
        "passed": assessment.passed,
        "result_label": result_label(assessment),
        "categories": [
            {
                "name": item.get("name", ""),
                "score": item.get("score"),
                "max_score": item.get("max_score"),
                "weight": weights.get(item.get("name")),
            }
            for item in assessment.category_scores or []
        ],
        "created_at": _iso(assessment.created_at),
        "started_at": _iso(assessment.started_at),
        "completed_at": _iso(assessment.completed_at),
        "cancelled_at": _iso(assessment.cancelled_at),
        "cancelled_reason": assessment.cancelled_reason,
        "expires_at": _iso(assessment.expires_at),
        "expired_at": _iso(assessment.expired_at),
        "time_limit_minutes": assessment.effective_time_limit,
        "duration_minutes": assessment.duration_minutes,
        "focus": assessment_focus(assessment, events, now).as_json(),
        "timeline": [
            {
                "at": _iso(entry["at"]),
                "kind": entry["kind"],
                "label": entry["label"],
                "detail": entry["detail"],
                "external_event_id": entry["external_event_id"],
            }
            for entry in timeline_entries(events, assessment_type)
        ],
    }


def _download(content: bytes, media_type: str, filename: str) -> Response:
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        # The report contains a candidate's personal data.
        "Cache-Control": "no-store",
    }
    return Response(content, media_type=media_type, headers=headers)


async def _report_download(request: Request) -> tuple[Assessment, dict[str, Any]] | Response:
    """Load the report's data for a download, or return the sign-in redirect."""
    async with get_host(request).session() as session:
        user = await current_user(request, session)
        if user is None:
            return login_redirect(request)

        assessment = await _assessment_of(session, user, request.path_params["assessment_id"])
        return assessment, report_data(assessment, await _timeline(session, assessment.id), utcnow())


async def report_json(request: Request) -> Response:
    loaded = await _report_download(request)
    if isinstance(loaded, Response):
        return loaded

    assessment, data = loaded
    content = json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")
    return _download(content, "application/json", f"langos-report-{assessment.id}.json")


async def report_pdf(request: Request) -> Response:
    loaded = await _report_download(request)
    if isinstance(loaded, Response):
        return loaded

    assessment, data = loaded
    # Laying out the PDF is CPU-bound, so it runs off the event loop.
    content = await run_in_threadpool(render_report_pdf, data, utcnow())
    return _download(content, "application/pdf", f"langos-report-{assessment.id}.pdf")


def routes() -> list[Route]:
    # The download routes come first, because "/reports/{assessment_id}" also matches "x.json".
    return [
        Route("/assessments", assessments_page, methods=["GET"], name="assessments"),
        Route("/reports/{assessment_id}.json", report_json, methods=["GET"], name="report_json"),
        Route("/reports/{assessment_id}.pdf", report_pdf, methods=["GET"], name="report_pdf"),
        Route("/reports/{assessment_id}", report_page, methods=["GET"], name="report"),
    ]
