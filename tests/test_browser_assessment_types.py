"""The assessment type form in headless Chromium: the Add buttons' script, saving, and the list.

Needs Debian's ``chromium``. Without it the test is skipped, unless
``LANGOS_REQUIRE_BROWSER=1`` turns the skip into a failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core.models import AssessmentType
from tests.browser import launch_chromium, require_tools
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Stack

require_tools("chromium")

from playwright.async_api import expect  # noqa: E402


@pytest.fixture
async def browser():
    async with launch_chromium() as instance:
        yield instance


async def test_form_adds_blocks_and_saves(stack: Stack, browser, tmp_path: Path) -> None:
    page = await (await browser.new_context()).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    await page.goto(stack.langos_url + "/settings/assessment-types/new")
    await page.fill("input[name=email]", ADMIN_EMAIL)
    await page.fill("input[name=password]", ADMIN_PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.get_by_test_id("assessment-type-form")).to_be_visible()
    # Without the script the Add and Remove buttons post the form; with it only Save does.
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)

    await page.fill("input[name=name]", "Rust basics")
    await page.fill("input[name=time_limit_minutes]", "15")
    await page.fill("input[name=pass_mark]", "50")
    await page.fill("input[name=categories-0-name]", "Ownership")
    await page.fill("textarea[name=categories-0-questions-0-prompt]", "Who frees a Box?")
    await page.fill("textarea[name=categories-0-questions-0-options]", "Its owner\nThe garbage collector")
    await page.fill("input[name=categories-0-questions-0-correct_option]", "1")

    # The script adds two questions to the first category and removes the blank one; the
    # question after it takes its place in the field names.
    first_category = page.locator("[data-category]").first
    await first_category.locator("button:has-text('Add a question')").click()
    await first_category.locator("button:has-text('Add a question')").click()
    await expect(page.locator("textarea[name=categories-0-questions-2-prompt]")).to_be_visible()
    await page.fill("textarea[name=categories-0-questions-2-prompt]", "What does a move do?")
    await page.fill("textarea[name=categories-0-questions-2-options]", "Copies\nTransfers ownership\nBorrows")
    await page.fill("input[name=categories-0-questions-2-correct_option]", "2")
    await first_category.locator("[data-question]").nth(1).locator("button:has-text('Remove question')").click()
    await expect(page.locator("textarea[name=categories-0-questions-1-prompt]")).to_have_value("What does a move do?")
    await expect(page.locator("textarea[name=categories-0-questions-2-prompt]")).to_have_count(0)
    await expect(first_category.locator("[data-question-title]").nth(1)).to_have_text("Question 2")

    # A category added by mistake is removed again.
    await page.click("button:has-text('Add a category')")
    await page.locator("[data-categories] > [data-category]").nth(1).locator("button:has-text('Remove category')").click()
    await expect(page.locator("[data-categories] > [data-category]")).to_have_count(1)
    await page.click("button:has-text('Add a category')")
    await expect(page.locator("input[name=categories-1-name]")).to_be_visible()
    await page.fill("input[name=categories-1-name]", "Tooling")
    await page.fill("input[name=categories-1-weight]", "0.5")
    await page.fill("textarea[name=categories-1-questions-0-prompt]", "Which tool builds a crate?")
    await page.fill("textarea[name=categories-1-questions-0-options]", "cargo\nrustup")
    await page.fill("input[name=categories-1-questions-0-correct_option]", "1")
    await expect(page.locator("[data-categories] > [data-category]")).to_have_count(2)
    await page.screenshot(path=str(tmp_path / "assessment-type-form.png"), full_page=True)
    assert posts == []

    # Chromium restores the viewport late after a full-page screenshot, so the page can move
    # between a mouse click's press and release. Pressing Enter on the button avoids that.
    await page.get_by_test_id("save").press("Enter")

    row = page.locator("[data-testid=assessment-type][data-name='Rust basics']")
    await expect(row).to_be_visible()
    await expect(row).to_contain_text("3 in 2 categories")
    await expect(page.locator("[role=status]")).to_contain_text("Created the assessment type Rust basics")
    await page.screenshot(path=str(tmp_path / "assessment-types-list.png"), full_page=True)
    assert errors == []
    assert posts == [stack.langos_url + "/settings/assessment-types/new"]

    async with stack.langos.state.host.session() as session:
        saved = await session.scalar(select(AssessmentType).where(AssessmentType.name == "Rust basics"))
    assert saved is not None
    assert [category.name for category in saved.categories] == ["Ownership", "Tooling"]
    assert [category.weight for category in saved.categories] == [1.0, 0.5]
    assert [question.correct_option for question in saved.categories[0].questions] == [0, 1]
    assert saved.pass_mark == 50
