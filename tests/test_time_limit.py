"""The server-enforced time limit: late answers and late submissions complete the assessment."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select, update

from core.models import Answer, Assessment, Delivery, Question, TimelineEvent
from tests.helpers_web import Web, client_for, csrf_in, open_web, order_assessment, sign_in

# The demo type "Backend Python (30 min)" has a time limit of 30 minutes.
TIME_UP = "The time limit of 30 minutes has passed; your saved answers were submitted."
ALREADY_SUBMITTED = "This assessment has already been submitted."


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[Web]:
    async with open_web(tmp_path) as running:
        yield running


async def start(client: httpx.AsyncClient, token: str) -> str:
    """Open the welcome page, press Start and return the session's CSRF token."""
    welcome = await client.get(f"/take/{token}")
    csrf = csrf_in(welcome.text)
    response = await client.post(f"/take/{token}/start", data={"csrf_token": csrf})
    assert response.status_code == 303
    return csrf


async def save(client: httpx.AsyncClient, token: str, csrf: str, question_id: str, option: int) -> httpx.Response:
    return await client.post(
        f"/take/{token}/answer", json={"question_id": question_id, "option": option}, headers={"X-CSRF-Token": csrf}
    )


async def first_questions(web: Web, assessment_id: str) -> list[Question]:
    """Return the first question of each category, in order."""
    async with web.app.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        assert assessment is not None
        return [category.questions[0] for category in assessment.assessment_type.categories]


async def move_start_back(web: Web, assessment_id: str, minutes: float) -> dt.datetime:
    """Move the assessment's ``started_at`` back by ``minutes`` and return the new value."""
    async with web.app.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        assert assessment is not None and assessment.started_at is not None
        started_at = assessment.started_at - dt.timedelta(minutes=minutes)
        await session.execute(update(Assessment).where(Assessment.id == assessment_id).values(started_at=started_at))
        await session.commit()
    return started_at


async def load(web: Web, assessment_id: str) -> Assessment:
    async with web.app.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        assert assessment is not None
        return assessment


async def test_answer_within_limit_is_saved(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    csrf = await start(web.client, token)
    question = (await first_questions(web, assessment_id))[0]
    await move_start_back(web, assessment_id, 29)

    response = await save(web.client, token, csrf, question.id, question.correct_option)

    assert response.status_code == 200
    assert (await load(web, assessment_id)).status == "started"


async def test_answer_after_limit_conflicts(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    csrf = await start(web.client, token)
    python, http_question, _ = await first_questions(web, assessment_id)
    assert (await save(web.client, token, csrf, python.id, python.correct_option)).status_code == 200
    started_at = await move_start_back(web, assessment_id, 31)

    response = await save(web.client, token, csrf, http_question.id, http_question.correct_option)

    assert response.status_code == 409
    assert response.json() == {"error": TIME_UP}
    assessment = await load(web, assessment_id)
    assert assessment.status == "completed"
    assert assessment.completed_at == started_at + dt.timedelta(minutes=30)
    assert assessment.duration_minutes == 30
    # Only the answer saved in time counts: one of the Python questions is correct.
    assert assessment.score is not None and assessment.score > 0
    assert assessment.category_scores is not None
    assert [item["name"] for item in assessment.category_scores] == ["Python", "HTTP", "Databases"]
    assert assessment.category_scores[1]["score"] == 0


async def test_answer_after_limit_is_not_stored(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    csrf = await start(web.client, token)
    question = (await first_questions(web, assessment_id))[0]
    await move_start_back(web, assessment_id, 31)

    await save(web.client, token, csrf, question.id, question.correct_option)

    async with web.app.state.host.session() as session:
        answers = await session.scalar(select(func.count()).where(Answer.assessment_id == assessment_id))
        answer_events = await session.scalar(
            select(func.count()).where(TimelineEvent.assessment_id == assessment_id, TimelineEvent.kind == "answer")
        )
    assert answers == 0
    assert answer_events == 0
    assert (await load(web, assessment_id)).score == 0


async def test_time_limit_records_source_and_delivery(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    csrf = await start(web.client, token)
    question = (await first_questions(web, assessment_id))[0]
    await move_start_back(web, assessment_id, 45)

    await save(web.client, token, csrf, question.id, 0)

    async with web.app.state.host.session() as session:
        submitted = (
            await session.scalars(
                select(TimelineEvent).where(TimelineEvent.assessment_id == assessment_id, TimelineEvent.kind == "submitted")
            )
        ).all()
        deliveries = (
            await session.scalars(
                select(Delivery).where(Delivery.assessment_id == assessment_id).order_by(Delivery.sequence)
            )
        ).all()
    assert len(submitted) == 1
    assert submitted[0].detail == {"source": "time limit", "score": 0.0}
    assert [(delivery.event, delivery.status) for delivery in deliveries] == [
        ("started", "pending"),
        ("completed", "pending"),
    ]


async def test_second_late_answer_is_already_submitted(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    csrf = await start(web.client, token)
    question = (await first_questions(web, assessment_id))[0]
    await move_start_back(web, assessment_id, 31)

    first = await save(web.client, token, csrf, question.id, 0)
    second = await save(web.client, token, csrf, question.id, 1)

    assert first.json() == {"error": TIME_UP}
    assert second.status_code == 409
    assert second.json() == {"error": ALREADY_SUBMITTED}
    async with web.app.state.host.session() as session:
        completions = await session.scalar(
            select(func.count()).where(Delivery.assessment_id == assessment_id, Delivery.event == "completed")
        )
    assert completions == 1


async def test_submit_after_limit_conflicts(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    csrf = await start(web.client, token)
    python, http_question, _ = await first_questions(web, assessment_id)
    assert (await save(web.client, token, csrf, python.id, python.correct_option)).status_code == 200
    await move_start_back(web, assessment_id, 31)

    response = await web.client.post(f"/take/{token}/submit", data={"csrf_token": csrf})

    assert response.status_code == 409
    assert TIME_UP in response.text
    assert "Back to the assessment" not in response.text
    assessment = await load(web, assessment_id)
    assert assessment.status == "completed"
    assert assessment.score is not None and assessment.score > 0


async def test_submit_after_limit_ignores_posted_answers(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    csrf = await start(web.client, token)
    python, http_question, _ = await first_questions(web, assessment_id)
    await move_start_back(web, assessment_id, 31)

    form = {"csrf_token": csrf, f"q_{python.id}": str(python.correct_option)}
    response = await web.client.post(f"/take/{token}/submit", data=form)

    assert response.status_code == 409
    assert TIME_UP in response.text
    assessment = await load(web, assessment_id)
    assert assessment.status == "completed"
    assert assessment.score == 0


async def test_take_page_after_time_limit_shows_submitted(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    csrf = await start(web.client, token)
    question = (await first_questions(web, assessment_id))[0]
    await move_start_back(web, assessment_id, 31)
    await save(web.client, token, csrf, question.id, 0)

    response = await web.client.get(f"/take/{token}")

    assert response.status_code == 200
    assert "your answers were submitted" in response.text


async def test_report_shows_time_limit_completion(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    csrf = await start(web.client, token)
    question = (await first_questions(web, assessment_id))[0]
    assert (await save(web.client, token, csrf, question.id, question.correct_option)).status_code == 200
    await move_start_back(web, assessment_id, 31)
    await save(web.client, token, csrf, question.id, 0)

    async with client_for(web.app) as admin:
        await sign_in(admin, web.seeded.admin_email)
        response = await admin.get(f"/reports/{assessment_id}")

    assessment = await load(web, assessment_id)
    assert response.status_code == 200
    assert f'data-testid="score">{assessment.score:g}%<' in response.text
    assert "when the time limit ran out" in response.text
    assert "30 minutes (time limit 30 minutes)" in response.text


async def test_worker_completes_abandoned_assessment(tmp_path) -> None:
    """A candidate who never comes back still gets a result once the time limit passes."""
    import datetime as dt

    from core.delivery import DeliveryWorker
    from core.engine import begin
    from core.models import Assessment, Delivery
    from sqlalchemy import select
    from tests.helpers_web import open_web, order_assessment

    async with open_web(tmp_path) as web:
        assessment_id, _token = await order_assessment(web.app, web.seeded)
        host = web.app.state.host
        async with host.session() as session:
            assessment = await session.get(Assessment, assessment_id)
            await begin(session, assessment)
            assessment.started_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
            await session.commit()

        worker = DeliveryWorker(host)
        await worker._complete_overdue()

        async with host.session() as session:
            assessment = await session.get(Assessment, assessment_id)
            events = list(await session.scalars(
                select(Delivery.event).where(Delivery.assessment_id == assessment_id).order_by(Delivery.sequence)
            ))
    assert assessment.status == "completed"
    assert assessment.score is not None
    assert events == ["started", "completed"]


async def test_worker_uses_the_assessment_own_limit(tmp_path) -> None:
    """Raising the type's time limit later does not delay the sweep of a running assessment."""
    import datetime as dt

    from core.delivery import DeliveryWorker
    from core.engine import begin
    from core.models import Assessment, AssessmentType
    from sqlalchemy import update
    from tests.helpers_web import open_web, order_assessment

    async with open_web(tmp_path) as web:
        assessment_id, _token = await order_assessment(web.app, web.seeded)
        host = web.app.state.host
        async with host.session() as session:
            assessment = await session.get(Assessment, assessment_id)
            await begin(session, assessment)
            limit = assessment.time_limit_minutes
            assessment.started_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=limit + 1)
            await session.execute(update(AssessmentType).values(time_limit_minutes=limit + 600))
            await session.commit()

        await DeliveryWorker(host)._complete_overdue()

        async with host.session() as session:
            assessment = await session.get(Assessment, assessment_id)
    assert assessment.status == "completed"
