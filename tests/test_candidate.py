"""The candidate's pages: welcome, answering, changing an answer, submitting, focus events
and closed links.

tests/test_browser_journey.py runs the questions page's script in Chromium.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path
from typing import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select, update

from core import invitations
from core.models import Answer, Assessment, Question, TimelineEvent, utcnow
from core.web.candidate import MAX_FOCUS_EVENTS, MAX_OPENED_EVENTS
from tests.helpers_web import (
    Web,
    cancel,
    client_for,
    csrf_in,
    open_web,
    order_assessment,
    timeline_kinds,
)

INVALID_LINK = (
    "This link is not valid. If you received a newer email about this assessment, "
    "use the link in the newest one. Otherwise, contact the employer who invited you."
)
CANCELLED = "This assessment was cancelled by the employer and can no longer be taken."
EXPIRED = "This invitation has expired. Ask the employer to send a new one."
BACK_LINK = "Back to the assessment"


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[Web]:
    async with open_web(tmp_path) as running:
        yield running


async def questions_by_category(web: Web, assessment_id: str) -> dict[str, list[Question]]:
    async with web.app.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        assert assessment is not None
        return {category.name: list(category.questions) for category in assessment.assessment_type.categories}


async def load(web: Web, assessment_id: str) -> Assessment:
    async with web.app.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        assert assessment is not None
        return assessment


async def start(client: httpx.AsyncClient, token: str) -> str:
    """Open the welcome page and press Start; return the session's CSRF token."""
    welcome = await client.get(f"/take/{token}")
    csrf = csrf_in(welcome.text)
    response = await client.post(f"/take/{token}/start", data={"csrf_token": csrf})
    assert response.status_code == 303
    return csrf


async def save(client: httpx.AsyncClient, token: str, csrf: str, question_id: str, option: object) -> httpx.Response:
    return await client.post(
        f"/take/{token}/answer",
        json={"question_id": question_id, "option": option},
        headers={"X-CSRF-Token": csrf},
    )


async def test_take_unknown_token_is_not_found(web: Web) -> None:
    response = await web.client.get("/take/not-a-real-token")

    assert response.status_code == 404
    assert INVALID_LINK in response.text


async def test_take_invited_shows_welcome(web: Web) -> None:
    _, token = await order_assessment(web.app, web.seeded)

    response = await web.client.get(f"/take/{token}")

    assert response.status_code == 200
    assert "Backend Python (30 min)" in response.text
    assert re.search(r'data-testid="time-limit">30 minutes<', response.text)
    assert re.search(r'data-testid="question-count">7<', response.text)
    assert f'action="/take/{token}/start"' in response.text
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_take_records_opened_once_per_minute(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)

    await web.client.get(f"/take/{token}")
    await web.client.get(f"/take/{token}")

    assert (await timeline_kinds(web.app, assessment_id)).count("opened") == 1


async def test_start_redirects_to_questions(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    csrf = await start(web.client, token)

    page = await web.client.get(f"/take/{token}")

    assert page.status_code == 200
    assert page.text.count('data-testid="category"') == 3
    assert page.text.count('data-testid="question"') == 7
    assert f'action="/take/{token}/submit"' in page.text
    assert 'data-testid="closed-notice" hidden' in page.text
    assert csrf_in(page.text) == csrf
    assert (await load(web, assessment_id)).status == "started"


async def test_start_requires_csrf(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    await web.client.get(f"/take/{token}")

    response = await web.client.post(f"/take/{token}/start", data={"csrf_token": "wrong"})

    assert response.status_code == 400
    assert (await load(web, assessment_id)).status == "invited"


async def test_candidate_flow_scores_each_category(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    questions = await questions_by_category(web, assessment_id)
    python, http, databases = questions["Python"], questions["HTTP"], questions["Databases"]
    csrf = await start(web.client, token)

    first = await save(web.client, token, csrf, python[0].id, 0)
    changed = await save(web.client, token, csrf, python[0].id, 1)
    wrong = await save(web.client, token, csrf, python[1].id, 2)
    page = await web.client.get(f"/take/{token}")
    submitted = await web.client.post(
        f"/take/{token}/submit",
        data={
            "csrf_token": csrf,
            f"q_{python[0].id}": "1",
            f"q_{python[1].id}": "2",
            f"q_{python[2].id}": "1",
            f"q_{http[0].id}": "1",
            f"q_{http[1].id}": "1",
            f"q_{databases[0].id}": "1",
            f"q_{databases[1].id}": "2",
        },
    )
    thanks = await web.client.get(f"/take/{token}")
    assessment = await load(web, assessment_id)

    assert first.json() == {"saved": True}
    assert changed.json() == {"saved": True}
    assert wrong.json() == {"saved": True}
    assert f'name="q_{python[0].id}" value="1" checked' in page.text
    assert f'name="q_{python[0].id}" value="0" checked' not in page.text
    assert submitted.status_code == 303
    assert submitted.headers["location"] == f"/take/{token}"
    assert "Thank you, your answers were submitted." in thanks.text
    assert "%" not in thanks.text
    assert assessment.status == "completed"
    scores = {item["name"]: item["score"] for item in assessment.category_scores or []}
    assert scores == {"Python": 66.7, "HTTP": 100.0, "Databases": 50.0}
    assert assessment.score == pytest.approx((66.7 * 2 + 100.0 + 50.0) / 4, abs=0.05)


async def test_answer_change_replaces_saved_answer(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    question = (await questions_by_category(web, assessment_id))["HTTP"][0]
    csrf = await start(web.client, token)

    await save(web.client, token, csrf, question.id, 0)
    await save(web.client, token, csrf, question.id, 2)
    async with web.app.state.host.session() as session:
        answers = list(await session.scalars(select(Answer).where(Answer.assessment_id == assessment_id)))

    assert len(answers) == 1
    assert answers[0].selected_option == 2
    assert (await timeline_kinds(web.app, assessment_id)).count("answer") == 2


async def test_answer_accepts_form_post(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    question = (await questions_by_category(web, assessment_id))["HTTP"][0]
    csrf = await start(web.client, token)

    response = await web.client.post(
        f"/take/{token}/answer", data={"csrf_token": csrf, "question_id": question.id, "option": "1"}
    )

    assert response.status_code == 200
    assert response.json() == {"saved": True}


async def test_answer_rejects_unknown_question(web: Web) -> None:
    _, token = await order_assessment(web.app, web.seeded)
    csrf = await start(web.client, token)

    response = await save(web.client, token, csrf, "no-such-question", 0)

    assert response.status_code == 422
    assert response.json()["field"] == "question_id"
    assert "no-such-question" in response.json()["error"]


async def test_answer_rejects_option_out_of_range(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    question = (await questions_by_category(web, assessment_id))["Python"][0]
    csrf = await start(web.client, token)

    response = await save(web.client, token, csrf, question.id, 3)

    assert response.status_code == 422
    assert response.json()["field"] == "option"
    assert "choose 0 to 2" in response.json()["error"]


@pytest.mark.parametrize("option", ["first", True, None, 1.5])
async def test_answer_rejects_non_integer_option(web: Web, option: object) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    question = (await questions_by_category(web, assessment_id))["Python"][0]
    csrf = await start(web.client, token)

    response = await save(web.client, token, csrf, question.id, option)

    assert response.status_code == 422
    assert response.json()["field"] == "option"


async def test_answer_rejects_invalid_json(web: Web) -> None:
    _, token = await order_assessment(web.app, web.seeded)
    csrf = await start(web.client, token)

    response = await web.client.post(
        f"/take/{token}/answer",
        content=b"{not json",
        headers={"Content-Type": "application/json", "X-CSRF-Token": csrf},
    )

    assert response.status_code == 400
    assert response.json()["field"] == "body"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"option": "x"}, "option", "option 'x' is invalid"),
        ({"option": True}, "option", "option 'True' is invalid"),
        ({"question_id": ["q"]}, "question_id", "question_id must be a string"),
        ({"question_id": None}, "question_id", "question_id is missing"),
    ],
)
async def test_answer_names_the_value_sent(web: Web, fields: dict, field: str, message: str) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    question = (await questions_by_category(web, assessment_id))["Python"][0]
    csrf = await start(web.client, token)

    response = await web.client.post(
        f"/take/{token}/answer", json={"question_id": question.id, "option": 1, **fields},
        headers={"X-CSRF-Token": csrf},
    )

    assert response.status_code == 422
    assert response.json()["field"] == field
    assert response.json()["error"].startswith(message)


async def test_answer_requires_csrf_header(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    question = (await questions_by_category(web, assessment_id))["Python"][0]
    await start(web.client, token)

    response = await web.client.post(f"/take/{token}/answer", json={"question_id": question.id, "option": 1})

    assert response.status_code == 403
    assert response.json()["field"] == "csrf_token"


async def test_answer_before_start_conflicts(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    question = (await questions_by_category(web, assessment_id))["Python"][0]
    csrf = csrf_in((await web.client.get(f"/take/{token}")).text)

    response = await save(web.client, token, csrf, question.id, 1)

    assert response.status_code == 409
    assert response.json()["error"] == "Start the assessment before answering."


async def test_answer_unknown_token_is_not_found(web: Web) -> None:
    response = await web.client.post("/take/not-a-real-token/answer", json={"question_id": "x", "option": 0})

    assert response.status_code == 404
    assert response.json()["error"] == INVALID_LINK


async def test_submit_without_javascript_saves_posted_answers(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    questions = await questions_by_category(web, assessment_id)
    csrf = await start(web.client, token)
    form = {"csrf_token": csrf}
    for category in questions.values():
        for question in category:
            form[f"q_{question.id}"] = str(question.correct_option)

    response = await web.client.post(f"/take/{token}/submit", data=form)
    assessment = await load(web, assessment_id)

    assert response.status_code == 303
    assert assessment.status == "completed"
    assert assessment.score == 100.0
    assert (await timeline_kinds(web.app, assessment_id)).count("answer") == 7


async def test_submit_skips_answers_already_saved(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    question = (await questions_by_category(web, assessment_id))["HTTP"][0]
    csrf = await start(web.client, token)
    await save(web.client, token, csrf, question.id, 1)

    await web.client.post(f"/take/{token}/submit", data={"csrf_token": csrf, f"q_{question.id}": "1"})

    assert (await timeline_kinds(web.app, assessment_id)).count("answer") == 1


async def test_submit_rejects_option_out_of_range(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    question = (await questions_by_category(web, assessment_id))["HTTP"][0]
    csrf = await start(web.client, token)

    response = await web.client.post(f"/take/{token}/submit", data={"csrf_token": csrf, f"q_{question.id}": "9"})

    assert response.status_code == 422
    assert "option 9 does not exist" in response.text
    assert f'href="/take/{token}">{BACK_LINK}' in response.text
    assert (await load(web, assessment_id)).status == "started"


async def test_submit_before_start_conflicts(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    csrf = csrf_in((await web.client.get(f"/take/{token}")).text)

    response = await web.client.post(f"/take/{token}/submit", data={"csrf_token": csrf})

    assert response.status_code == 409
    assert "Start the assessment before submitting it." in response.text
    assert f'href="/take/{token}">{BACK_LINK}' in response.text
    assert (await load(web, assessment_id)).status == "invited"


async def test_submit_twice_conflicts(web: Web) -> None:
    _, token = await order_assessment(web.app, web.seeded)
    csrf = await start(web.client, token)
    await web.client.post(f"/take/{token}/submit", data={"csrf_token": csrf})

    response = await web.client.post(f"/take/{token}/submit", data={"csrf_token": csrf})

    assert response.status_code == 409
    assert "This assessment has already been submitted." in response.text
    assert BACK_LINK not in response.text


async def test_cancelled_link_shows_message(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    await cancel(web.app, web.seeded, assessment_id)

    response = await web.client.get(f"/take/{token}")

    assert response.status_code == 410
    assert CANCELLED in response.text


async def test_cancelled_link_refuses_start(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    csrf = csrf_in((await web.client.get(f"/take/{token}")).text)
    await cancel(web.app, web.seeded, assessment_id)

    response = await web.client.post(f"/take/{token}/start", data={"csrf_token": csrf})

    assert response.status_code == 409
    assert CANCELLED in response.text
    assert BACK_LINK not in response.text
    assert (await load(web, assessment_id)).status == "cancelled"


async def test_cancelled_link_refuses_answer(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    question = (await questions_by_category(web, assessment_id))["Python"][0]
    csrf = await start(web.client, token)
    await cancel(web.app, web.seeded, assessment_id)

    response = await save(web.client, token, csrf, question.id, 1)

    assert response.status_code == 409
    assert response.json()["error"] == CANCELLED
    assert response.json() == {"error": CANCELLED}


async def test_cancelled_link_refuses_submit(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    csrf = await start(web.client, token)
    await cancel(web.app, web.seeded, assessment_id)

    response = await web.client.post(f"/take/{token}/submit", data={"csrf_token": csrf})
    async with web.app.state.host.session() as session:
        submitted = await session.scalar(
            select(func.count()).where(TimelineEvent.assessment_id == assessment_id, TimelineEvent.kind == "submitted")
        )

    assert response.status_code == 409
    assert CANCELLED in response.text
    assert BACK_LINK not in response.text
    assert submitted == 0


# ---- focus events --------------------------------------------------------------------

shared_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Web]:
    """One app for the tests below; each test orders its own assessment."""
    async with open_web(tmp_path_factory.mktemp("candidate")) as running:
        yield running


async def order(web: Web) -> tuple[str, str]:
    return await order_assessment(web.app, web.seeded, f"application-{uuid.uuid4().hex}")


async def post_event(client: httpx.AsyncClient, token: str, csrf: str | None, kind: object) -> httpx.Response:
    headers = {"X-CSRF-Token": csrf} if csrf is not None else {}
    return await client.post(f"/take/{token}/events", json={"kind": kind}, headers=headers)


async def add_timeline(web: Web, assessment_id: str, kind: str, at: dt.datetime, count: int = 1) -> None:
    async with web.app.state.host.session() as session:
        session.add_all(TimelineEvent(assessment_id=assessment_id, kind=kind, at=at) for _ in range(count))
        await session.commit()


async def set_fields(web: Web, assessment_id: str, **values: object) -> None:
    async with web.app.state.host.session() as session:
        await session.execute(update(Assessment).where(Assessment.id == assessment_id).values(**values))
        await session.commit()


@shared_loop
async def test_focus_events_are_recorded(shared: Web) -> None:
    assessment_id, token = await order(shared)
    csrf = await start(shared.client, token)

    lost = await post_event(shared.client, token, csrf, "focus_lost")
    regained = await post_event(shared.client, token, csrf, "focus_regained")

    assert lost.status_code == 200
    assert lost.json() == {"recorded": True}
    assert regained.json() == {"recorded": True}
    kinds = await timeline_kinds(shared.app, assessment_id)
    assert kinds[-2:] == ["focus_lost", "focus_regained"]


@shared_loop
async def test_focus_event_requires_csrf_header(shared: Web) -> None:
    assessment_id, token = await order(shared)
    await start(shared.client, token)

    missing = await post_event(shared.client, token, None, "focus_lost")
    wrong = await post_event(shared.client, token, "wrong", "focus_lost")

    assert missing.status_code == 403
    assert missing.json()["field"] == "csrf_token"
    assert wrong.status_code == 403
    assert "focus_lost" not in await timeline_kinds(shared.app, assessment_id)


@pytest.mark.parametrize("kind", ["answer", "submitted", "", None, 3, ["focus_lost"]])
@shared_loop
async def test_focus_event_rejects_other_kinds(shared: Web, kind: object) -> None:
    assessment_id, token = await order(shared)
    csrf = await start(shared.client, token)

    response = await post_event(shared.client, token, csrf, kind)

    assert response.status_code == 422
    assert response.json()["field"] == "kind"
    assert "send one of focus_lost, focus_regained" in response.json()["error"]


@shared_loop
async def test_focus_event_rejects_invalid_json(shared: Web) -> None:
    _, token = await order(shared)
    csrf = await start(shared.client, token)

    response = await shared.client.post(
        f"/take/{token}/events", content=b"[1, 2", headers={"Content-Type": "application/json", "X-CSRF-Token": csrf}
    )

    assert response.status_code == 400
    assert response.json()["field"] == "body"


@shared_loop
async def test_focus_event_unknown_token_is_not_found(shared: Web) -> None:
    response = await shared.client.post("/take/not-a-real-token/events", json={"kind": "focus_lost"})

    assert response.status_code == 404
    assert response.json()["error"] == INVALID_LINK


@shared_loop
async def test_focus_event_before_start_conflicts(shared: Web) -> None:
    assessment_id, token = await order(shared)
    csrf = csrf_in((await shared.client.get(f"/take/{token}")).text)

    response = await post_event(shared.client, token, csrf, "focus_lost")

    assert response.status_code == 409
    assert response.json()["error"] == "Start the assessment first."


@shared_loop
async def test_focus_event_after_submit_conflicts(shared: Web) -> None:
    assessment_id, token = await order(shared)
    csrf = await start(shared.client, token)
    await shared.client.post(f"/take/{token}/submit", data={"csrf_token": csrf})

    response = await post_event(shared.client, token, csrf, "focus_lost")

    assert response.status_code == 409
    assert response.json()["error"] == "This assessment has already been submitted."
    assert "focus_lost" not in await timeline_kinds(shared.app, assessment_id)


@shared_loop
async def test_focus_event_after_cancel_conflicts(shared: Web) -> None:
    assessment_id, token = await order(shared)
    csrf = await start(shared.client, token)
    await cancel(shared.app, shared.seeded, assessment_id)

    response = await post_event(shared.client, token, csrf, "focus_lost")

    assert response.status_code == 409
    assert response.json()["error"] == CANCELLED


@shared_loop
async def test_focus_event_after_expiry_conflicts(shared: Web) -> None:
    assessment_id, token = await order(shared)
    csrf = await start(shared.client, token)
    await set_fields(shared, assessment_id, status="expired")

    response = await post_event(shared.client, token, csrf, "focus_lost")

    assert response.status_code == 409
    assert response.json()["error"] == EXPIRED


@shared_loop
async def test_focus_event_after_time_limit_submits(shared: Web) -> None:
    assessment_id, token = await order(shared)
    csrf = await start(shared.client, token)
    await set_fields(shared, assessment_id, started_at=utcnow() - dt.timedelta(minutes=31))

    response = await post_event(shared.client, token, csrf, "focus_lost")
    assessment = await load(shared, assessment_id)

    assert response.status_code == 409
    assert response.json()["error"] == "The time limit of 30 minutes has passed; your saved answers were submitted."
    assert assessment.status == "completed"
    assert "focus_lost" not in await timeline_kinds(shared.app, assessment_id)


@shared_loop
async def test_focus_event_limited_per_kind(shared: Web) -> None:
    assessment_id, token = await order(shared)
    csrf = await start(shared.client, token)
    # A focus_lost event dated in the future is always less than a second old.
    await add_timeline(shared, assessment_id, "focus_lost", utcnow() + dt.timedelta(minutes=5))

    again = await post_event(shared.client, token, csrf, "focus_lost")
    other_kind = await post_event(shared.client, token, csrf, "focus_regained")

    assert again.status_code == 429
    assert "at most once per second" in again.json()["error"]
    assert other_kind.status_code == 200
    assert (await timeline_kinds(shared.app, assessment_id)).count("focus_lost") == 1


@shared_loop
async def test_focus_events_capped_per_assessment(shared: Web) -> None:
    assessment_id, token = await order(shared)
    csrf = await start(shared.client, token)
    await add_timeline(shared, assessment_id, "focus_regained", utcnow() - dt.timedelta(hours=1), MAX_FOCUS_EVENTS)

    response = await post_event(shared.client, token, csrf, "focus_lost")

    assert response.status_code == 429
    assert response.json()["error"] == "Too many focus events for this assessment; no more are recorded."
    assert "focus_lost" not in await timeline_kinds(shared.app, assessment_id)


@shared_loop
async def test_focus_script_is_served(shared: Web) -> None:
    _, token = await order(shared)
    await start(shared.client, token)

    page = await shared.client.get(f"/take/{token}")
    script = await shared.client.get("/static/answers.js")

    assert f'data-events-url="/take/{token}/events"' in page.text
    assert "visibilitychange" in script.text
    assert "focus_lost" in script.text


# ---- why a closed assessment accepts nothing ---------------------------------------------


@shared_loop
async def test_welcome_mentions_focus_tracking(shared: Web) -> None:
    _, token = await order(shared)

    response = await shared.client.get(f"/take/{token}")

    assert "switched to another tab or window" in response.text


@shared_loop
async def test_cancelled_page_says_withdrawn(shared: Web) -> None:
    assessment_id, token = await order(shared)
    csrf = await start(shared.client, token)
    await cancel(shared.app, shared.seeded, assessment_id)

    page = await shared.client.get(f"/take/{token}")
    submitted = await shared.client.post(f"/take/{token}/submit", data={"csrf_token": csrf})

    assert "<h1>Assessment withdrawn</h1>" in page.text
    assert "<h1>Assessment withdrawn</h1>" in submitted.text
    assert CANCELLED in submitted.text


@shared_loop
async def test_expired_status_explains_on_every_path(shared: Web) -> None:
    assessment_id, token = await order(shared)
    question = (await questions_by_category(shared, assessment_id))["Python"][0]
    csrf = await start(shared.client, token)
    await set_fields(shared, assessment_id, status="expired")

    page = await shared.client.get(f"/take/{token}")
    answer = await save(shared.client, token, csrf, question.id, 1)
    submitted = await shared.client.post(f"/take/{token}/submit", data={"csrf_token": csrf})

    assert page.status_code == 410
    assert "<h1>Invitation expired</h1>" in page.text
    assert EXPIRED in page.text
    assert answer.status_code == 409
    assert answer.json()["error"] == EXPIRED
    assert submitted.status_code == 409
    assert "<h1>Invitation expired</h1>" in submitted.text
    assert BACK_LINK not in submitted.text


@shared_loop
async def test_invitation_past_expiry_cannot_start(shared: Web) -> None:
    assessment_id, token = await order(shared)
    csrf = csrf_in((await shared.client.get(f"/take/{token}")).text)
    await set_fields(shared, assessment_id, expires_at=utcnow() - dt.timedelta(minutes=1))

    started = await shared.client.post(f"/take/{token}/start", data={"csrf_token": csrf})
    page = await shared.client.get(f"/take/{token}")

    assert page.status_code == 410
    assert EXPIRED in page.text
    assert started.status_code == 409
    assert "<h1>Invitation expired</h1>" in started.text
    assert EXPIRED in started.text
    assert (await load(shared, assessment_id)).status == "expired"
    assert (await timeline_kinds(shared.app, assessment_id)).count("expired") == 1


@shared_loop
async def test_take_page_expires_past_invitation(shared: Web) -> None:
    assessment_id, token = await order(shared)
    await set_fields(shared, assessment_id, expires_at=utcnow() - dt.timedelta(minutes=1))

    page = await shared.client.get(f"/take/{token}")

    assert page.status_code == 410
    assert "<h1>Invitation expired</h1>" in page.text
    assert (await load(shared, assessment_id)).status == "expired"
    assert (await timeline_kinds(shared.app, assessment_id)).count("expired") == 1


@shared_loop
async def test_time_limit_page_says_answers_submitted(shared: Web) -> None:
    assessment_id, token = await order(shared)
    csrf = await start(shared.client, token)
    await set_fields(shared, assessment_id, started_at=utcnow() - dt.timedelta(minutes=31))

    submitted = await shared.client.post(f"/take/{token}/submit", data={"csrf_token": csrf})
    page = await shared.client.get(f"/take/{token}")

    assert submitted.status_code == 409
    assert "<h1>Answers submitted</h1>" in submitted.text
    assert "The time limit of 30 minutes has passed; your saved answers were submitted." in submitted.text
    assert "<h1>Time limit reached</h1>" in page.text
    assert "The time limit of 30 minutes ran out, and your answers were submitted as you saved them." in page.text


# ---- opening the link --------------------------------------------------------------------


@shared_loop
async def test_take_records_each_new_browser_session(shared: Web) -> None:
    assessment_id, token = await order(shared)
    await shared.client.get(f"/take/{token}")

    async with client_for(shared.app) as other_browser:
        await other_browser.get(f"/take/{token}")
    await shared.client.get(f"/take/{token}")

    assert (await timeline_kinds(shared.app, assessment_id)).count("opened") == 2


@shared_loop
async def test_take_caps_opened_events(shared: Web) -> None:
    assessment_id, token = await order(shared)
    await add_timeline(shared, assessment_id, "opened", utcnow() - dt.timedelta(hours=1), MAX_OPENED_EVENTS)

    async with client_for(shared.app) as other_browser:
        response = await other_browser.get(f"/take/{token}")

    assert response.status_code == 200
    assert (await timeline_kinds(shared.app, assessment_id)).count("opened") == MAX_OPENED_EVENTS


# ---- countdown, minutes and replaced links --------------------------------------------------


def data_attribute(html: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]*)"', html)
    assert found is not None, f"{name} is missing from the page"
    return found.group(1)


def parse_iso_utc(value: str) -> dt.datetime:
    assert value.endswith("Z"), f"{value} is not in UTC"
    return dt.datetime.fromisoformat(value.removesuffix("Z") + "+00:00")


@shared_loop
async def test_questions_page_deadline_attributes(shared: Web) -> None:
    assessment_id, token = await order(shared)
    await start(shared.client, token)
    started_at = utcnow().replace(microsecond=0) - dt.timedelta(minutes=10)
    await set_fields(shared, assessment_id, started_at=started_at)

    before = utcnow()
    page = await shared.client.get(f"/take/{token}")
    after = utcnow()

    assert page.status_code == 200
    assert parse_iso_utc(data_attribute(page.text, "data-deadline")) == started_at + dt.timedelta(minutes=30)
    server_now = parse_iso_utc(data_attribute(page.text, "data-server-now"))
    assert before - dt.timedelta(milliseconds=1) <= server_now <= after
    assert data_attribute(page.text, "data-time-limit") == "30 minutes"
    # Without JavaScript the page shows the deadline in UTC, and the countdown stays hidden.
    assert f"submit by {(started_at + dt.timedelta(minutes=30)):%H:%M} UTC" in page.text
    assert re.search(r'<div id="countdown"[^>]* hidden>', page.text)
    assert re.search(r'role="timer" aria-live="off"', page.text)
    assert '<script src="/static/countdown.js"></script>' in page.text
    script = await shared.client.get("/static/countdown.js")
    assert script.status_code == 200
    assert "langos:time-up" in script.text


@shared_loop
async def test_one_minute_limit_reads_singular(shared: Web) -> None:
    assessment_id, token = await order(shared)
    await set_fields(shared, assessment_id, time_limit_minutes=1)

    welcome = await shared.client.get(f"/take/{token}")
    csrf = await start(shared.client, token)
    questions = await shared.client.get(f"/take/{token}")
    await set_fields(shared, assessment_id, started_at=utcnow() - dt.timedelta(minutes=2))
    late_answer = await save(shared.client, token, csrf, "any-question", 0)
    event = await post_event(shared.client, token, csrf, "focus_lost")
    closed = await shared.client.get(f"/take/{token}")

    assert re.search(r'data-testid="time-limit">1 minute<', welcome.text)
    assert "time limit 1 minute ·" in questions.text
    assert data_attribute(questions.text, "data-time-limit") == "1 minute"
    assert late_answer.status_code == 409
    assert late_answer.json()["error"] == "The time limit of 1 minute has passed; your saved answers were submitted."
    assert event.status_code == 409
    assert event.json()["error"] == "This assessment has already been submitted."
    assert "The time limit of 1 minute ran out, and your answers were submitted as you saved them." in closed.text
    assert "1 minutes" not in welcome.text + questions.text + closed.text


@shared_loop
async def test_replaced_link_points_to_newest_email(shared: Web) -> None:
    assessment_id, old_token = await order(shared)
    async with shared.app.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        assert assessment is not None
        await invitations.resend(session, assessment, public_url="http://127.0.0.1", actor="test")
        await session.commit()

    response = await shared.client.get(f"/take/{old_token}")

    assert response.status_code == 404
    assert "<h1>Link not valid</h1>" in response.text
    assert "If you received a newer email about this assessment, use the link in the newest one." in response.text
    assert "Otherwise, contact the employer who invited you." in response.text
