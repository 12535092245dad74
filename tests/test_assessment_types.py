"""Settings > Assessment types: the service's validation, the pages, and what Ashby's assessment.list shows.

The page and Ashby tests share one Langos and fake Ashby for the module, so each test
creates types with names of its own.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.datastructures import FormData

from core import assessment_types, seed
from core.assessment_types import TypeDefinition, parse_definition, raw_of
from core.exceptions import RequestValidationError
from core.web.assessment_types_pages import apply_action, draft_from_form
from core.models import Answer, Assessment, AssessmentType, AuditEvent, Email
from tests.conftest import CSRF, AdminClient, Stack, langos_env, make_stack
from tests.test_cli import Cli
from tests.test_connector_ashby import call, start_body
from tests.test_security import assert_no_inline_code

shared_loop = pytest.mark.asyncio(loop_scope="module")

PREFIX = "/settings/assessment-types"
TAKE_LINK = re.compile(r"/take/([A-Za-z0-9_-]+)")
VIEWER_EMAIL = "viewer@demo.example"
VIEWER_PASSWORD = "viewer-password-123"


def sample(name: str = "Go basics") -> dict[str, Any]:
    """Return a valid raw definition with two categories, as the form would post it."""
    return {
        "name": name,
        "description": "Go for backend engineers.",
        "time_limit_minutes": "25",
        "pass_mark": "60",
        "expiry_days": "10",
        "categories": [
            {
                "name": "Language",
                "weight": "2",
                "questions": [
                    {"prompt": "Which keyword starts a goroutine?", "options": "go\ndefer\nasync", "correct_option": "1",
                     "points": "1"},
                ],
            },
            {
                "name": "Tooling",
                "weight": "1",
                "questions": [
                    {"prompt": "Which command formats code?", "options": "go fmt\ngo vet\ngo doc", "correct_option": "1",
                     "points": "2"},
                    {"prompt": "Which file lists a module's dependencies?", "options": "go.mod\ngo.sum",
                     "correct_option": "1", "points": "1"},
                ],
            },
        ],
    }


def form_fields(raw: dict[str, Any]) -> dict[str, str]:
    """Flatten a raw definition into the form's field names."""
    fields = {key: raw[key] for key in ("name", "description", "time_limit_minutes", "pass_mark", "expiry_days")}
    for ci, category in enumerate(raw["categories"]):
        fields[f"categories-{ci}-name"] = category["name"]
        fields[f"categories-{ci}-weight"] = category["weight"]
        for qi, question in enumerate(category["questions"]):
            for field, value in question.items():
                fields[f"categories-{ci}-questions-{qi}-{field}"] = value
    return fields


# ---- the service's validation ------------------------------------------------------------


def test_parse_definition_normalises() -> None:
    raw = sample("  Go basics  ")
    raw["categories"][1]["questions"][1]["options"] = "go.mod\n\n  go.sum  \n"
    raw["pass_mark"] = ""
    raw["expiry_days"] = ""

    definition = parse_definition(raw)

    assert definition.name == "Go basics"
    assert definition.time_limit_minutes == 25
    assert definition.pass_mark is None
    assert definition.expiry_days == 7
    assert definition.categories[0].weight == 2.0
    assert definition.categories[1].questions[1].options == ("go.mod", "go.sum")
    assert definition.categories[1].questions[0].correct_option == 0
    assert definition.categories[1].questions[0].points == 2.0


def test_parse_definition_round_trips() -> None:
    definition = parse_definition(sample())

    assert parse_definition(raw_of(definition)) == definition


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def mutate(raw: dict[str, Any]) -> None:
        target: Any = raw
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
    return mutate


def _question(ci: int, qi: int, field: str, value: Any) -> Any:
    return _set(("categories", ci, "questions", qi, field), value)


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (_set(("name",), "  "), "name", "The name is missing"),
        (_set(("name",), "x" * 201), "name", "Shorten it to at most 200"),
        (_set(("description",), "x" * 2001), "description", "Shorten it to at most 2000"),
        (_set(("time_limit_minutes",), "0"), "time_limit_minutes", "whole number of minutes from 1 to 1440"),
        (_set(("time_limit_minutes",), "abc"), "time_limit_minutes",
         "The time limit must be a whole number of minutes, such as 30, not 'abc'. Leave it empty for 60."),
        (_set(("time_limit_minutes",), "2.5"), "time_limit_minutes", "whole number"),
        (_set(("pass_mark",), "101"), "pass_mark", "percentage from 0 to 100"),
        (_set(("pass_mark",), "nan"), "pass_mark", "must be a number"),
        (_set(("expiry_days",), "91"), "expiry_days", "The invitation expiry must be a whole number of days from 1 to 90"),
        (_set(("expiry_days",), "soon"), "expiry_days", "a whole number of days, such as 14, not 'soon'"),
        (_set(("categories",), []), "categories", "Add at least one category"),
        (_set(("categories",), "Language"), "categories", "must be a list"),
        (_set(("categories", 1, "name"), ""), "categories[1].name", "Category 2: the name is missing"),
        (_set(("categories", 1, "name"), "language"), "categories[1].name", "both named"),
        (_set(("categories", 0, "weight"), "0"), "categories[0].weight", "greater than 0"),
        (_set(("categories", 0, "weight"), "-1"), "categories[0].weight", "greater than 0"),
        (_set(("categories", 0, "weight"), "inf"), "categories[0].weight", "must be a number"),
        (_set(("categories", 1, "questions"), []), "categories[1].questions", "Add at least one question"),
        (_set(("categories", 1, "questions", 0), "text"), "categories[1].questions[0]", "is not a question"),
        (_question(1, 0, "prompt", ""), "categories[1].questions[0].prompt", "question text is missing"),
        (_question(1, 0, "options", "only one"), "categories[1].questions[0].options", "needs 2 to 10 options"),
        (_question(1, 0, "options", "\n".join(str(n) for n in range(11))), "categories[1].questions[0].options",
         "it has 11"),
        (_question(1, 0, "options", "same\nsame"), "categories[1].questions[0].options", "same text"),
        (_question(1, 0, "options", ["a", 3]), "categories[1].questions[0].options", "must be text"),
        (_question(1, 0, "options", "a\n" + "b" * 501), "categories[1].questions[0].options", "at most 500"),
        (_question(1, 0, "correct_option", "4"), "categories[1].questions[0].correct_option",
         "choose one of the options 1 to 3"),
        (_question(1, 0, "correct_option", "0"), "categories[1].questions[0].correct_option",
         "choose one of the options 1 to 3"),
        (_question(1, 0, "correct_option", ""), "categories[1].questions[0].correct_option", "is missing"),
        (_question(1, 0, "correct_option", "first"), "categories[1].questions[0].correct_option", "'first'"),
        (_question(1, 1, "points", "0"), "categories[1].questions[1].points", "greater than 0"),
    ],
)
def test_parse_definition_rejects(mutate: Any, field: str, message: str) -> None:
    raw = copy.deepcopy(sample())
    mutate(raw)

    with pytest.raises(RequestValidationError) as caught:
        parse_definition(raw)

    assert caught.value.field == field
    assert message in caught.value.message


FORM_KEYS = st.sampled_from([
    "name", "description", "time_limit_minutes", "pass_mark", "expiry_days", "action",
    "categories-0-name", "categories-0-weight", "categories-7-name", "categories-x-name", "categories--1-name",
    "categories-0-questions-0-prompt", "categories-0-questions-0-options", "categories-0-questions-0-correct_option",
    "categories-0-questions-0-points", "categories-0-questions-99-options", "categories-3-questions-1-prompt",
    "categories-0-questions-0-unknown", "categories-99999-questions-0-prompt",
])
FORM_VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "1", "0", "-1", "2.5", "1e309", "nan", "inf", "a\nb", "a\n\na", "\n", "add-category",
                     "remove-category-0", "add-question-0", "remove-question-0-0", "remove-question-9-9"]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(FORM_KEYS, FORM_VALUES), max_size=25))
def test_form_parsing_never_crashes(items: list[tuple[str, str]]) -> None:
    form = FormData(items)
    draft = draft_from_form(form)
    apply_action(draft, str(form.get("action", "")))

    try:
        definition = parse_definition(draft)
    except RequestValidationError as exc:
        assert exc.field
        assert exc.message
    else:
        assert definition.categories
        assert all(category.questions for category in definition.categories)


# ---- the pages, against one running stack ------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with make_stack(tmp_path_factory.mktemp("assessment-types")) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def key(stack: Stack) -> str:
    return await stack.connect_and_configure()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def viewer(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.langos.state.host.session() as session:
        workspace = await seed.get_workspace(session, "demo")
        await seed.create_admin(session, workspace, VIEWER_EMAIL, VIEWER_PASSWORD, role="viewer")
        await session.commit()
    async with httpx.AsyncClient(base_url=stack.langos_url, timeout=10) as browser:
        signed_in = await AdminClient(browser).login(VIEWER_EMAIL, VIEWER_PASSWORD)
        assert signed_in.status_code == 303
        yield browser


async def post(stack: Stack, path: str, data: dict[str, str] | None = None) -> httpx.Response:
    token = await stack.admin.csrf(PREFIX)
    return await stack.admin.client.post(path, data={"csrf_token": token, **(data or {})})


async def type_named(stack: Stack, name: str, *, active: bool = True) -> AssessmentType:
    async with stack.langos.state.host.session() as session:
        found = await session.scalar(
            select(AssessmentType).where(AssessmentType.name == name, AssessmentType.active.is_(active))
        )
    if found is None:
        raise AssertionError(f"no {'active' if active else 'retired'} assessment type named {name!r}")
    return found


async def create(stack: Stack, name: str) -> AssessmentType:
    response = await post(stack, PREFIX + "/new", form_fields(sample(name)))
    assert response.status_code == 303, response.text
    return await type_named(stack, name)


async def listed(stack: Stack, key: str) -> dict[str, str]:
    """Return the types Ashby's assessment.list shows, name by id."""
    response = await call(stack, "assessment.list", key)
    assert response.status_code == 200
    return {item["assessment_type_id"]: item["name"] for item in response.json()["results"]}


async def order(stack: Stack, key: str, type_id: str) -> str:
    response = await call(stack, "assessment.start", key, start_body(type_id))
    assert response.status_code == 200, response.text
    return response.json()["results"]["assessment_id"]


async def actions(stack: Stack, type_id: str) -> list[str]:
    async with stack.langos.state.host.session() as session:
        events = await session.scalars(select(AuditEvent).order_by(AuditEvent.at))
        return [event.action for event in events if (event.detail or {}).get("id") == type_id]


@shared_loop
async def test_create_shows_in_list_and_ashby(stack: Stack, key: str) -> None:
    before = await listed(stack, key)

    created = await create(stack, "Go basics")

    assert created.id not in before
    assert (await listed(stack, key))[created.id] == "Go basics"
    assert [len(category.questions) for category in created.categories] == [1, 2]
    assert created.categories[1].questions[0].correct_option == 0
    assert created.time_limit_minutes == 25
    assert created.pass_mark == 60
    assert created.expiry_days == 10
    page = await stack.admin.client.get(PREFIX)
    assert page.status_code == 200
    assert 'data-name="Go basics" data-status="active"' in page.text
    assert await actions(stack, created.id) == ["assessment_type_created"]


@shared_loop
async def test_pages_have_no_inline_code(stack: Stack) -> None:
    created = await create(stack, "No inline code")

    pages = {
        "list": await stack.admin.client.get(PREFIX),
        "new": await stack.admin.client.get(PREFIX + "/new"),
        "edit": await stack.admin.client.get(f"{PREFIX}/{created.id}"),
    }

    for name, page in pages.items():
        assert_no_inline_code(name, page)
    assert 'src="/static/assessment_types.js"' in pages["edit"].text
    assert 'src="/static/confirm.js"' in pages["list"].text


@shared_loop
async def test_create_without_csrf_is_rejected(stack: Stack) -> None:
    response = await stack.admin.client.post(PREFIX + "/new", data=form_fields(sample("No token")))

    assert response.status_code == 400
    assert "The form expired" in response.text


@shared_loop
async def test_create_duplicate_name_names_field(stack: Stack) -> None:
    response = await post(stack, PREFIX + "/new", form_fields(sample("backend python (30 min)")))

    assert response.status_code == 400
    assert "An active assessment type is already named" in response.text
    assert 'name="name" maxlength="200" value="backend python (30 min)" required aria-invalid="true"' in response.text


@shared_loop
async def test_duplicate_name_ignores_case_beyond_ascii(stack: Stack) -> None:
    await create(stack, "Übersetzung")

    response = await post(stack, PREFIX + "/new", form_fields(sample("üBERSETZUNG")))

    assert response.status_code == 400
    assert "An active assessment type is already named" in response.text


@shared_loop
async def test_form_error_keeps_input(stack: Stack) -> None:
    fields = form_fields(sample("Kept input"))
    fields["categories-1-questions-0-correct_option"] = "7"
    fields["categories-x-name"] = "garbled"
    fields["categories-0-questions-zz-prompt"] = "garbled"

    response = await post(stack, PREFIX + "/new", fields)

    assert response.status_code == 400
    assert "Category 2, question 1: the correct option &#39;7&#39; does not exist; choose one of the options 1 to 3." in response.text
    assert 'value="7" aria-invalid="true"' in response.text
    assert 'value="Kept input"' in response.text
    assert "Leave empty for 60." in response.text
    assert "Leave empty for 7." in response.text
    assert "Which file lists a module&#39;s dependencies?" in response.text
    assert "garbled" not in response.text


@shared_loop
async def test_form_with_missing_fields_is_400(stack: Stack) -> None:
    response = await post(stack, PREFIX + "/new", {"name": "Only a name"})

    assert response.status_code == 400
    assert "The assessment type has no categories. Add at least one category." in response.text


@shared_loop
async def test_form_buttons_work_without_script(stack: Stack) -> None:
    fields = form_fields(sample("Buttons"))

    added = await post(stack, PREFIX + "/new", {**fields, "action": "add-question-1"})
    removed = await post(stack, PREFIX + "/new", {**fields, "action": "remove-category-0"})

    assert added.status_code == 200
    assert 'name="categories-1-questions-2-prompt"' in added.text
    assert removed.status_code == 200
    assert 'name="categories-1-name"' not in removed.text
    assert 'value="Tooling"' in removed.text
    async with stack.langos.state.host.session() as session:
        assert await session.scalar(select(AssessmentType).where(AssessmentType.name == "Buttons")) is None


@shared_loop
async def test_edit_replaces_questions_while_unused(stack: Stack, key: str) -> None:
    created = await create(stack, "Editable")
    await listed(stack, key)
    raw = sample("Editable renamed")
    raw["categories"][0]["questions"].append(
        {"prompt": "What does defer do?", "options": "Runs at return\nRuns now", "correct_option": "1", "points": "1"}
    )

    response = await post(stack, f"{PREFIX}/{created.id}", form_fields(raw))

    assert response.status_code == 303
    edited = await type_named(stack, "Editable renamed")
    assert edited.id == created.id
    assert [question.prompt for question in edited.categories[0].questions][-1] == "What does defer do?"
    assert (await listed(stack, key))[created.id] == "Editable renamed"
    assert await actions(stack, created.id) == ["assessment_type_created", "assessment_type_updated"]


@shared_loop
async def test_edit_structure_rejected_once_used(stack: Stack, key: str) -> None:
    created = await create(stack, "In use")
    assessment_id = await order(stack, key, created.id)
    question_ids = [question.id for category in created.categories for question in category.questions]
    raw = sample("In use")
    raw["categories"][0]["questions"][0]["correct_option"] = "2"

    rejected = await post(stack, f"{PREFIX}/{created.id}", form_fields(raw))

    assert rejected.status_code == 409
    assert "1 assessment already uses this type" in rejected.text
    assert "Duplicate as a new version" in rejected.text
    assert 'data-testid="save-as-new-version"' in rejected.text
    unchanged = await type_named(stack, "In use")
    assert [q.id for c in unchanged.categories for q in c.questions] == question_ids
    assert unchanged.categories[0].questions[0].correct_option == 0

    raw = sample("In use, renamed")
    raw["time_limit_minutes"] = "45"
    raw["pass_mark"] = "75"
    allowed = await post(stack, f"{PREFIX}/{created.id}", form_fields(raw))

    assert allowed.status_code == 303
    renamed = await type_named(stack, "In use, renamed")
    assert renamed.time_limit_minutes == 45
    assert [q.id for c in renamed.categories for q in c.questions] == question_ids
    async with stack.langos.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
    assert assessment.time_limit_minutes == 25
    assert assessment.pass_mark == 60


@shared_loop
async def test_save_as_new_version_retires_original(stack: Stack, key: str) -> None:
    original = await create(stack, "Versioned")
    await order(stack, key, original.id)
    raw = sample("Versioned")
    raw["categories"][0]["questions"][0]["prompt"] = "Which keyword starts a goroutine in Go?"

    response = await post(stack, f"{PREFIX}/{original.id}/duplicate", {**form_fields(raw), "retire_original": "on"})

    assert response.status_code == 303
    new_version = await type_named(stack, "Versioned")
    retired = await type_named(stack, "Versioned", active=False)
    assert new_version.id != original.id
    assert retired.id == original.id
    assert retired.retired_at is not None
    assert new_version.categories[0].questions[0].prompt == "Which keyword starts a goroutine in Go?"
    listed_ids = await listed(stack, key)
    assert new_version.id in listed_ids
    assert original.id not in listed_ids
    assert await actions(stack, original.id) == ["assessment_type_created", "assessment_type_retired"]
    assert await actions(stack, new_version.id) == ["assessment_type_duplicated"]
    page = await stack.admin.client.get(response.headers["location"])
    assert ("Saved a new version of Versioned and retired the previous version. "
            "Ashby lists only the new version.") in page.text


@shared_loop
async def test_new_version_name_clash_names_field(stack: Stack) -> None:
    original = await create(stack, "Clash")

    response = await post(stack, f"{PREFIX}/{original.id}/duplicate", form_fields(sample("Clash")))

    assert response.status_code == 400
    assert "An active assessment type is already named &#39;Clash&#39;" in response.text
    assert (await type_named(stack, "Clash")).id == original.id


@shared_loop
async def test_duplicate_from_list_copies(stack: Stack, key: str) -> None:
    original = await create(stack, "Copied")

    first = await post(stack, f"{PREFIX}/{original.id}/duplicate")
    second = await post(stack, f"{PREFIX}/{original.id}/duplicate")

    copy_one = await type_named(stack, "Copied (copy)")
    copy_two = await type_named(stack, "Copied (copy 2)")
    assert first.headers["location"] == f"{PREFIX}/{copy_one.id}"
    assert second.headers["location"] == f"{PREFIX}/{copy_two.id}"
    assert TypeDefinition.structure(_definition(copy_one)) == TypeDefinition.structure(_definition(original))
    assert copy_one.categories[0].id != original.categories[0].id
    assert copy_one.id in await listed(stack, key)


def _definition(assessment_type: AssessmentType) -> TypeDefinition:
    from core.assessment_types import definition_of

    return definition_of(assessment_type)


@shared_loop
async def test_retire_and_restore(stack: Stack, key: str) -> None:
    created = await create(stack, "Retirable")
    assert created.id in await listed(stack, key)
    # A start before the change leaves the type in the engine's cache.
    assert (await call(stack, "assessment.start", key, start_body(created.id))).status_code == 200

    retired = await post(stack, f"{PREFIX}/{created.id}/retire")

    assert retired.status_code == 303
    assert created.id not in await listed(stack, key)
    page = await stack.admin.client.get(PREFIX)
    assert 'data-name="Retirable" data-status="retired"' in page.text
    started = await call(stack, "assessment.start", key, start_body(created.id))
    assert started.status_code == 422
    assert "has been retired" in started.text

    restored = await post(stack, f"{PREFIX}/{created.id}/restore")

    assert restored.status_code == 303
    assert created.id in await listed(stack, key)
    assert (await type_named(stack, "Retirable")).retired_at is None
    assert (await call(stack, "assessment.start", key, start_body(created.id))).status_code == 200
    assert await actions(stack, created.id) == [
        "assessment_type_created", "assessment_type_retired", "assessment_type_restored",
    ]


@shared_loop
async def test_restore_rejected_when_name_taken(stack: Stack, key: str) -> None:
    first = await create(stack, "Taken name")
    await post(stack, f"{PREFIX}/{first.id}/retire")
    await create(stack, "Taken name")

    response = await post(stack, f"{PREFIX}/{first.id}/restore")

    assert response.status_code == 303
    page = await stack.admin.client.get(PREFIX)
    assert "Could not restore Taken name" in page.text
    assert (await type_named(stack, "Taken name", active=False)).id == first.id


@shared_loop
async def test_viewer_reads_but_cannot_change(stack: Stack, viewer: httpx.AsyncClient) -> None:
    created = await create(stack, "Viewer sees")
    token = CSRF.search((await viewer.get(PREFIX)).text).group(1)

    listing = await viewer.get(PREFIX)
    detail = await viewer.get(f"{PREFIX}/{created.id}")
    new_form = await viewer.get(PREFIX + "/new")
    attempts = [
        await viewer.post(PREFIX + "/new", data={"csrf_token": token, **form_fields(sample("By viewer"))}),
        await viewer.post(f"{PREFIX}/{created.id}", data={"csrf_token": token, **form_fields(sample("By viewer"))}),
        await viewer.post(f"{PREFIX}/{created.id}/retire", data={"csrf_token": token}),
        await viewer.post(f"{PREFIX}/{created.id}/duplicate", data={"csrf_token": token}),
    ]

    assert listing.status_code == 200
    assert 'data-name="Viewer sees"' in listing.text
    assert f"{PREFIX}/{created.id}/retire" not in listing.text
    assert detail.status_code == 200
    assert '<fieldset class="plain" disabled>' in detail.text
    assert 'data-testid="save"' not in detail.text
    assert new_form.status_code == 403
    assert [response.status_code for response in attempts] == [403, 403, 403, 403]
    assert (await type_named(stack, "Viewer sees")).active is True


@shared_loop
async def test_other_workspace_type_is_not_found(stack: Stack) -> None:
    async with stack.langos.state.host.session() as session:
        other = await seed.create_workspace(session, "other-" + uuid.uuid4().hex[:8], "Other Company")
        [foreign] = await seed.add_assessment_types(session, other, seed.DEMO_ASSESSMENT_TYPES[2:])
        await session.commit()

    responses = [
        await stack.admin.client.get(f"{PREFIX}/{foreign.id}"),
        await post(stack, f"{PREFIX}/{foreign.id}", form_fields(sample("Stolen"))),
        await post(stack, f"{PREFIX}/{foreign.id}/retire"),
        await post(stack, f"{PREFIX}/{foreign.id}/restore"),
        await post(stack, f"{PREFIX}/{foreign.id}/duplicate"),
    ]

    assert [response.status_code for response in responses] == [404, 404, 404, 404, 404]
    page = await stack.admin.client.get(PREFIX)
    assert foreign.id not in page.text
    async with stack.langos.state.host.session() as session:
        stored = await session.get(AssessmentType, foreign.id)
    assert stored.active is True
    assert stored.name == foreign.name


@shared_loop
async def test_started_assessment_on_retired_type_finishes(stack: Stack, key: str) -> None:
    created = await create(stack, "Retired midway")
    assessment_id = await order(stack, key, created.id)
    async with stack.langos.state.host.session() as session:
        email = await session.scalar(select(Email).where(Email.assessment_id == assessment_id))
    token = TAKE_LINK.search(email.body_text).group(1)
    questions = [question for category in created.categories for question in category.questions]

    async with httpx.AsyncClient(base_url=stack.langos_url, timeout=10) as candidate:
        welcome = await candidate.get(f"/take/{token}")
        csrf = CSRF.search(welcome.text).group(1)
        begun = await candidate.post(f"/take/{token}/start", data={"csrf_token": csrf})
        assert begun.status_code == 303

        retired = await post(stack, f"{PREFIX}/{created.id}/retire")
        assert retired.status_code == 303
        assert created.id not in await listed(stack, key)

        for question in questions:
            saved = await candidate.post(
                f"/take/{token}/answer",
                json={"question_id": question.id, "option": question.correct_option},
                headers={"X-CSRF-Token": csrf},
            )
            assert saved.status_code == 200, saved.text
        submitted = await candidate.post(f"/take/{token}/submit", data={"csrf_token": csrf})
        assert submitted.status_code in (200, 303)

    async with stack.langos.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
    assert assessment.status == "completed"
    assert assessment.score == 100.0
    assert assessment.passed is True
    report = await stack.admin.client.get(f"/reports/{assessment_id}")
    assert report.status_code == 200
    assert "Retired midway" in report.text


# ---- the command line --------------------------------------------------------------------


async def test_cli_lists_assessment_types(tmp_path: Path) -> None:
    cli = Cli(langos_env(tmp_path))
    code, _out, err = await cli("workspace", "acme", "--demo-assessments")
    assert code == 0, err

    code, out, err = await cli("assessment-types", "--workspace", "acme", "--json")

    assert code == 0, err
    rows = json.loads(out)
    assert [row["name"] for row in rows] == [
        "Backend Python (30 min)", "Frontend fundamentals (20 min)", "SQL essentials (15 min)",
    ]
    assert rows[0]["status"] == "active"
    assert rows[0]["questions"] == 7
    assert rows[0]["assessments"] == 0


@shared_loop
async def test_update_rejects_when_answers_arrived_meanwhile(stack: Stack, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    created = await create(stack, "Answered meanwhile")
    assessment_id = await order(stack, key, created.id)
    question = created.categories[0].questions[0]
    async with stack.langos.state.host.session() as session:
        session.add(Answer(assessment_id=assessment_id, question_id=question.id, selected_option=0))
        await session.commit()
    # The count of assessments reads 0, as it would just before the first order was committed.
    monkeypatch.setattr(assessment_types, "count_assessments", _no_assessments)
    raw = sample("Answered meanwhile")
    raw["categories"][0]["questions"][0]["prompt"] = "Reworded"

    async with stack.langos.state.host.session() as session:
        stored = await assessment_types.get_type(session, created.workspace_id, created.id)
        with pytest.raises(assessment_types.StructureLocked, match="Duplicate as a new version"):
            await assessment_types.update_type(session, stored, parse_definition(raw))
        await session.rollback()

    unchanged = await type_named(stack, "Answered meanwhile")
    assert unchanged.categories[0].questions[0].id == question.id
    assert unchanged.categories[0].questions[0].prompt == "Which keyword starts a goroutine?"


async def _no_assessments(session: object, type_id: str) -> int:
    return 0
