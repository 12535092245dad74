"""The Ashby connector's inbound routes: authentication, bodies, idempotency and cancel."""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.models import Assessment, Email
from tests.conftest import Stack


def basic(username: str, password: str = "") -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def start_body(type_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "assessment_type_id": type_id,
        "candidate": {
            "ashby_id": str(uuid.uuid4()),
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "ashby_profile_url": "https://ashby.example/candidates/1",
        },
        "application": {"ashby_id": str(uuid.uuid4()), "status": "Active"},
        "job": {"ashby_id": str(uuid.uuid4()), "name": "Backend Engineer", "ashby_job_url": "https://ashby.example/jobs/1"},
    }
    body.update(overrides)
    return body


async def call(stack: Stack, method: str, key: str | None, body: Any = None, **kwargs: Any) -> httpx.Response:
    headers = basic(key) if key else {}
    headers.update(kwargs.pop("headers", {}))
    return await stack.http.post(f"{stack.webhook_url}/{method}", json=body if body is not None else {}, headers=headers, **kwargs)


async def first_type(stack: Stack, key: str) -> str:
    listed = await call(stack, "assessment.list", key)
    return listed.json()["results"][0]["assessment_type_id"]


async def test_list_without_key_is_401(stack: Stack) -> None:
    await stack.connect_and_configure()
    response = await call(stack, "assessment.list", None)
    assert response.status_code == 401
    assert response.json()["success"] is False
    assert response.json()["errorInfo"]["code"] == "unauthorized"


async def test_list_with_wrong_key_is_401(stack: Stack) -> None:
    await stack.connect_and_configure()
    response = await call(stack, "assessment.list", "lgs_ats_not-a-real-key")
    assert response.status_code == 401
    assert "invalid API key" in response.json()["errorInfo"]["message"]


@pytest.mark.parametrize("form", ["username", "password", "bearer"])
async def test_list_accepts_key_forms(stack: Stack, form: str) -> None:
    key = await stack.connect_and_configure()
    headers = {"username": basic(key), "password": basic("", key), "bearer": {"Authorization": f"Bearer {key}"}}[form]
    response = await stack.http.post(f"{stack.webhook_url}/assessment.list", json={}, headers=headers)
    assert response.status_code == 200
    assert response.json()["success"] is True
    assert len(response.json()["results"]) == 3


async def test_list_accepts_doubled_slash_and_empty_body(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    response = await stack.http.post(f"{stack.webhook_url}//assessment.list", content=b"", headers=basic(key))
    assert response.status_code == 200
    assert response.json()["success"] is True


async def test_list_rejects_malformed_json(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    response = await stack.http.post(
        f"{stack.webhook_url}/assessment.list", content=b"{not json", headers={**basic(key), "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["errorInfo"]["message"]


async def test_start_is_idempotent(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    body = start_body(await first_type(stack, key))
    first = await call(stack, "assessment.start", key, body)
    second = await call(stack, "assessment.start", key, body)
    assert first.status_code == 200
    assert second.status_code == 200
    assert first.json()["results"]["assessment_id"] == second.json()["results"]["assessment_id"]
    uuid.UUID(first.json()["results"]["assessment_id"])

    async with stack.langos.state.host.session() as session:
        emails = await session.scalar(select(func.count()).select_from(Email))
    assert emails == 1


async def test_start_concurrent_calls_create_one(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    body = start_body(await first_type(stack, key))
    responses = await asyncio.gather(*(call(stack, "assessment.start", key, body) for _ in range(8)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["results"]["assessment_id"] for r in responses}) == 1
    async with stack.langos.state.host.session() as session:
        count = await session.scalar(select(func.count()).select_from(Assessment))
    assert count == 1


async def test_start_unknown_type_is_422_for_recruiter(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    response = await call(stack, "assessment.start", key, start_body(str(uuid.uuid4())))
    assert response.status_code == 422
    assert "no assessment type" in response.json()["message"]


async def test_start_candidate_without_email_is_422(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    body = start_body(await first_type(stack, key))
    body["candidate"]["email"] = ""
    response = await call(stack, "assessment.start", key, body)
    assert response.status_code == 422
    assert "Ada Lovelace has no email address" in response.json()["message"]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.pop("candidate"), "candidate"),
        (lambda b: b.pop("application"), "application"),
        (lambda b: b["application"].pop("ashby_id"), "application.ashby_id"),
        (lambda b: b.update(assessment_type_id=42), "assessment_type_id"),
        (lambda b: b["candidate"].update(email="not-an-email"), "not-an-email"),
        (lambda b: b["candidate"].update(first_name="Ada\x00"), "candidate.first_name contains a NUL character"),
        (lambda b: b.update(additional_fields={"email\x00language": "de"}), "additional_fields.email\\u0000language"),
        (lambda b: b["job"].update(name="Back\x00end"), "job.name contains a NUL character"),
    ],
)
async def test_start_incomplete_body_names_field(stack: Stack, mutate: Any, field: str) -> None:
    key = await stack.connect_and_configure()
    body = start_body(await first_type(stack, key))
    mutate(body)
    response = await call(stack, "assessment.start", key, body)
    assert response.status_code == 422
    assert field in response.json()["message"]
    async with stack.langos.state.host.session() as session:
        assert await session.scalar(select(func.count()).select_from(Assessment)) == 0


async def test_start_candidate_of_wrong_form_gets_general_advice(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    body = start_body(await first_type(stack, key))
    body["candidate"] = []
    response = await call(stack, "assessment.start", key, body)
    message = response.json()["message"]
    assert response.status_code == 422
    assert message.startswith("The field candidate is invalid (it must be a JSON object)")
    assert "Ashby sent no candidate" not in message
    assert "CandidateIn" not in message


async def test_start_without_name_greets_by_email(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    body = start_body(await first_type(stack, key))
    del body["candidate"]["first_name"], body["candidate"]["last_name"]
    response = await call(stack, "assessment.start", key, body)
    assert response.status_code == 200
    async with stack.langos.state.host.session() as session:
        email = await session.scalar(select(Email).where(Email.assessment_id == response.json()["results"]["assessment_id"]))
    assert "Hello ada@example.com," in email.body_text
    link = re.search(r"/take/[A-Za-z0-9_-]+", email.body_text).group(0)
    page = await stack.http.get(stack.langos_url + link)
    assert "Hello ada@example.com, welcome" in page.text


async def test_start_long_name_says_shorten_in_ashby(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    body = start_body(await first_type(stack, key))
    body["candidate"]["first_name"] = "A" * 201
    response = await call(stack, "assessment.start", key, body)
    assert response.status_code == 422
    message = response.json()["message"]
    assert message.startswith("The field candidate.first_name is longer than the 200 characters")
    assert "Shorten it in Ashby" in message


async def test_start_non_object_body_is_400(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    response = await call(stack, "assessment.start", key, [1, 2])
    assert response.status_code == 400
    assert "JSON object" in response.json()["message"]


async def test_cancel_unknown_assessment_is_404(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    response = await call(stack, "assessment.cancel", key, {"assessment_id": str(uuid.uuid4())})
    assert response.status_code == 404
    assert response.json()["errorInfo"]["code"] == "not_found"


async def test_cancel_invalid_id_names_field(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    response = await call(stack, "assessment.cancel", key, {"assessment_id": "nope"})
    assert response.status_code == 422
    assert "assessment_id" in response.json()["errorInfo"]["message"]


async def test_cancel_is_idempotent(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    started = await call(stack, "assessment.start", key, start_body(await first_type(stack, key)))
    assessment_id = started.json()["results"]["assessment_id"]
    for _ in range(2):
        response = await call(stack, "assessment.cancel", key, {"assessment_id": assessment_id})
        assert response.status_code == 200
        assert response.json() == {"success": True, "results": {"assessment_id": assessment_id}}
    async with stack.langos.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
    assert assessment.status == "cancelled"


async def test_revoked_key_is_rejected_at_once(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    assert (await call(stack, "assessment.list", key)).status_code == 200
    await stack.admin.post_form("/settings/integrations/ashby/disconnect")
    response = await call(stack, "assessment.list", key)
    assert response.status_code == 401


async def test_rotated_key_overlaps(stack: Stack) -> None:
    from tests.conftest import issued_key

    old = await stack.connect_and_configure()
    rotated = await stack.admin.post_form("/settings/integrations/ashby/rotate", follow=True)
    new = issued_key(rotated)
    assert new != old
    assert (await call(stack, "assessment.list", old)).status_code == 200
    assert (await call(stack, "assessment.list", new)).status_code == 200


async def other_workspace_key(stack: Stack) -> str:
    """Create a second workspace, connect Ashby there, and return its Langos key."""
    from core import integrations, seed
    from core.crypto import Secret
    from tests.conftest import ASHBY_KEY

    host = stack.langos.state.host
    async with host.session() as session:
        workspace = await seed.create_workspace(session, "other", "Other Inc")
        result = await integrations.connect(
            host, session, workspace_id=workspace.id, connector="ashby", credential=Secret(ASHBY_KEY), actor="test"
        )
        await session.commit()
    return result.issued.key.reveal()


async def test_other_workspace_cannot_see_assessment(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    type_id = await first_type(stack, key)
    started = await call(stack, "assessment.start", key, start_body(type_id))
    assessment_id = started.json()["results"]["assessment_id"]
    other = await other_workspace_key(stack)

    listed = await call(stack, "assessment.list", other)
    assert listed.status_code == 200
    assert listed.json()["results"] == []

    cancelled = await call(stack, "assessment.cancel", other, {"assessment_id": assessment_id})
    assert cancelled.status_code == 404

    foreign_type = await call(stack, "assessment.start", other, start_body(type_id))
    assert foreign_type.status_code == 422

    async with stack.langos.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
    assert assessment.status == "invited"


async def test_calls_are_logged_without_keys(stack: Stack, caplog) -> None:
    import logging

    caplog.set_level(logging.INFO)
    key = await stack.connect_and_configure()
    await call(stack, "assessment.list", key)
    await call(stack, "assessment.list", "lgs_ats_wrong")

    inbound = [r.getMessage() for r in caplog.records if r.getMessage().startswith("inbound connector=ashby")]
    outbound = [r.getMessage() for r in caplog.records if r.getMessage().startswith("outbound connector=ashby")]
    assert any("route=/api/ats/webhook/assessment.list status=200" in line and "workspace=-" not in line for line in inbound)
    assert any("workspace=- route=/api/ats/webhook/assessment.list status=401" in line for line in inbound)
    assert any("route=apiKey.info status=200" in line for line in outbound)
    assert all("duration_ms=" in line for line in inbound + outbound)
    assert key not in caplog.text


async def test_start_after_cancel_creates_new(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    body = start_body(await first_type(stack, key))
    first = (await call(stack, "assessment.start", key, body)).json()["results"]["assessment_id"]
    await call(stack, "assessment.cancel", key, {"assessment_id": first})

    again = await call(stack, "assessment.start", key, body)
    assert again.status_code == 200
    second = again.json()["results"]["assessment_id"]
    assert second != first
    repeated = await call(stack, "assessment.start", key, body)
    assert repeated.json()["results"]["assessment_id"] == second
    async with stack.langos.state.host.session() as session:
        emails = await session.scalar(select(func.count()).select_from(Email))
    assert emails == 2


async def test_key_over_rate_limit_gets_429(stack: Stack) -> None:
    from core.host import RateLimiter

    key = await stack.connect_and_configure()
    host = stack.langos.state.host
    original = host.rate_limiter
    host.rate_limiter = RateLimiter(3)
    try:
        statuses = [(await call(stack, "assessment.list", key)).status_code for _ in range(4)]
        limited = await call(stack, "assessment.list", key)
    finally:
        host.rate_limiter = original
    assert statuses == [200, 200, 200, 429]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["errorInfo"]["code"] == "rate_limit_exceeded"
    assert "3 calls a minute" in limited.json()["errorInfo"]["message"]


def test_rate_limiter_refills() -> None:
    from core.host import RateLimiter

    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    assert all(limiter.take("k") == 0 for _ in range(60))
    assert limiter.take("k") == 1.0
    now[0] += 1.0
    assert limiter.take("k") == 0
    assert limiter.take("other") == 0
