"""The whole flow clicked through in headless Chromium: Langos settings, the fake Ashby's
recruiter screen, the candidate page and the report.

Needs Debian's ``chromium`` (``.ci/run`` installs it). Without it the test is skipped,
unless ``LANGOS_REQUIRE_BROWSER=1`` (set by ``.ci/run``) turns the skip into a failure.
Screenshots go to ``var/screenshots``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from core.models import Email
from tests.browser import launch_chromium, require_tools
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, ASHBY_KEY, Stack

SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"
require_tools("chromium")

from playwright.async_api import expect  # noqa: E402


@pytest.fixture
async def browser():
    async with launch_chromium() as instance:
        yield instance


async def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def test_browser_walkthrough(stack: Stack, browser) -> None:
    context = await browser.new_context()
    admin = await context.new_page()

    # Sign in and connect Ashby in Langos.
    await admin.goto(stack.langos_url + "/settings/integrations")
    await admin.fill("input[name=email]", ADMIN_EMAIL)
    await admin.fill("input[name=password]", ADMIN_PASSWORD)
    await admin.click("button[type=submit]")
    await expect(admin.locator("#connector-ashby")).to_contain_text("Not connected")
    await admin.fill("#connector-ashby input[name=credential]", ASHBY_KEY)
    await admin.click("#connector-ashby button:has-text('Connect')")
    await expect(admin.get_by_test_id("issued-key")).to_be_visible()
    key = (await admin.locator("#issued-key-ashby").text_content()).strip()
    base_url = (await admin.locator("#base-url-ashby").text_content()).strip()
    assert key.startswith("lgs_ats_")
    assert base_url == stack.webhook_url
    await admin.click("button[data-copy=issued-key-ashby]")
    await expect(admin.locator("button[data-copy=issued-key-ashby]")).not_to_have_text("Copy")
    await shot(admin, "01-langos-connected")

    # Paste the key into the fake Ashby, test it, and build the interview plan.
    recruiter = await context.new_page()
    await recruiter.goto(stack.ashby_url + "/")
    await recruiter.fill("input[name=base_url]", base_url)
    await recruiter.fill("input[name=api_key]", key)
    await recruiter.click("button:has-text('Save and test')")
    await expect(recruiter.locator("[role=status]")).to_contain_text("Settings saved. Connected to Langos")
    await expect(recruiter.locator("body")).to_contain_text("Backend Python (30 min)")
    await recruiter.locator("button:has-text('Use in plan')").first.click()
    await recruiter.locator("button:has-text('Start Assessment')").first.click()
    await shot(recruiter, "02-ashby-started")

    # The candidate opens the invitation link and takes the assessment.
    async with stack.langos.state.host.session() as session:
        message = await session.scalar(select(Email))
    link = re.search(r"https?://\S+/take/\S+", message.body_text).group(0)
    candidate = await (await browser.new_context()).new_page()
    await candidate.goto(link)
    await expect(candidate.get_by_test_id("welcome")).to_be_visible()
    await candidate.click("button:has-text('Start the assessment')")
    questions = candidate.get_by_test_id("question")
    # to_have_count waits for the questions page to load after the click.
    await expect(questions).to_have_count(7)
    count = await questions.count()
    for index in range(count):
        await questions.nth(index).locator("input[type=radio]").nth(1).check()
        await expect(candidate.locator("#save-status")).to_have_text("Answer saved.")
    # Reopening the link resumes the session with the saved answers.
    await candidate.reload()
    await expect(candidate.get_by_test_id("answered")).to_have_text(str(count))
    await shot(candidate, "03-candidate-answers")
    await candidate.click("button:has-text('Submit answers')")
    await expect(candidate.get_by_test_id("message")).to_contain_text("submitted")

    # The recruiter sees the result in Ashby and follows View in Langos to the report.
    # The "Invited" and "Started" updates already show the link, so the loop waits for the result.
    for _ in range(50):
        await recruiter.reload()
        if await recruiter.locator("body:has-text('Completed')").count():
            break
        await recruiter.wait_for_timeout(200)
    await expect(recruiter.locator("body")).to_contain_text("Completed")
    await shot(recruiter, "04-ashby-completed")
    href = await recruiter.locator("a:has-text('View in Langos')").first.get_attribute("href")
    assert href.startswith(stack.langos_url + "/reports/")

    await admin.goto(href)
    await expect(admin.get_by_test_id("score")).to_be_visible()
    await shot(admin, "05-langos-report")
