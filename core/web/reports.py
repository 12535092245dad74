"""The admin's assessment list and the report of one assessment.

The report is what the ATS's "View in Langos" link opens: a signed-out admin is sent to
sign in and then straight back to it.
"""

from __future__ import annotations

import json
import math
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import engine
from ..exceptions import NotFound
from ..models import Assessment, AssessmentType, Delivery, Question, TimelineEvent
from .common import current_user, get_host, login_redirect, render

PAGE_SIZE = 50

STATUS_LABELS = {"invited": "Invited", "started": "In progress", "completed": "Completed", "cancelled": "Cancelled"}
EVENT_LABELS = {
    "invited": "Invited",
    "opened": "Opened the link",
    "started": "Started",
    "answer": "Answer saved",
    "submitted": "Submitted",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "progress": "Progress",
}
SOURCE_LABELS = {"candidate": "by the candidate", "engine": "reported by the assessment engine"}


def _page_number(raw: str | None) -> int:
    """Return the requested page, falling back to the first page for anything but a positive number."""
    try:
        page = int(raw or "1")
    except ValueError:
        return 1
    return max(page, 1)


async def assessments_page(request: Request) -> Response:
    async with get_host(request).session() as session:
        user = await current_user(request, session)
        if user is None:
            return login_redirect(request)

        in_workspace = Assessment.workspace_id == user.workspace_id
        total = await session.scalar(select(func.count()).select_from(Assessment).where(in_workspace)) or 0
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(_page_number(request.query_params.get("page")), pages)
        rows = await session.scalars(
            select(Assessment)
            .where(in_workspace)
            .order_by(Assessment.created_at.desc(), Assessment.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
        context = {
            "assessments": list(rows),
            "page": page,
            "pages": pages,
            "total": total,
            "status_labels": STATUS_LABELS,
        }
        return render(request, "reports/assessments.html", context)


def _questions(assessment_type: AssessmentType) -> dict[str, Question]:
    return {question.id: question for category in assessment_type.categories for question in category.questions}


def _answer_detail(detail: dict[str, Any], questions: dict[str, Question]) -> str:
    question = questions.get(str(detail.get("question_id")))
    option = detail.get("option")
    if question is None:
        return f"question {detail.get('question_id')!r} (no longer part of this assessment type), option {option!r}"
    if isinstance(option, int) and 0 <= option < len(question.options):
        return f"{question.prompt} → {question.options[option]}"
    return f"{question.prompt} → option {option!r}"


def _event_detail(event: TimelineEvent, questions: dict[str, Question]) -> str:
    """Describe an event's details in a sentence fragment an admin can read."""
    detail = event.detail or {}
    if event.kind == "invited" and detail.get("email"):
        return f"invitation email to {detail['email']}"
    if event.kind == "answer":
        return _answer_detail(detail, questions)
    if event.kind == "submitted":
        source = SOURCE_LABELS.get(str(detail.get("source")), f"from {detail.get('source')}")
        score = detail.get("score")
        return f"{source}, score {score:g}%" if isinstance(score, (int, float)) else source
    if event.kind == "cancelled" and detail.get("by") == "ats":
        return "by the employer in the ATS"
    return ", ".join(f"{key}: {_plain(value)}" for key, value in detail.items())


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def timeline_entries(events: list[TimelineEvent], assessment_type: AssessmentType) -> list[dict[str, Any]]:
    """Turn the assessment's timeline events into labelled rows, in the order given."""
    questions = _questions(assessment_type)
    return [
        {
            "at": event.at,
            "kind": event.kind,
            "label": EVENT_LABELS.get(event.kind, event.kind.replace("_", " ").capitalize()),
            "detail": _event_detail(event, questions),
            "external_event_id": event.external_event_id,
        }
        for event in events
    ]


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


async def report_page(request: Request) -> Response:
    async with get_host(request).session() as session:
        user = await current_user(request, session)
        if user is None:
            return login_redirect(request)

        try:
            assessment = await engine.get_assessment(session, user.workspace_id, request.path_params["assessment_id"])
        except NotFound:
            raise HTTPException(
                404, "This assessment does not exist in your workspace. Open it from the list of assessments."
            ) from None

        context = {
            "assessment": assessment,
            "profile_url": _web_url(assessment.candidate_profile_url),
            "status_label": STATUS_LABELS.get(assessment.status, assessment.status),
            "categories": category_rows(assessment),
            "timeline": timeline_entries(await _timeline(session, assessment.id), assessment.assessment_type),
            "deliveries": await _deliveries(session, assessment),
        }
        return render(request, "reports/report.html", context)


def routes() -> list[Route]:
    return [
        Route("/assessments", assessments_page, methods=["GET"], name="assessments"),
        Route("/reports/{assessment_id}", report_page, methods=["GET"], name="report"),
    ]
