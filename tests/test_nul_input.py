"""Input with a NUL character, which PostgreSQL cannot store or compare, is rejected with a 4xx naming where it was."""

from __future__ import annotations

import pytest

from core.json_input import nul_field
from tests.conftest import Stack
from tests.test_connector_ashby import call, first_type, start_body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"candidate": {"first_name": "A\x00"}}, "candidate.first_name"),
        ({"answers": ["a", "b\x00"]}, "answers[1]"),
        ({"k\x00": 1}, "k\\u0000"),
        # A lone surrogate (JSON "\ud800") cannot be encoded in a UTF-8 reply, so it is escaped.
        ({"\ud800": "x\x00"}, "\\ud800"),
        ({"é": "x\x00"}, "é"),
        ({"fine": ["text", 1, None]}, None),
    ],
)
def test_nul_field_names_path(body: object, field: str | None) -> None:
    assert nul_field(body) == field


@pytest.mark.parametrize(
    "path",
    ["/reports/abc%00def", "/reports/abc%00.json", "/settings/assessment-types/abc%00", "/take/abc%00",
     "/api/ats/webhook/assessment.list?x=%00"],
)
async def test_url_with_nul_is_400(stack: Stack, path: str) -> None:
    response = await stack.admin.client.get(path)

    assert response.status_code == 400
    assert response.json()["field"] == "url"
    assert "NUL character" in response.json()["error"]


async def test_form_with_nul_names_field(stack: Stack) -> None:
    token = await stack.admin.csrf("/settings/assessment-types")
    response = await stack.admin.client.post(
        "/settings/assessment-types/new", data={"csrf_token": token, "name": "Backend\x00Basics"}
    )

    assert response.status_code == 400
    assert "The field &#39;name&#39; contains a NUL character" in response.text


async def test_postgres_start_with_nul_is_422(pg_stack: Stack) -> None:
    key = await pg_stack.connect_and_configure()
    type_id = await first_type(pg_stack, key)
    body = start_body(type_id)
    body["candidate"]["first_name"] = "Ada\x00"

    rejected = await call(pg_stack, "assessment.start", key, body)
    body["candidate"]["first_name"] = "Ada"
    accepted = await call(pg_stack, "assessment.start", key, body)

    assert rejected.status_code == 422
    assert rejected.json()["message"].startswith("The field candidate.first_name contains a NUL character")
    assert accepted.status_code == 200
