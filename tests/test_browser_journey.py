"""A candidate's session and the recruiter's report, clicked through in headless Chromium.

The candidate opens the link, starts, answers, closes the tab and the browser, comes back
in a new one with the answers restored, switches to another tab and back, changes an answer and
submits. An admin then reads the report: chart, pass or fail, timeline, replay and the
PDF and JSON downloads. A second candidate's assessment is cancelled mid-session, and
the next autosave shows why.

Playwright turns on Chromium's focus emulation for every page, so each page reports that
it has focus whatever tab is in front. The tests turn it off with the DevTools command
``Emulation.setFocusEmulationEnabled``, so switching tabs fires the window's real
``blur`` and ``focus`` events. Headless Chromium (checked with version 156) keeps every
tab's ``document.visibilityState`` at "visible" and fires no ``visibilitychange``, so the
cancellation test overrides ``visibilityState`` and dispatches ``visibilitychange`` to
run that path of the page's script.

Needs Debian's ``chromium`` and poppler's ``pdftotext``. Without them the tests are
skipped, unless ``LANGOS_REQUIRE_BROWSER=1`` turns the skip into a failure. Screenshots
go to the test's ``tmp_path``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import func, select, update
from starlette.applications import Starlette

from core.models import Answer, Assessment, Question, TimelineEvent, utcnow
from tests.browser import launch_chromium, require_tools
from tests.helpers_web import ADMIN_PASSWORD, SeededWorkspace, build_app, cancel, order_assessment, seed_workspace
from tests.live import bind_loopback, serve, wait_for

CANCELLED = "This assessment was cancelled by the employer and can no longer be taken."
PASS_MARK = 40.0

require_tools("chromium", "pdftotext")

from playwright.async_api import Browser, BrowserContext, Page, expect  # noqa: E402

shared_loop = pytest.mark.asyncio(loop_scope="module")


@dataclasses.dataclass(frozen=True)
class Site:
    app: Starlette
    url: str
    seeded: SeededWorkspace


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    app = build_app(tmp_path_factory.mktemp("journey"))
    async with serve(app, bind_loopback()) as url:
        yield Site(app=app, url=url, seeded=await seed_workspace(app))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launch_chromium() as instance:
        yield instance


async def order(site: Site) -> tuple[str, str, list[Question]]:
    """Order an assessment with the pass mark set; return its id, the link's token and the questions in order."""
    assessment_id, token = await order_assessment(site.app, site.seeded, f"application-{uuid.uuid4().hex}")
    async with site.app.state.host.session() as session:
        await session.execute(update(Assessment).where(Assessment.id == assessment_id).values(pass_mark=PASS_MARK))
        await session.commit()
        assessment = await session.get(Assessment, assessment_id)
        assert assessment is not None
        questions = [question for category in assessment.assessment_type.categories for question in category.questions]
    return assessment_id, token, questions


async def real_focus(page: Page) -> None:
    """Make the tab report focus as a real browser tab does.

    Call it after the tab loads the page under test: the setting applies to the tab's
    renderer process, and a navigation to another site starts a new one.
    """
    devtools = await page.context.new_cdp_session(page)
    await devtools.send("Emulation.setFocusEmulationEnabled", {"enabled": False})


async def new_page(context: BrowserContext) -> Page:
    """Open a tab that records the page's script errors."""
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    setattr(page, "script_errors", errors)
    return page


async def timeline_has(site: Site, assessment_id: str, kind: str) -> bool:
    async with site.app.state.host.session() as session:
        found = await session.scalar(
            select(TimelineEvent.id).where(TimelineEvent.assessment_id == assessment_id, TimelineEvent.kind == kind)
        )
    return found is not None


def is_event_post(response: Any) -> bool:
    return response.url.endswith("/events") and response.request.method == "POST"


async def choose(page: Page, number: int, option: int) -> None:
    """Choose an option of question ``number`` (from 1) and wait until the page has saved it."""
    await page.get_by_test_id("question").nth(number - 1).locator("input[type=radio]").nth(option).check()
    await expect(page.locator("#save-status")).to_have_text("Answer saved.")


def wrong(question: Question) -> int:
    return (question.correct_option + 1) % len(question.options)


async def accept_dialog(dialog: Any) -> None:
    await dialog.accept()


@shared_loop
async def test_candidate_journey_and_report(site: Site, browser: Browser, tmp_path: Path) -> None:
    assessment_id, token, questions = await order(site)
    link = f"{site.url}/take/{token}"

    # First visit: open the link, start, answer three questions, close the browser.
    first = await browser.new_context()
    page = await new_page(first)
    await page.goto(link)
    await expect(page.get_by_test_id("welcome")).to_be_visible()
    await expect(page.get_by_test_id("focus-notice")).to_be_visible()
    await page.click("button:has-text('Start the assessment')")
    await expect(page.get_by_test_id("question")).to_have_count(7)
    # The questions are visible before answers.js has run, so the test waits for the load event.
    await page.wait_for_load_state("load")
    await choose(page, 1, questions[0].correct_option)
    await choose(page, 2, wrong(questions[1]))
    await choose(page, 4, questions[3].correct_option)
    await page.screenshot(path=str(tmp_path / "candidate.png"), full_page=True)
    assert page.script_errors == []
    # Closing the tab hides the page, which reports focus_lost with a keepalive request.
    await page.close()
    await wait_for(lambda: timeline_has(site, assessment_id, "focus_lost"))
    await first.close()

    # Second visit in a new browser: the saved answers are restored.
    second = await browser.new_context()
    page = await new_page(second)
    await page.goto(link)
    await real_focus(page)
    await expect(page.get_by_test_id("answered")).to_have_text("3")
    restored = [(1, questions[0].correct_option), (2, wrong(questions[1])), (4, questions[3].correct_option)]
    for number, option in restored:
        await expect(page.get_by_test_id("question").nth(number - 1).locator("input[type=radio]").nth(option)).to_be_checked()

    # Switch to another tab and back.
    async with page.expect_response(is_event_post) as lost_info:
        other = await new_page(second)
        await real_focus(other)
        await other.bring_to_front()
    lost = await lost_info.value
    async with page.expect_response(is_event_post) as regained_info:
        await page.bring_to_front()
    regained = await regained_info.value
    assert json.loads(lost.request.post_data or "{}") == {"kind": "focus_lost"}
    assert lost.status == 200
    assert json.loads(regained.request.post_data or "{}") == {"kind": "focus_regained"}
    assert regained.status == 200

    # Change an answer and submit; the page asks before submitting unanswered questions.
    await choose(page, 2, questions[1].correct_option)
    page.once("dialog", accept_dialog)
    await page.click("button:has-text('Submit answers')")
    await expect(page.get_by_test_id("message")).to_contain_text("your answers were submitted")
    assert page.script_errors == []
    await second.close()

    async with site.app.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        assert assessment is not None
        score = assessment.score
    assert score is not None

    # The admin signs in and reads the report.
    admin_context = await browser.new_context(viewport={"width": 1200, "height": 900})
    admin = await new_page(admin_context)
    await admin.goto(f"{site.url}/login?next=/reports/{assessment_id}")
    await admin.fill("input[name=email]", site.seeded.admin_email)
    await admin.fill("input[name=password]", ADMIN_PASSWORD)
    await admin.click("button[type=submit]")
    await expect(admin.get_by_test_id("score-chart")).to_be_visible()
    await expect(admin.get_by_test_id("result")).to_have_text("Passed")

    # Python: 2 of 3 correct, HTTP: 1 of 2, Databases: none. A bar is 3.9 units per percent.
    bars = admin.get_by_test_id("chart-bar")
    expected = [("Overall", score), ("Python", 66.7), ("HTTP", 50.0), ("Databases", 0.0)]
    await expect(bars).to_have_count(len(expected))
    for index, (name, value) in enumerate(expected):
        bar = bars.nth(index)
        assert await bar.get_attribute("data-name") == name
        assert await bar.get_attribute("data-value") == f"{value:g}"
        assert await bar.locator("rect.chart-fill").get_attribute("width") == f"{round(3.9 * value, 1)}"
        await expect(bar.get_by_test_id("chart-value")).to_have_text(f"{value:g}%")
    await expect(admin.get_by_test_id("chart-pass-mark")).to_have_attribute("data-value", "40")
    await expect(admin.get_by_test_id("chart-tick")).to_have_text(["0", "20", "40", "60", "80", "100"])
    chart_box = await admin.get_by_test_id("score-chart").bounding_box()
    assert chart_box is not None and chart_box["width"] > 400

    kinds = await admin.get_by_test_id("timeline-event").evaluate_all("items => items.map(item => item.dataset.kind)")
    candidate_kinds = ["opened", "started", "answer", "focus_lost", "focus_regained", "submitted"]
    assert [kind for kind in kinds if kind in candidate_kinds] == [
        "opened", "started", "answer", "answer", "answer", "focus_lost",
        "opened", "focus_lost", "focus_regained", "answer", "submitted",
    ]
    timeline = admin.get_by_test_id("timeline")
    await expect(timeline).to_contain_text("Left the page")
    await expect(timeline).to_contain_text("Came back to the page: away for")
    await expect(timeline).to_contain_text("Answer changed")
    await expect(admin.get_by_test_id("focus")).to_contain_text("Left the page 2 times, away for")
    await admin.screenshot(path=str(tmp_path / "report.png"), full_page=True)

    # Step through the replay to the changed answer, with Next, the slider and Previous.
    steps = admin.get_by_test_id("replay-step")
    position = admin.get_by_test_id("replay-position")
    await expect(admin.get_by_test_id("replay-controls")).to_be_visible()
    await expect(position).to_have_text("Step 1 of 4")
    await expect(steps.nth(1)).to_be_hidden()
    await expect(admin.get_by_test_id("replay-previous")).to_be_disabled()
    await expect(steps.nth(0).get_by_test_id("replay-state")).to_be_visible()
    await admin.get_by_test_id("replay-next").click()
    await expect(position).to_have_text("Step 2 of 4")
    await expect(steps.nth(0)).to_be_hidden()
    await expect(steps.nth(1).get_by_test_id("replay-option")).to_have_text(questions[1].options[wrong(questions[1])])
    await admin.get_by_test_id("replay-slider").fill("4")
    await expect(position).to_have_text("Step 4 of 4")
    await expect(admin.get_by_test_id("replay-next")).to_be_disabled()
    last_step = steps.nth(3)
    await expect(last_step).to_be_visible()
    await expect(last_step.get_by_test_id("replay-previous-option")).to_have_text(
        f"(changed from {questions[1].options[wrong(questions[1])]})"
    )
    await expect(last_step.get_by_test_id("replay-correct")).to_have_text("Correct")
    await admin.get_by_test_id("replay-previous").click()
    await expect(position).to_have_text("Step 3 of 4")
    await expect(admin.get_by_test_id("replay-slider")).to_have_value("3")
    await admin.get_by_test_id("replay-slider").fill("4")
    await admin.get_by_test_id("replay").screenshot(path=str(tmp_path / "replay.png"))

    # Download the PDF and the JSON.
    async with admin.expect_download() as pdf_info:
        await admin.get_by_test_id("download-pdf").click()
    pdf_path = tmp_path / "report.pdf"
    await (await pdf_info.value).save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF-")
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf_path), "-"], capture_output=True, check=True, timeout=30
    ).stdout.decode("utf-8")
    assert "Passed (pass mark 40%)" in text
    assert "Left the page 2 times" in text
    assert "66.7%" in text

    async with admin.expect_download() as json_info:
        await admin.get_by_test_id("download-json").click()
    report = json.loads(Path(await (await json_info.value).path()).read_text(encoding="utf-8"))
    assert report["passed"] is True
    assert report["pass_mark"] == PASS_MARK
    assert report["score"] == score
    assert [(category["name"], category["score"]) for category in report["categories"]] == expected[1:]
    assert report["focus"]["lost_count"] == 2
    assert report["focus"]["away_at_end"] is False
    assert admin.script_errors == []
    await admin_context.close()


@shared_loop
async def test_cancelled_mid_session_explains(site: Site, browser: Browser, tmp_path: Path) -> None:
    assessment_id, token, questions = await order(site)
    context = await browser.new_context()
    page = await new_page(context)
    await page.goto(f"{site.url}/take/{token}")
    await page.click("button:has-text('Start the assessment')")
    await expect(page.get_by_test_id("question")).to_have_count(7)

    # The questions are visible before answers.js has run, so the test waits for the load event.
    await page.wait_for_load_state("load")
    # Headless Chromium fires no visibilitychange, so the test hides the page and dispatches it.
    async with page.expect_response(is_event_post) as hidden_info:
        await page.evaluate(
            """() => {
                Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
                document.dispatchEvent(new Event("visibilitychange"));
            }"""
        )
    hidden = await hidden_info.value
    assert json.loads(hidden.request.post_data or "{}") == {"kind": "focus_lost"}
    assert hidden.status == 200

    await choose(page, 1, 1)
    await cancel(site.app, site.seeded, assessment_id)
    second = page.get_by_test_id("question").nth(1).locator("input[type=radio]").nth(1)
    # click(), because check() fails when the page unchecks the radio before check() verifies it.
    await second.click()

    notice = page.get_by_test_id("closed-notice")
    await expect(notice).to_be_visible()
    await expect(notice.locator("strong")).to_have_text("This assessment is closed")
    await expect(notice).to_contain_text(CANCELLED)
    await expect(second).not_to_be_checked()
    await expect(page.get_by_test_id("question").nth(0).locator("input[type=radio]").nth(1)).to_be_checked()
    await expect(page.get_by_test_id("answered")).to_have_text("1")
    await expect(page.locator("#answers input[type=radio]:enabled")).to_have_count(0)
    await expect(page.locator("button:has-text('Submit answers')")).to_be_disabled()
    await expect(page.locator("#save-status")).to_have_text("")
    async with site.app.state.host.session() as session:
        answers = await session.scalar(select(func.count()).where(Answer.assessment_id == assessment_id))
    assert answers == 1
    await page.screenshot(path=str(tmp_path / "withdrawn.png"))
    # Chromium logs the rejected autosave's HTTP status, and the script itself raised nothing.
    assert page.script_errors == ["Failed to load resource: the server responded with a status of 409 (Conflict)"]

    # Reloading shows the same reason as a page.
    await page.reload()
    await expect(page.locator("h1")).to_have_text("Assessment withdrawn")
    await expect(page.get_by_test_id("message")).to_have_text(CANCELLED)
    await context.close()


async def leave_time(site: Site, assessment_id: str, seconds: float) -> None:
    """Move the assessment's start back so that ``seconds`` of its time limit remain."""
    async with site.app.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        assert assessment is not None
        limit = dt.timedelta(minutes=assessment.effective_time_limit)
        assessment.started_at = utcnow() - limit + dt.timedelta(seconds=seconds)
        await session.commit()


@shared_loop
async def test_countdown_warns_then_locks(site: Site, browser: Browser, tmp_path: Path) -> None:
    assessment_id, token, questions = await order(site)
    context = await browser.new_context(timezone_id="Asia/Tokyo")
    page = await new_page(context)
    await page.goto(f"{site.url}/take/{token}")
    await page.click("button:has-text('Start the assessment')")
    await page.wait_for_load_state("load")

    # The countdown shows mm:ss and counts down; the deadline is shown in Tokyo time too.
    clock = page.get_by_role("timer")
    await expect(page.get_by_test_id("countdown")).to_be_visible()
    await expect(clock).to_have_text(re.compile(r"^(30:00|29:5\d)$"))
    first = await clock.text_content()
    await expect(clock).not_to_have_text(first or "")
    await expect(clock).to_have_attribute("aria-live", "off")
    await expect(page.get_by_test_id("deadline-local")).to_contain_text("your time")
    await expect(page.get_by_test_id("deadline-local")).to_contain_text(re.compile(r"GMT\+9|JST"))
    await expect(page.get_by_test_id("time-warning")).to_be_hidden()

    # With less than 5 minutes left the page warns, and the candidate can still answer.
    await leave_time(site, assessment_id, 4 * 60 + 30)
    await page.reload()
    warning = page.get_by_test_id("time-warning")
    await expect(warning).to_be_visible()
    await expect(warning).to_have_text(re.compile(r"^Less than 5 minutes left\."))
    await expect(warning).to_have_attribute("role", "alert")
    await expect(clock).to_have_text(re.compile(r"^04:[0-3]\d$"))
    await page.wait_for_load_state("load")
    await choose(page, 1, questions[0].correct_option)
    await page.screenshot(path=str(tmp_path / "five-minutes.png"))

    await leave_time(site, assessment_id, 50)
    await page.reload()
    await expect(warning).to_have_text(re.compile(r"^Less than 1 minute left\."))

    # At zero the page says the time is up and locks the form without asking the server.
    # Four seconds leave the reload time to show the questions page on a busy machine.
    await leave_time(site, assessment_id, 4)
    await page.reload()
    notice = page.get_by_test_id("closed-notice")
    await expect(notice).to_be_visible(timeout=15_000)
    await expect(notice.locator("strong")).to_have_text("Time is up")
    await expect(notice).to_contain_text("The time limit of 30 minutes is up, and your saved answers are being submitted.")
    await expect(clock).to_have_text("00:00")
    await expect(warning).to_be_hidden()
    await expect(page.locator("#answers input[type=radio]:enabled")).to_have_count(0)
    await expect(page.locator("button:has-text('Submit answers')")).to_be_disabled()
    await expect(page.locator("#answers input[type=radio]:checked")).to_have_count(1)
    await page.screenshot(path=str(tmp_path / "time-up.png"))
    assert page.script_errors == []

    # The server completes the assessment with the saved answer on the next request.
    await page.reload()
    await expect(page.locator("h1")).to_have_text("Time limit reached")
    async with site.app.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        assert assessment is not None
        assert assessment.status == "completed"
    await context.close()
