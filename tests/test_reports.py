"""The assessment list and the report: sign-in, workspace scoping, filters, score, categories,
timeline, the answer replay and the JSON and PDF downloads.

The PDF text checks need ``pdftotext`` (Debian's poppler-utils) and are skipped without it,
unless ``LANGOS_REQUIRE_BROWSER=1`` (set by ``.ci/run``) turns the skip into a failure.
tests/test_browser_journey.py runs the replay's script in Chromium.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any, AsyncIterator
from urllib.parse import quote

import pytest
import pytest_asyncio
from sqlalchemy import update

from core import engine
from core.models import Assessment, Question, TimelineEvent
from core.web.report_chart import score_chart
from core.web.report_pdf import missing_score_text, time_taken_text
from core.web.report_timeline import duration_text, focus_summary
from tests.helpers_web import (
    Web,
    client_for,
    csrf_in,
    open_web,
    order_assessment,
    seed_workspace,
    sign_in,
)

EVENT = re.compile(r'data-testid="timeline-event" data-kind="(\w+)"')
CATEGORY = re.compile(r'data-testid="category" data-name="([^"]+)" data-score="([^"]+)"')
ROW = re.compile(r'data-testid="assessment-row"')
FILTER_ERROR = re.compile(r'data-testid="filter-error">([^<]*)<')
CHART_BAR = re.compile(r'data-testid="chart-bar" data-name="([^"]+)" data-value="([^"]+)" data-width="([^"]+)"')
CHART_FILL = re.compile(r'<rect class="chart-fill" x="190" y="[\d.]+" width="([\d.]+)"')
REPLAY_ANSWER = re.compile(
    r'data-testid="replay-answer" data-number="(\d+)"\s+data-answered="(\w+)"\s+data-correct="(\w+)"( data-changed)?'
)
PDFTOTEXT = shutil.which("pdftotext")


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
    # The plot is 390 units wide, so a bar's width is 3.9 units per percent.
    assert CHART_BAR.findall(response.text) == [
        ("Overall", f"{assessment.score:g}", f"{round(3.9 * assessment.score, 1):g}"),
        ("Python", "33.3", "129.9"),
        ("HTTP", "50", "195"),
        ("Databases", "0", "0"),
    ]
    assert CHART_FILL.findall(response.text) == [f"{round(3.9 * assessment.score, 1):g}", "129.9", "195.0", "0.0"]
    assert 'data-testid="chart-pass-mark"' not in response.text
    assert "This assessment type has no pass mark." in response.text
    assert 'data-testid="result"' not in response.text


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


# ---- filters and paging ----------------------------------------------------------------


async def set_fields(web: Web, assessment_id: str, **values: Any) -> None:
    """Overwrite columns of an assessment, to give it a job, status, score or creation time."""
    async with web.app.state.host.session() as session:
        await session.execute(update(Assessment).where(Assessment.id == assessment_id).values(**values))
        await session.commit()


def listed(html: str, *assessment_ids: str) -> list[bool]:
    return [f"/reports/{assessment_id}" in html for assessment_id in assessment_ids]


async def test_assessments_filter_by_job(web: Web) -> None:
    backend, _ = await order_assessment(web.app, web.seeded, "application-1")
    frontend, _ = await order_assessment(web.app, web.seeded, "application-2")
    await set_fields(web, frontend, job_name="Frontend Engineer")
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get("/assessments", params={"job": "Frontend Engineer"})

    assert response.status_code == 200
    assert listed(response.text, backend, frontend) == [False, True]
    assert '<option value="Frontend Engineer" selected>' in response.text
    assert "1 assessment matches the filters" in response.text


async def test_assessments_job_select_lists_own_jobs(web: Web) -> None:
    await order_assessment(web.app, web.seeded)
    other = await seed_workspace(web.app, "other")
    foreign, _ = await order_assessment(web.app, other)
    await set_fields(web, foreign, job_name="Secret Project Lead")
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get("/assessments")

    assert '<option value="Backend Engineer">' in response.text
    assert "Secret Project Lead" not in response.text


async def test_assessments_filter_rejects_other_workspace_job(web: Web) -> None:
    other = await seed_workspace(web.app, "other")
    foreign, _ = await order_assessment(web.app, other)
    await set_fields(web, foreign, job_name="Secret Project Lead")
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get("/assessments", params={"job": "Secret Project Lead"})

    assert response.status_code == 400
    assert FILTER_ERROR.findall(response.text) == [
        "Job: &#39;Secret Project Lead&#39; is not a job in your workspace. Pick a job from the list."
    ]
    assert foreign not in response.text


async def test_assessments_filter_by_status(web: Web) -> None:
    invited, _ = await order_assessment(web.app, web.seeded, "application-1")
    completed, _ = await order_assessment(web.app, web.seeded, "application-2")
    await complete_with_answers(web, completed, {})
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get("/assessments", params={"status": "completed"})

    assert listed(response.text, invited, completed) == [False, True]
    assert '<option value="completed" selected>' in response.text


async def test_assessments_filter_by_score_range(web: Web) -> None:
    ids = [(await order_assessment(web.app, web.seeded, f"application-{n}"))[0] for n in range(4)]
    for assessment_id, score in zip(ids, [None, 40.0, 70.0, 100.0]):
        await set_fields(web, assessment_id, score=score)
    await sign_in(web.client, web.seeded.admin_email)

    middle = await web.client.get("/assessments", params={"score_min": "40", "score_max": "70"})
    top = await web.client.get("/assessments", params={"score_min": "70.5"})
    low = await web.client.get("/assessments", params={"score_max": "40"})

    assert listed(middle.text, *ids) == [False, True, True, False]
    assert listed(top.text, *ids) == [False, False, False, True]
    assert listed(low.text, *ids) == [False, True, False, False]


async def test_assessments_filter_by_created_dates(web: Web) -> None:
    ids = [(await order_assessment(web.app, web.seeded, f"application-{n}"))[0] for n in range(3)]
    days = ["2024-04-30T23:59:59", "2024-05-01T00:00:00", "2024-05-31T23:59:59"]
    for assessment_id, day in zip(ids, days):
        await set_fields(web, assessment_id, created_at=dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc))
    await sign_in(web.client, web.seeded.admin_email)

    may = await web.client.get("/assessments", params={"created_from": "2024-05-01", "created_to": "2024-05-31"})
    until_april = await web.client.get("/assessments", params={"created_to": "2024-04-30"})
    from_last_day = await web.client.get("/assessments", params={"created_from": "2024-05-31"})

    assert listed(may.text, *ids) == [False, True, True]
    assert listed(until_april.text, *ids) == [True, False, False]
    assert listed(from_last_day.text, *ids) == [False, False, True]
    assert 'value="2024-05-01"' in may.text


async def test_assessments_filters_combine(web: Web) -> None:
    match, _ = await order_assessment(web.app, web.seeded, "application-1")
    wrong_job, _ = await order_assessment(web.app, web.seeded, "application-2")
    low_score, _ = await order_assessment(web.app, web.seeded, "application-3")
    for assessment_id in (match, wrong_job, low_score):
        await set_fields(web, assessment_id, status="completed", score=80.0)
    await set_fields(web, wrong_job, job_name="Data Engineer")
    await set_fields(web, low_score, score=20.0)
    await sign_in(web.client, web.seeded.admin_email)

    params = {"job": "Backend Engineer", "status": "completed", "score_min": "50"}
    response = await web.client.get("/assessments", params=params)

    assert listed(response.text, match, wrong_job, low_score) == [True, False, False]


async def test_assessments_filters_stay_in_workspace(web: Web) -> None:
    other = await seed_workspace(web.app, "other")
    foreign, _ = await order_assessment(web.app, other)
    await complete_with_answers(web, foreign, {})
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get("/assessments", params={"status": "completed", "job": "Backend Engineer"})

    assert response.status_code == 400
    assert foreign not in response.text
    response = await web.client.get("/assessments", params={"status": "completed"})
    assert response.status_code == 200
    assert foreign not in response.text
    assert ROW.findall(response.text) == []


async def test_assessments_paging_keeps_filters(web: Web) -> None:
    for number in range(52):
        assessment_id, _ = await order_assessment(web.app, web.seeded, f"application-{number}")
        if number < 51:
            await set_fields(web, assessment_id, status="completed", score=90.0)
    await sign_in(web.client, web.seeded.admin_email)

    params = {"status": "completed", "score_min": "85"}
    first = await web.client.get("/assessments", params=params)
    second = await web.client.get("/assessments", params={**params, "page": "2"})

    next_link = 'href="/assessments?status=completed&amp;score_min=85&amp;page=2"'
    previous_link = 'href="/assessments?status=completed&amp;score_min=85&amp;page=1"'
    assert len(ROW.findall(first.text)) == 50
    assert next_link in first.text
    assert len(ROW.findall(second.text)) == 1
    assert previous_link in second.text
    assert "51 assessments match the filters" in second.text


async def test_assessments_empty_filter_fields_are_ignored(web: Web) -> None:
    await order_assessment(web.app, web.seeded)
    await sign_in(web.client, web.seeded.admin_email)

    empty = {"job": "", "status": "", "score_min": " ", "score_max": "", "created_from": "", "created_to": ""}
    response = await web.client.get("/assessments", params=empty)

    assert response.status_code == 200
    assert len(ROW.findall(response.text)) == 1


async def test_assessments_last_possible_date_is_valid(web: Web) -> None:
    await order_assessment(web.app, web.seeded)
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get("/assessments", params={"created_to": "9999-12-31", "created_from": "0001-01-01"})

    assert response.status_code == 200
    assert len(ROW.findall(response.text)) == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"status": "done"},
            "Status: &#39;done&#39; is not a status. Pick one of Invited, In progress, Completed, Cancelled, Expired.",
        ),
        ({"job": "Astronaut"}, "Job: &#39;Astronaut&#39; is not a job in your workspace. Pick a job from the list."),
        ({"score_min": "abc"}, "Minimum score: &#39;abc&#39; is not a number from 0 to 100."),
        ({"score_min": "-1"}, "Minimum score: &#39;-1&#39; is not a number from 0 to 100."),
        ({"score_max": "100.5"}, "Maximum score: &#39;100.5&#39; is not a number from 0 to 100."),
        ({"score_max": "nan"}, "Maximum score: &#39;nan&#39; is not a number from 0 to 100."),
        ({"score_min": "inf"}, "Minimum score: &#39;inf&#39; is not a number from 0 to 100."),
        ({"score_min": "80", "score_max": "50"}, "Minimum score: 80 is above the maximum score 50."),
        ({"created_from": "2024-13-01"}, "Created from: &#39;2024-13-01&#39; is not a date. Enter a date as YYYY-MM-DD"),
        ({"created_to": "yesterday"}, "Created to: &#39;yesterday&#39; is not a date."),
        ({"created_from": "2024-06-01", "created_to": "2024-05-01"}, "Created from: 2024-06-01 is after the end date 2024-05-01."),
    ],
)
async def test_assessments_rejects_invalid_filter(web: Web, params: dict[str, str], message: str) -> None:
    await order_assessment(web.app, web.seeded)
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get("/assessments", params=params)

    assert response.status_code == 400
    errors = FILTER_ERROR.findall(response.text)
    assert len(errors) == 1
    assert errors[0].startswith(message)
    assert ROW.findall(response.text) == []
    assert 'data-testid="filters"' in response.text


async def test_assessments_lists_every_invalid_filter(web: Web) -> None:
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get("/assessments", params={"score_min": "x", "created_to": "y", "status": "z"})

    assert response.status_code == 400
    fields = [message.split(":")[0] for message in FILTER_ERROR.findall(response.text)]
    assert fields == ["Status", "Minimum score", "Created to"]


async def test_assessments_shortens_long_invalid_value(web: Web) -> None:
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get("/assessments", params={"score_min": "9" * 500})

    assert response.status_code == 400
    assert FILTER_ERROR.findall(response.text)[0].startswith("Minimum score: &#39;" + "9" * 40 + "…&#39; is not")


async def test_assessments_filters_require_login(web: Web) -> None:
    response = await web.client.get("/assessments", params={"status": "nonsense"})

    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


# ---- the JSON and PDF downloads --------------------------------------------------------


def pdf_text(content: bytes, tmp_path: Path) -> str:
    """Return the text of a PDF as extracted by poppler's ``pdftotext``."""
    if PDFTOTEXT is None:
        if os.environ.get("LANGOS_REQUIRE_BROWSER") == "1":
            raise AssertionError("pdftotext is missing; scripts/setup --browser installs Debian's poppler-utils")
        pytest.skip("pdftotext (Debian's poppler-utils) is not installed")
    path = tmp_path / "report.pdf"
    path.write_bytes(content)
    result = subprocess.run([PDFTOTEXT, "-layout", str(path), "-"], capture_output=True, check=True, timeout=30)
    return result.stdout.decode("utf-8")


async def test_report_json_download(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    await complete_with_answers(web, assessment_id, {"Python": 1, "HTTP": 1, "Databases": 0})
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get(f"/reports/{assessment_id}.json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == f'attachment; filename="langos-report-{assessment_id}.json"'
    assert response.headers["cache-control"] == "no-store"
    report = response.json()
    assert report["id"] == assessment_id
    assert report["candidate"] == {"name": "Ada Lovelace", "email": "ada@example.com", "profile_url": None}
    assert report["job"]["name"] == "Backend Engineer"
    assert report["assessment_type"]["name"] == "Backend Python (30 min)"
    assert report["assessment_type"]["time_limit_minutes"] == 30
    assert report["status"] == "completed"
    assert report["score"] == pytest.approx(29.1)
    assert report["max_score"] == 100.0
    assert [(c["name"], c["score"], c["weight"]) for c in report["categories"]] == [
        ("Python", 33.3, 2.0),
        ("HTTP", 50.0, 1.0),
        ("Databases", 0.0, 1.0),
    ]
    assert report["duration_minutes"] == 0.0
    assert report["time_limit_minutes"] == 30
    assert report["pass_mark"] is None
    assert report["passed"] is None
    assert report["result_label"] is None
    assert report["focus"] == {
        "lost_count": 0,
        "away_seconds": 0.0,
        "longest_away_seconds": 0.0,
        "away_at_end": False,
        "summary": "Did not leave the page",
    }


async def test_report_json_timeline_has_iso_times_and_labels(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    await complete_with_answers(web, assessment_id, {"Python": 1})
    await sign_in(web.client, web.seeded.admin_email)

    report = (await web.client.get(f"/reports/{assessment_id}.json")).json()

    timeline = report["timeline"]
    assert [entry["kind"] for entry in timeline] == ["invited", "started", "answer", "submitted"]
    assert [entry["label"] for entry in timeline] == ["Invited", "Started", "Answer saved", "Submitted"]
    assert timeline[2]["detail"] == "What does len({1, 1, 2}) return? → 2"
    for entry in timeline:
        assert dt.datetime.fromisoformat(entry["at"]).utcoffset() == dt.timedelta(0)
    assert dt.datetime.fromisoformat(report["completed_at"]).tzinfo is not None


async def test_report_json_before_start(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    await sign_in(web.client, web.seeded.admin_email)

    report = (await web.client.get(f"/reports/{assessment_id}.json")).json()

    assert report["status"] == "invited"
    assert report["score"] is None
    assert report["categories"] == []
    assert report["duration_minutes"] is None
    assert report["started_at"] is None


@pytest.mark.parametrize("suffix", [".json", ".pdf"])
async def test_report_download_requires_login(web: Web, suffix: str) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    path = f"/reports/{assessment_id}{suffix}"

    response = await web.client.get(path)

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + quote(path, safe="")


@pytest.mark.parametrize("suffix", [".json", ".pdf"])
async def test_report_download_of_other_workspace_is_not_found(web: Web, suffix: str) -> None:
    other = await seed_workspace(web.app, "other")
    foreign, _ = await order_assessment(web.app, other)
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get(f"/reports/{foreign}{suffix}")

    assert response.status_code == 404
    assert "Ada Lovelace" not in response.text
    assert "content-disposition" not in response.headers


@pytest.mark.parametrize("suffix", [".json", ".pdf"])
async def test_report_download_of_unknown_id_is_not_found(web: Web, suffix: str) -> None:
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get(f"/reports/no-such-assessment{suffix}")

    assert response.status_code == 404


async def test_report_pdf_download(web: Web, tmp_path: Path) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    await complete_with_answers(web, assessment_id, {"Python": 1, "HTTP": 1})
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get(f"/reports/{assessment_id}.pdf")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'attachment; filename="langos-report-{assessment_id}.pdf"'
    assert response.content.startswith(b"%PDF-")
    assert len(response.content) > 1000
    text = pdf_text(response.content, tmp_path)
    assert "Langos report: Ada Lovelace" in text
    assert "Backend Python (30 min)" in text
    assert "Score by category" in text
    assert "What does len({1, 1, 2}) return? → 2" in text


async def test_report_pdf_escapes_markup_in_names(web: Web, tmp_path: Path) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    await set_fields(web, assessment_id, candidate_first_name="Zoë <b>&amp;", job_name="R&D </para>")
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get(f"/reports/{assessment_id}.pdf")

    assert response.status_code == 200
    text = pdf_text(response.content, tmp_path)
    assert "Zoë <b>&amp; Lovelace" in text
    assert "R&D </para>" in text
    assert "No score yet: the candidate has not started." in text


async def test_report_links_downloads(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get(f"/reports/{assessment_id}")

    assert f'href="/reports/{assessment_id}.pdf"' in response.text
    assert f'href="/reports/{assessment_id}.json"' in response.text


# ---- the replay ------------------------------------------------------------------------


async def answer_as_candidate(web: Web, token: str, choices: list[tuple[int, int]]) -> None:
    """Start the assessment as the candidate and save each (question number, option) in order."""
    questions = await numbered_questions(web, token)
    async with client_for(web.app) as candidate:
        welcome = await candidate.get(f"/take/{token}")
        csrf = csrf_in(welcome.text)
        started = await candidate.post(f"/take/{token}/start", data={"csrf_token": csrf})
        assert started.status_code == 303
        for number, option in choices:
            saved = await candidate.post(
                f"/take/{token}/answer",
                json={"question_id": questions[number - 1].id, "option": option},
                headers={"X-CSRF-Token": csrf},
            )
            assert saved.status_code == 200


async def numbered_questions(web: Web, token: str) -> list[Question]:
    async with web.app.state.host.session() as session:
        assessment = await engine.find_by_token(session, token)
        assert assessment is not None
        return [question for category in assessment.assessment_type.categories for question in category.questions]


def replay_step_html(html: str) -> list[str]:
    """Return the HTML of each replay step on the page, in order."""
    return html.split('data-testid="replay-step"')[1:]


async def test_report_replay_steps_through_answers(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    # Option 1 is correct for question 1 (len, "2") and for question 4 (not found, "404").
    await answer_as_candidate(web, token, [(1, 0), (4, 1), (1, 1)])
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get(f"/reports/{assessment_id}")

    steps = replay_step_html(response.text)
    assert len(steps) == 3
    assert 'data-step="1"' in steps[0]
    assert 'data-correct="no"' in steps[0]
    assert 'data-testid="replay-option">1<' in steps[0]
    assert 'data-testid="replay-prompt">Which status code means a resource was not found?<' in steps[1]
    assert 'data-testid="replay-option">404<' in steps[1]
    assert 'data-correct="yes"' in steps[1]
    assert 'data-testid="replay-option">2<' in steps[2]
    assert "Question 1: " in steps[2]
    assert re.search(r'<time datetime="[^"]+\+00:00">', steps[0])


async def test_report_replay_shows_answers_at_each_step(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    await answer_as_candidate(web, token, [(1, 0), (4, 1), (1, 1)])
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get(f"/reports/{assessment_id}")

    states = [REPLAY_ANSWER.findall(step) for step in replay_step_html(response.text)]
    unanswered = ("no", "unknown", "")
    assert states[0] == [("1", "yes", "no", " data-changed")] + [(str(n), *unanswered) for n in range(2, 8)]
    assert states[1][0] == ("1", "yes", "no", "")
    assert states[1][3] == ("4", "yes", "yes", " data-changed")
    assert states[2][0] == ("1", "yes", "yes", " data-changed")
    assert states[2][3] == ("4", "yes", "yes", "")
    assert [row[1] for row in states[2]] == ["yes", "no", "no", "yes", "no", "no", "no"]


async def test_report_replay_without_answers(web: Web) -> None:
    assessment_id, _ = await order_assessment(web.app, web.seeded)
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get(f"/reports/{assessment_id}")

    assert 'data-testid="replay-empty"' in response.text
    assert "/static/replay.js" not in response.text


async def test_report_replay_script_is_external(web: Web) -> None:
    assessment_id, token = await order_assessment(web.app, web.seeded)
    await answer_as_candidate(web, token, [(1, 1)])
    await sign_in(web.client, web.seeded.admin_email)

    response = await web.client.get(f"/reports/{assessment_id}")
    script = await web.client.get("/static/replay.js")

    assert '<script src="/static/replay.js"></script>' in response.text
    assert re.findall(r"<script(?![^>]*\bsrc=)", response.text) == []
    assert re.findall(r"\son[a-z]+=", response.text) == []
    assert script.status_code == 200
    assert "data-replay-step" in script.text


# ---- pass mark, chart, focus and the full timeline -------------------------------------

shared_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Web]:
    """One app with a signed-in admin for the tests below; each test orders its own assessments."""
    async with open_web(tmp_path_factory.mktemp("reports")) as running:
        await sign_in(running.client, running.seeded.admin_email)
        yield running


async def order(web: Web) -> tuple[str, str]:
    return await order_assessment(web.app, web.seeded, f"application-{uuid.uuid4().hex}")


async def add_events(web: Web, assessment_id: str, events: list[tuple[str, int, dict[str, Any] | None]]) -> None:
    """Record (kind, seconds after the assessment started, detail) events on its timeline."""
    async with web.app.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        assert assessment is not None and assessment.started_at is not None
        for kind, seconds, detail in events:
            engine.record_event(session, assessment, kind, detail, at=assessment.started_at + dt.timedelta(seconds=seconds))
        await session.commit()


async def complete_with_pass_mark(web: Web, pass_mark: float) -> str:
    """Complete an assessment with the pass mark set, scoring 29.1% (Python 33.3, HTTP 50, Databases 0)."""
    assessment_id, _ = await order(web)
    await set_fields(web, assessment_id, pass_mark=pass_mark)
    await complete_with_answers(web, assessment_id, {"Python": 1, "HTTP": 1, "Databases": 0})
    return assessment_id


@shared_loop
async def test_report_shows_passed_against_pass_mark(shared: Web) -> None:
    assessment_id = await complete_with_pass_mark(shared, 25.0)

    response = await shared.client.get(f"/reports/{assessment_id}")
    report = (await shared.client.get(f"/reports/{assessment_id}.json")).json()

    assert 'data-testid="result">Passed<' in response.text
    assert "Pass mark 25%:" in response.text
    # 190 + 390 * 25 / 100
    assert '<line x1="287.5" x2="287.5"' in response.text
    assert 'data-testid="chart-pass-mark" data-value="25"' in response.text
    assert 'class="chart-row chart-overall chart-passed"' in response.text
    assert report["pass_mark"] == 25.0
    assert report["passed"] is True
    assert report["result_label"] == "Passed"


@shared_loop
async def test_report_shows_failed_in_page_json_and_pdf(shared: Web, tmp_path: Path) -> None:
    assessment_id = await complete_with_pass_mark(shared, 60.0)

    page = await shared.client.get(f"/reports/{assessment_id}")
    report = (await shared.client.get(f"/reports/{assessment_id}.json")).json()
    pdf = await shared.client.get(f"/reports/{assessment_id}.pdf")

    assert 'data-testid="result">Failed<' in page.text
    assert 'class="chart-row chart-overall chart-failed"' in page.text
    assert report["passed"] is False
    assert report["result_label"] == "Failed"
    text = pdf_text(pdf.content, tmp_path)
    assert "Failed (pass mark 60%)" in text
    assert "Pass mark 60%" in text
    # The chart's value labels and axis ticks.
    for label in ("29.1%", "33.3%", "50%", "0%", "Overall"):
        assert label in text
    assert re.search(r"0\s+20\s+40\s+60\s+80\s+100", text)


@shared_loop
async def test_report_pdf_without_pass_mark(shared: Web, tmp_path: Path) -> None:
    assessment_id, _ = await order(shared)
    await complete_with_answers(shared, assessment_id, {"Python": 1})

    pdf = await shared.client.get(f"/reports/{assessment_id}.pdf")

    text = pdf_text(pdf.content, tmp_path)
    assert "No pass mark for this assessment type" in text
    assert "Pass mark" not in text
    assert "Did not leave the page" in text
    assert "Less than a minute (time limit 30 minutes)" in text


@shared_loop
async def test_report_labels_every_event_kind(shared: Web) -> None:
    assessment_id, _ = await order(shared)
    await complete_with_answers(shared, assessment_id, {})
    await add_events(
        shared,
        assessment_id,
        [
            ("invitation_sent", 1, {"email": "ada@example.com"}),
            ("invitation_failed", 2, {"error": "mailbox unavailable"}),
            ("invitation_resent", 3, {"by": "jane@example.com"}),
            ("reminder_sent", 4, None),
            ("extended", 5, {"expires_at": "2024-05-08T09:00:00+00:00", "by": "jane@example.com"}),
            ("focus_lost", 6, None),
            ("focus_regained", 9, None),
            ("expired", 10, None),
            ("cancelled", 11, {"by": "ats"}),
        ],
    )

    page = await shared.client.get(f"/reports/{assessment_id}")
    timeline = (await shared.client.get(f"/reports/{assessment_id}.json")).json()["timeline"]

    labels = {entry["kind"]: (entry["label"], entry["detail"]) for entry in timeline}
    assert labels["invitation_sent"] == ("Invitation sent", "to ada@example.com")
    assert labels["invitation_failed"] == ("Invitation not sent", "mailbox unavailable")
    assert labels["invitation_resent"] == ("Invitation sent again", "by jane@example.com")
    assert labels["reminder_sent"] == ("Reminder sent", "")
    assert labels["extended"] == ("Invitation extended", "link valid until 2024-05-08 09:00 UTC, by jane@example.com")
    assert labels["focus_lost"] == ("Left the page", "")
    assert labels["focus_regained"] == ("Came back to the page", "away for 3 s")
    assert labels["expired"] == ("Invitation expired", "")
    assert labels["cancelled"] == ("Cancelled", "by the employer in the ATS")
    for label, _ in labels.values():
        assert f"<strong>{label}</strong>" in page.text


@shared_loop
async def test_report_marks_changed_answers(shared: Web) -> None:
    assessment_id, token = await order(shared)
    await answer_as_candidate(shared, token, [(1, 0), (4, 1), (1, 1)])

    page = await shared.client.get(f"/reports/{assessment_id}")
    timeline = (await shared.client.get(f"/reports/{assessment_id}.json")).json()["timeline"]

    answers = [(entry["label"], entry["detail"]) for entry in timeline if entry["kind"] == "answer"]
    assert answers == [
        ("Answer saved", "What does len({1, 1, 2}) return? → 1"),
        ("Answer saved", "Which status code means a resource was not found? → 404"),
        ("Answer changed", "What does len({1, 1, 2}) return? → 2 (was 1)"),
    ]
    steps = replay_step_html(page.text)
    assert 'data-testid="replay-previous-option">(changed from 1)<' in steps[2]
    assert "replay-previous-option" not in steps[0]


@shared_loop
async def test_report_sums_time_away(shared: Web) -> None:
    assessment_id, _ = await order(shared)
    async with shared.app.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        assert assessment is not None
        await engine.begin(session, assessment)
        await session.commit()
    # Away 40 s, then 5 s, then from 100 s until the page is opened again at 130 s.
    await add_events(
        shared,
        assessment_id,
        [
            ("focus_lost", 10, None),
            ("focus_regained", 50, None),
            ("focus_lost", 60, None),
            ("focus_regained", 65, None),
            ("focus_lost", 100, None),
            ("opened", 130, None),
        ],
    )

    page = await shared.client.get(f"/reports/{assessment_id}")
    focus = (await shared.client.get(f"/reports/{assessment_id}.json")).json()["focus"]

    assert focus == {
        "lost_count": 3,
        "away_seconds": 75.0,
        "longest_away_seconds": 40.0,
        "away_at_end": False,
        "summary": "Left the page 3 times, away for 1 min 15 s in total (longest 40 s)",
    }
    assert 'data-testid="focus" data-lost="3" data-away-seconds="75">' in page.text
    assert "Left the page 3 times, away for 1 min 15 s in total (longest 40 s)" in page.text


@shared_loop
async def test_report_counts_time_away_until_submission(shared: Web) -> None:
    assessment_id, _ = await order(shared)
    async with shared.app.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        assert assessment is not None
        await engine.begin(session, assessment)
        await session.commit()
    await add_events(shared, assessment_id, [("focus_lost", 10, None), ("submitted", 70, {"source": "time limit"})])

    focus = (await shared.client.get(f"/reports/{assessment_id}.json")).json()["focus"]

    assert focus["lost_count"] == 1
    assert focus["away_seconds"] == 60.0
    assert focus["summary"] == "Left the page once, away for 1 min in total"


def test_focus_summary_counts_an_open_absence_until_end() -> None:
    start = dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.timezone.utc)
    events = [
        TimelineEvent(kind="started", at=start),
        TimelineEvent(kind="focus_lost", at=start + dt.timedelta(seconds=30)),
        # A second "lost" while away, as blur and visibilitychange both report, starts nothing new.
        TimelineEvent(kind="focus_lost", at=start + dt.timedelta(seconds=31)),
    ]

    summary = focus_summary(events, start + dt.timedelta(minutes=2))

    assert summary.lost_count == 1
    assert summary.away_seconds == 90.0
    assert summary.away_at_end is True
    assert summary.text == "Left the page once, away for 1 min 30 s in total; still away at the end"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "under 1 s"), (45, "45 s"), (60, "1 min"), (125, "2 min 5 s"), (3600, "1 h"), (3780, "1 h 3 min")],
)
def test_duration_text(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


def test_score_chart_geometry() -> None:
    chart = score_chart([{"name": "Python", "percent": 33.3}, {"name": "A" * 30, "percent": 120.0}], 50.0, 70.0)

    assert chart is not None
    assert [(bar.name, bar.value, bar.width) for bar in chart.bars] == [
        ("Overall", 50.0, 195.0),
        ("Python", 33.3, 129.9),
        ("A" * 30, 120.0, 390.0),
    ]
    assert chart.bars[2].label == "A" * 23 + "…"
    assert [bar.passed for bar in chart.bars] == [False, None, None]
    assert [(tick.value, tick.x) for tick in chart.ticks] == [
        (0, 190.0), (20, 268.0), (40, 346.0), (60, 424.0), (80, 502.0), (100, 580.0)
    ]
    assert chart.pass_x == 463.0
    assert chart.description == f"Overall 50%; Python 33.3%; {'A' * 30} 120%; pass mark 70%."
    assert score_chart([], None, 70.0) is None


@shared_loop
async def test_report_json_keys_are_documented(shared: Web) -> None:
    assessment_id, _ = await order(shared)
    await complete_with_answers(shared, assessment_id, {"Python": 1})

    report = (await shared.client.get(f"/reports/{assessment_id}.json")).json()

    documented = (Path(__file__).resolve().parent.parent / "docs" / "reports.md").read_text(encoding="utf-8")
    keys = list(report)
    keys += [f"{parent}.{key}" for parent in ("candidate", "job", "assessment_type", "focus") for key in report[parent]]
    keys += [f"categories[].{key}" for key in report["categories"][0]]
    keys += [f"timeline[].{key}" for key in report["timeline"][0]]
    for key in keys:
        assert f"`{key}`" in documented, f"{key} is missing from docs/reports.md"


@shared_loop
async def test_assessments_filter_by_expired_status(shared: Web) -> None:
    invited, _ = await order(shared)
    expired, _ = await order(shared)
    await set_fields(shared, expired, status="expired")

    response = await shared.client.get("/assessments", params={"status": "expired"})

    assert response.status_code == 200
    assert listed(response.text, invited, expired) == [False, True]
    assert '<option value="expired" selected>Expired</option>' in response.text


@shared_loop
async def test_assessments_show_result_column(shared: Web) -> None:
    passed = await complete_with_pass_mark(shared, 20.0)
    failed = await complete_with_pass_mark(shared, 90.0)

    response = await shared.client.get("/assessments")

    rows = {row_id: row for row_id, row in assessment_rows(response.text)}
    assert '<span class="badge badge-pass">Passed</span>' in rows[passed]
    assert '<span class="badge badge-fail">Failed</span>' in rows[failed]
    assert "<th>Result</th>" in response.text


@shared_loop
async def test_assessments_filter_by_result(shared: Web) -> None:
    passed = await complete_with_pass_mark(shared, 20.0)
    failed = await complete_with_pass_mark(shared, 90.0)
    no_pass_mark, _ = await order(shared)
    await complete_with_answers(shared, no_pass_mark, {"Python": 1})

    passed_list = await shared.client.get("/assessments", params={"result": "passed"})
    failed_list = await shared.client.get("/assessments", params={"result": "failed"})
    invalid = await shared.client.get("/assessments", params={"result": "maybe"})

    assert listed(passed_list.text, passed, failed, no_pass_mark) == [True, False, False]
    assert '<option value="passed" selected>Passed</option>' in passed_list.text
    assert listed(failed_list.text, passed, failed, no_pass_mark) == [False, True, False]
    assert invalid.status_code == 400
    assert FILTER_ERROR.findall(invalid.text) == ["Result: &#39;maybe&#39; is not a result. Pick Passed or Failed."]


def assessment_rows(html: str) -> list[tuple[str, str]]:
    """Return (assessment id, row HTML) for each row of the assessment list."""
    rows = html.split('data-testid="assessment-row"')[1:]
    return [(re.search(r'href="/reports/([^"]+)"', row).group(1), row.split("</tr>")[0]) for row in rows]


@pytest.mark.parametrize(
    ("duration", "limit", "text"),
    [
        (1, 1, "1 minute (time limit 1 minute)"),
        (1.5, 30, "1.5 minutes (time limit 30 minutes)"),
        (0, 60, "Less than a minute (time limit 60 minutes)"),
        (0.5, 60, "Less than a minute (time limit 60 minutes)"),
        (None, 1, "Not finished (time limit 1 minute)"),
    ],
)
def test_time_taken_text_pluralises(duration: float | None, limit: int, text: str) -> None:
    assert time_taken_text(duration, limit) == text


def test_missing_score_text_by_status() -> None:
    assert missing_score_text("cancelled") == "No score: the assessment was cancelled."
    assert missing_score_text("expired") == "No score: the invitation expired before the candidate finished."
    assert missing_score_text("started") == "No score yet: the assessment is in progress."


async def test_report_layout_at_1200px(tmp_path: Path) -> None:
    """The menu fits on one line at 1200 px, and a long reason without spaces wraps inside its card."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        if os.environ.get("LANGOS_REQUIRE_BROWSER") == "1":
            raise RuntimeError(f"chromium not found at {chromium}; install Debian's chromium package")
        pytest.skip("Debian's chromium is not installed")
    from playwright.async_api import async_playwright

    from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_stack
    from tests.test_connector_ashby import call, first_type, start_body

    async with make_stack(tmp_path) as stack:
        key = await stack.connect_and_configure()
        started = await call(stack, "assessment.start", key, start_body(await first_type(stack, key)))
        assessment_id = started.json()["results"]["assessment_id"]
        report = f"/reports/{assessment_id}"
        token = await stack.admin.csrf(report)
        cancelled = await stack.admin.client.post(f"{report}/cancel",
                                                  data={"csrf_token": token, "reason": "Withdrawn:" + "x" * 400})
        assert cancelled.status_code == 303

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium, headless=True,
                                                       args=["--no-sandbox", "--disable-gpu"])
            try:
                page = await browser.new_page(viewport={"width": 1200, "height": 800})
                await page.goto(stack.langos_url + "/login")
                await page.fill("input[name=email]", ADMIN_EMAIL)
                await page.fill("input[name=password]", ADMIN_PASSWORD)
                await page.click("button[type=submit]")
                await page.goto(stack.langos_url + report)

                link_tops = await page.eval_on_selector_all(".topbar a, .topbar button",
                                                            "items => items.map(item => item.getBoundingClientRect().top)")
                link_texts = await page.eval_on_selector_all("nav a", "links => links.map(link => link.textContent)")
                reason_fits = await page.eval_on_selector(
                    "[data-testid=cancelled-reason]", "cell => cell.scrollWidth <= cell.clientWidth")
                page_width = await page.evaluate("document.documentElement.scrollWidth")
            finally:
                await browser.close()

    assert link_texts == ["Assessments", "Integrations", "Assessment types", "Emails", "Team", "Audit log"]
    assert max(link_tops) - min(link_tops) < 10
    assert reason_fits
    assert page_width <= 1200
