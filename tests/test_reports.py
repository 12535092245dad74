"""The assessment list and the report page: sign-in, workspace scoping, score, categories, timeline."""

from __future__ import annotations

import re
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import quote

import pytest

from core import engine
from core.models import Assessment
from tests.helpers_web import Web, client_for, open_web, order_assessment, seed_workspace, sign_in

EVENT = re.compile(r'data-testid="timeline-event" data-kind="(\w+)"')
CATEGORY = re.compile(r'data-testid="category" data-name="([^"]+)" data-score="([^"]+)"')
ROW = re.compile(r'data-testid="assessment-row"')


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[Web]:
    async with open_web(tmp_path) as running:
        yield running


async def complete_with_answers(web: Web, assessment_id: str, choices: dict[str, int]) -> None:
    """Start the assessment, answer the first question of each named category, and submit."""
    async with web.app.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        assert assessment is not None
        await engine.begin(session, assessment)
        for category in assessment.assessment_type.categories:
            if category.name in choices:
                await engine.save_answer(session, assessment, category.questions[0].id, choices[category.name])
        await engine.submit(session, assessment)
        await session.commit()


async def test_assessments_requires_login(web: Web) -> None:
    response = await web.client.get("/assessments")

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fassessments"


async def test_assessments_lists_newest_first(web: Web) -> None:
    older, _ = await order_assessment(web.app, web.seeded, "application-1")
    newer, _ = await order_assessment(web.app, web.seeded, "application-2")
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get("/assessments")

    assert response.status_code == 200
    assert response.text.index(f"/reports/{newer}") < response.text.index(f"/reports/{older}")
    assert "Ada Lovelace" in response.text
    assert "Backend Engineer" in response.text
    assert "Backend Python (30 min)" in response.text


async def test_assessments_pages_by_fifty(web: Web) -> None:
    for number in range(51):
        await order_assessment(web.app, web.seeded, f"application-{number}")
    await sign_in(web.client, web.seeded.admin_email)

    first = await web.client.get("/assessments")
    second = await web.client.get("/assessments", params={"page": "2"})

    assert len(ROW.findall(first.text)) == 50
    assert len(ROW.findall(second.text)) == 1
    assert 'href="/assessments?page=2"' in first.text


@pytest.mark.parametrize("page", ["0", "-3", "abc", "99999999999999999999999"])
async def test_assessments_tolerates_bad_page(web: Web, page: str) -> None:
    await order_assessment(web.app, web.seeded)
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get("/assessments", params={"page": page})

    assert response.status_code == 200
    assert len(ROW.findall(response.text)) == 1


async def test_assessments_hides_other_workspace(web: Web) -> None:
    other = await seed_workspace(web.app, "other")
    hidden, _ = await order_assessment(web.app, other)
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get("/assessments")

    assert hidden not in response.text


async def test_report_requires_login(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)

    response = await web.client.get(f"/reports/{assessment_id}")

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + quote(f"/reports/{assessment_id}", safe="")


async def test_report_redirects_back_after_login(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    report_path = f"/reports/{assessment_id}"
    await web.client.get(report_path)

    login = await sign_in(web.client, web.seeded.admin_email, next_path=report_path)
    report = await web.client.get(login.headers["location"])

    assert login.status_code == 303
    assert login.headers["location"] == report_path
    assert report.status_code == 200
    assert 'data-testid="candidate-name">Ada Lovelace<' in report.text


async def test_report_of_other_workspace_is_not_found(web: Web) -> None:
    other = await seed_workspace(web.app, "other")
    foreign, _ = await order_assessment(web.app, other)
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get(f"/reports/{foreign}")

    assert response.status_code == 404
    assert "Ada Lovelace" not in response.text


async def test_report_of_unknown_id_is_not_found(web: Web) -> None:
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get("/reports/no-such-assessment")

    assert response.status_code == 404


async def test_report_shows_score_and_categories(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    # The first question of each category: Python's correct option is 1, HTTP's 1, Databases' 1.
    await complete_with_answers(web, assessment_id, {"Python": 1, "HTTP": 1, "Databases": 0})
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get(f"/reports/{assessment_id}")
    async with web.app.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
    assert assessment is not None
    assert response.status_code == 200
    assert assessment.score == pytest.approx((33.3 * 2 + 50.0 + 0.0) / 4, abs=0.05)
    assert f'data-testid="score">{assessment.score:g}%<' in response.text
    assert CATEGORY.findall(response.text) == [("Python", "33.3"), ("HTTP", "50"), ("Databases", "0")]
    assert 'data-testid="candidate-email">ada@example.com<' in response.text
    assert 'style="width: 33.3%"' in response.text


async def test_report_shows_timeline_in_order(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    await complete_with_answers(web, assessment_id, {"Python": 1})
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get(f"/reports/{assessment_id}")

    assert EVENT.findall(response.text) == ["invited", "started", "answer", "submitted"]
    assert "What does len({1, 1, 2}) return? → 2" in response.text
    assert "by the candidate, score" in response.text


async def test_report_shows_deliveries(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    await complete_with_answers(web, assessment_id, {})
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get(f"/reports/{assessment_id}")

    assert 'data-event="started" data-status="pending"' in response.text
    assert 'data-event="completed" data-status="pending"' in response.text


async def test_report_before_completion_has_no_score(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get(f"/reports/{assessment_id}")

    assert 'data-testid="score-missing"' in response.text
    assert 'data-testid="score"' not in response.text


async def test_report_other_session_stays_signed_out(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    await sign_in(web.client, web.seeded.admin_email)

    async with client_for(web.app) as stranger:
        response = await stranger.get(f"/reports/{assessment_id}")

    assert response.status_code == 303
