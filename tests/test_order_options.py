"""Order options: Ashby's custom fields, their values on assessment.start, and the fake's Start form."""

from __future__ import annotations

import datetime as dt
import re
import types
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from connectors.ashby.fake.contract import ContractError, validate_custom_field_list
from core.config import load_settings
from core.engine import ORDER_OPTIONS
from core.models import Assessment, AssessmentType, Email
from core.plugins import build_plugin_manager
from tests.conftest import Stack, langos_env, make_stack, write_plugins
from tests.test_connector_ashby import basic, call, first_type, start_body

# The tests that share the module's stack run on its event loop.
shared_loop = pytest.mark.asyncio(loop_scope="module")

EXPIRY_LABEL = "Days until the invitation expires"
LANGUAGE_LABEL = "Language of the invitation email"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """One Langos and fake Ashby for the module; each test starts its own applications."""
    async with make_stack(tmp_path_factory.mktemp("order-options")) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def key(stack: Stack) -> str:
    return await stack.connect_and_configure()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def type_id(stack: Stack, key: str) -> str:
    return await first_type(stack, key)


async def load(stack: Stack, assessment_id: str) -> Assessment:
    async with stack.langos.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
    assert assessment is not None
    return assessment


async def count_assessments(stack: Stack) -> int:
    async with stack.langos.state.host.session() as session:
        return await session.scalar(select(func.count()).select_from(Assessment)) or 0


def expiry_days(assessment: Assessment) -> float:
    assert assessment.expires_at is not None
    return (assessment.expires_at - assessment.created_at) / dt.timedelta(days=1)


# assessment.customField.list


@shared_loop
@pytest.mark.parametrize("path", ["/assessment.customField.list", "//assessment.customField.list"])
async def test_custom_field_list_offers_options(stack: Stack, key: str, path: str) -> None:
    response = await stack.http.post(stack.webhook_url + path, json={}, headers=basic(key))

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "fields": [
            {"id": "expiry_days", "name": EXPIRY_LABEL, "type": "Number", "isRequired": False},
            {
                "id": "email_language",
                "name": LANGUAGE_LABEL,
                "type": "ValueSelect",
                "isRequired": False,
                "possible_values": [
                    {"key": "en", "value": "English"},
                    {"key": "de", "value": "German"},
                    {"key": "fr", "value": "French"},
                    {"key": "es", "value": "Spanish"},
                ],
            },
        ],
    }
    validate_custom_field_list(response.json())


@shared_loop
async def test_custom_field_list_needs_key(stack: Stack, key: str) -> None:
    response = await call(stack, "assessment.customField.list", "lgs_ats_not-a-real-key")

    assert response.status_code == 401
    assert response.json()["errorInfo"]["code"] == "unauthorized"


@shared_loop
async def test_custom_field_list_rejects_non_object(stack: Stack, key: str) -> None:
    response = await call(stack, "assessment.customField.list", key, [1])

    assert response.status_code == 400
    assert "JSON object" in response.json()["errorInfo"]["message"]


# assessment.start with additional_fields


@shared_loop
async def test_start_options_set_expiry_and_language(stack: Stack, key: str, type_id: str) -> None:
    body = start_body(type_id, additional_fields={"expiry_days": 14, "email_language": "de"})

    response = await call(stack, "assessment.start", key, body)

    assert response.status_code == 200
    assessment = await load(stack, response.json()["results"]["assessment_id"])
    assert expiry_days(assessment) == 14
    assert assessment.language == "de"


@shared_loop
async def test_start_without_options_uses_defaults(stack: Stack, key: str, type_id: str) -> None:
    response = await call(stack, "assessment.start", key, start_body(type_id))

    assessment = await load(stack, response.json()["results"]["assessment_id"])
    async with stack.langos.state.host.session() as session:
        default_days = await session.scalar(select(AssessmentType.expiry_days).where(AssessmentType.id == type_id))
    assert assessment.language == "en"
    assert expiry_days(assessment) == default_days


@shared_loop
@pytest.mark.parametrize(
    "additional_fields",
    [
        {"expiry_days": "21", "email_language": "FR"},
        {"expiry_days": {"value": 21}, "email_language": {"value": "fr"}},
        {"expiry_days": 21.0, "email_language": {"key": "fr", "value": "French"}},
        {"expiry_days": 21, "email_language": "French"},
        [{"id": "expiry_days", "value": 21}, {"id": "email_language", "value": "fr"}],
        [{"key": "expiry_days", "value": "21"}, {"key": "email_language", "value": "fr"}],
    ],
    ids=["strings", "value-objects", "select-object", "select-label", "id-list", "key-list"],
)
async def test_start_accepts_field_shapes(stack: Stack, key: str, type_id: str, additional_fields: Any) -> None:
    response = await call(stack, "assessment.start", key, start_body(type_id, additional_fields=additional_fields))

    assert response.status_code == 200, response.text
    assessment = await load(stack, response.json()["results"]["assessment_id"])
    assert expiry_days(assessment) == 21
    assert assessment.language == "fr"


@shared_loop
@pytest.mark.parametrize(
    ("additional_fields", "label", "detail"),
    [
        ({"expiry_days": 0}, EXPIRY_LABEL, "from 1 to 90"),
        ({"expiry_days": 91}, EXPIRY_LABEL, "not 91"),
        ({"expiry_days": "two weeks"}, EXPIRY_LABEL, "'two weeks'"),
        ({"expiry_days": 1.5}, EXPIRY_LABEL, "not 1.5"),
        ({"expiry_days": True}, EXPIRY_LABEL, "not True"),
        ({"email_language": "xx"}, LANGUAGE_LABEL, "German (de)"),
        ({"email_language": 7}, LANGUAGE_LABEL, "in 7"),
    ],
)
async def test_start_invalid_option_names_label(
    stack: Stack, key: str, type_id: str, additional_fields: dict[str, Any], label: str, detail: str
) -> None:
    before = await count_assessments(stack)

    response = await call(stack, "assessment.start", key, start_body(type_id, additional_fields=additional_fields))

    assert response.status_code == 422
    message = response.json()["message"]
    assert message.startswith(label)
    assert detail in message
    assert "options." not in message
    assert await count_assessments(stack) == before


@shared_loop
@pytest.mark.parametrize(
    ("additional_fields", "field"),
    [
        ("expiry_days=14", "not text"),
        (14, "not a number"),
        ([14], "additional_fields[0] must be an object with an id and a value, not a number"),
        ([{"value": 14}], "additional_fields[0] must be an object with an id and a value, not an object without"),
    ],
)
async def test_start_unreadable_fields_is_422(
    stack: Stack, key: str, type_id: str, additional_fields: Any, field: str
) -> None:
    before = await count_assessments(stack)

    response = await call(stack, "assessment.start", key, start_body(type_id, additional_fields=additional_fields))

    assert response.status_code == 422
    assert response.json()["message"].startswith("Langos cannot read the custom fields that Ashby sent")
    assert field in response.json()["message"]
    assert await count_assessments(stack) == before


@shared_loop
async def test_start_null_fields_means_none(stack: Stack, key: str, type_id: str) -> None:
    response = await call(stack, "assessment.start", key, start_body(type_id, additional_fields=None))

    assert response.status_code == 200
    assert (await load(stack, response.json()["results"]["assessment_id"])).language == "en"


@shared_loop
async def test_start_ignores_unknown_option(stack: Stack, key: str, type_id: str) -> None:
    body = start_body(type_id, additional_fields={"seniority": "senior", "email_language": "es"})

    response = await call(stack, "assessment.start", key, body)

    assert response.status_code == 200
    assert (await load(stack, response.json()["results"]["assessment_id"])).language == "es"


@shared_loop
async def test_repeated_start_keeps_first_options(stack: Stack, key: str, type_id: str) -> None:
    body = start_body(type_id, additional_fields={"expiry_days": 5, "email_language": "de"})
    first = await call(stack, "assessment.start", key, body)
    body["additional_fields"] = {"expiry_days": 30, "email_language": "fr"}

    second = await call(stack, "assessment.start", key, body)
    body.pop("additional_fields")
    third = await call(stack, "assessment.start", key, body)
    body["additional_fields"] = {"expiry_days": 1000, "email_language": "xx"}
    invalid = await call(stack, "assessment.start", key, body)

    assessment_id = first.json()["results"]["assessment_id"]
    assert second.status_code == 200
    assert third.status_code == 200
    assert invalid.status_code == 200
    assert second.json()["results"]["assessment_id"] == assessment_id
    assert third.json()["results"]["assessment_id"] == assessment_id
    assert invalid.json()["results"]["assessment_id"] == assessment_id
    assessment = await load(stack, assessment_id)
    assert expiry_days(assessment) == 5
    assert assessment.language == "de"
    async with stack.langos.state.host.session() as session:
        emails = await session.scalar(select(func.count()).select_from(Email).where(Email.assessment_id == assessment_id))
    assert emails == 1


# The fake Ashby's Start Assessment form


@shared_loop
async def test_fake_start_form_sends_custom_fields(stack: Stack, key: str) -> None:
    ashby = stack.ashby_url
    saved = await stack.http.post(
        ashby + "/ui/config", data={"base_url": stack.webhook_url, "api_key": "", "custom_fields": "on"},
        follow_redirects=True,
    )
    assert "Langos offers 2 custom field(s)." in saved.text
    assert 'class="notice success"' in saved.text

    page = (await stack.http.get(ashby + "/")).text
    assert f"{EXPIRY_LABEL}" in page
    assert 'name="field.expiry_days" type="number"' in page
    assert '<select name="field.email_language">' in page
    assert '<option value="de">German</option>' in page

    state = stack.ashby.state.fake
    candidate = state.candidates[0]
    form = {
        "candidate_id": candidate.ashby_id,
        "assessment_type_id": state.assessment_types[0]["assessment_type_id"],
        "field.expiry_days": "9",
        "field.email_language": "fr",
    }
    started = await stack.http.post(ashby + "/ui/start", data=form, follow_redirects=True)

    assert "Assessment started." in started.text
    sent = state.langos_calls[-1]
    assert sent.endpoint == "assessment.start"
    assert sent.request_body["additional_fields"] == {"expiry_days": 9, "email_language": "fr"}
    assessment = await load(stack, sent.response_body["results"]["assessment_id"])
    assert expiry_days(assessment) == 9
    assert assessment.language == "fr"


@shared_loop
async def test_fake_start_form_shows_422(stack: Stack, key: str) -> None:
    ashby = stack.ashby_url
    await stack.http.post(
        ashby + "/ui/config", data={"base_url": stack.webhook_url, "api_key": "", "custom_fields": "on"}
    )
    state = stack.ashby.state.fake
    candidate = state.candidates[1]
    form = {
        "candidate_id": candidate.ashby_id,
        "assessment_type_id": state.assessment_types[0]["assessment_type_id"],
        "field.expiry_days": "120",
    }

    page = await stack.http.post(ashby + "/ui/start", data=form, follow_redirects=True)

    assert re.search(rf'class="notice error"[^>]*>{EXPIRY_LABEL} must be a whole number from 1 to 90', page.text)
    assert state.start_errors[candidate.ashby_id].startswith(EXPIRY_LABEL)
    assert state.started_for(candidate.ashby_id) == []


@shared_loop
async def test_fake_without_custom_fields_sends_none(stack: Stack, key: str) -> None:
    ashby = stack.ashby_url
    state = stack.ashby.state.fake
    calls_before = len(state.langos_calls)
    await stack.http.post(ashby + "/ui/config", data={"base_url": stack.webhook_url, "api_key": ""})

    page = (await stack.http.get(ashby + "/")).text

    assert "field.expiry_days" not in page
    assert state.custom_fields == []
    assert [sent.endpoint for sent in state.langos_calls[calls_before:]] == ["assessment.list"]


# The fake's contract check of customField.list replies


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"success": True, "results": []}, "fields"),
        ({"success": False, "fields": []}, "success"),
        ({"success": True, "fields": [{"id": "", "name": "X", "type": "Number"}]}, "fields[0].id"),
        ({"success": True, "fields": [{"id": "x", "name": "X", "type": "Integer"}]}, "fields[0].type"),
        ({"success": True, "fields": [{"id": "x", "name": "X", "type": "ValueSelect"}]}, "fields[0].possible_values"),
        (
            {"success": True, "fields": [{"id": "x", "name": "X", "type": "ValueSelect", "possible_values": [{"key": "a"}]}]},
            "fields[0].possible_values[0]",
        ),
        ({"success": True, "fields": [{"id": "x", "name": "X", "type": "Number", "isRequired": "no"}]}, "fields[0].isRequired"),
        ({"success": True, "fields": [{"id": "x", "name": "X", "type": "Number", "label": "X"}]}, "fields[0].label"),
        (
            {"success": True, "fields": [{"id": "x", "name": "X", "type": "Number"}, {"id": "x", "name": "Y", "type": "Number"}]},
            "fields[1].id",
        ),
    ],
)
def test_contract_rejects_bad_field_list(body: dict[str, Any], path: str) -> None:
    with pytest.raises(ContractError) as raised:
        validate_custom_field_list(body)

    assert raised.value.field == path


# The hook beside a second connector


async def test_order_options_hook_beside_second_connector(tmp_path: Path) -> None:
    plugins = write_plugins(tmp_path / "plugins.toml", '[connectors.ashby]\nenabled = true\n\n[connectors.acme]\nmodule = "tests.acme_connector"\n')
    settings = load_settings(langos_env(tmp_path, LANGOS_PLUGINS_FILE=str(plugins)))

    hooks = build_plugin_manager(settings)
    host = types.SimpleNamespace()

    assert set(hooks.connectors) == {"ashby", "acme"}
    assert await hooks.list_order_options(session=None, workspace_id=str(uuid.uuid4())) == list(ORDER_OPTIONS)
    assert [route.path for route in hooks.routes("acme", host)] == ["/tests", "/orders"]
