"""The busy path of connector calls: no session cookie, no database work on cache hits,
one key lookup per burst, and the idempotent single INSERT of assessment.start."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest
from sqlalchemy import event, func, select, update

from core import engine, integrations
from core.models import Assessment, AssessmentType, Email, Integration, TimelineEvent, utcnow
from tests.helpers_web import BACKEND_TYPE, build_app, running, seed_workspace, type_id

WEBHOOK = "/api/ats/webhook"


@dataclasses.dataclass
class Connected:
    """The in-process app with a connected Ashby, its ATS key and one assessment type id."""

    app: Any
    client: httpx.AsyncClient
    key: str
    type_id: str

    async def post(self, method: str, body: Any = None, **headers: str) -> httpx.Response:
        return await self.client.post(
            f"{WEBHOOK}/{method}", json=body if body is not None else {},
            headers={"Authorization": f"Bearer {self.key}", **headers},
        )


@pytest.fixture
async def connected(tmp_path: Path) -> AsyncIterator[Connected]:
    app = build_app(tmp_path)
    async with running(app) as client:
        seeded = await seed_workspace(app)
        host = app.state.host
        async with host.session() as session:
            integration = await session.get(Integration, seeded.integration_id)
            issued = await integrations.issue_key(host, session, integration, actor="test")
            await session.commit()
        yield Connected(app, client, issued.key.reveal(), await type_id(app, seeded.workspace_id, BACKEND_TYPE))


def start_body(type_id: str, application_id: str | None = None) -> dict[str, Any]:
    return {
        "assessment_type_id": type_id,
        "candidate": {"ashby_id": str(uuid.uuid4()), "first_name": "Ada", "last_name": "Lovelace",
                      "email": "ada@example.com"},
        "application": {"ashby_id": application_id or str(uuid.uuid4()), "status": "Active"},
        "job": {"ashby_id": str(uuid.uuid4()), "name": "Backend Engineer"},
    }


async def test_connector_call_sets_no_session_cookie(connected: Connected) -> None:
    page = await connected.client.get("/login")
    assert "langos_session" in page.headers.get("set-cookie", "")

    response = await connected.post("assessment.list")
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert "cookie" not in response.headers.get("vary", "").lower()
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


async def test_list_from_caches_checks_out_no_connection(connected: Connected, monkeypatch: pytest.MonkeyPatch) -> None:
    # Long cache lifetimes, so a slow machine cannot let an entry expire between the two calls.
    monkeypatch.setattr(engine, "LIST_CACHE_SECONDS", 600.0)
    connected.app.state.host.key_cache.ttl = 600.0
    checkouts: list[object] = []
    sync_engine = connected.app.state.host.engine.sync_engine
    listener = lambda *args: checkouts.append(args)  # noqa: E731
    event.listen(sync_engine, "checkout", listener)
    try:
        first = await connected.post("assessment.list")
        warm = len(checkouts)
        second = await connected.post("assessment.list")
    finally:
        event.remove(sync_engine, "checkout", listener)

    assert first.status_code == 200
    assert warm >= 1
    assert second.json() == first.json()
    assert len(checkouts) == warm


async def test_key_burst_makes_one_lookup(connected: Connected, monkeypatch: pytest.MonkeyPatch) -> None:
    host = connected.app.state.host
    host.key_cache.clear()
    lookup = host._lookup_ats_key
    lookups = 0

    async def slow_lookup(session: Any, digest: str) -> Any:
        nonlocal lookups
        lookups += 1
        # Holds the first lookup open until every request of the burst has arrived.
        await asyncio.sleep(0.2)
        return await lookup(session, digest)

    monkeypatch.setattr(host, "_lookup_ats_key", slow_lookup)
    responses = await asyncio.gather(*(connected.post("assessment.list") for _ in range(8)))

    assert [r.status_code for r in responses] == [200] * 8
    assert lookups == 1


async def test_key_burst_wrong_key_is_401(connected: Connected) -> None:
    connected.app.state.host.key_cache.clear()
    connected.key = "lgs_ats_not-a-real-key"
    responses = await asyncio.gather(*(connected.post("assessment.list") for _ in range(4)))
    assert [r.status_code for r in responses] == [401] * 4


async def test_start_writes_full_row(connected: Connected) -> None:
    response = await connected.post("assessment.start", start_body(connected.type_id))
    assert response.status_code == 200
    assessment_id = response.json()["results"]["assessment_id"]

    async with connected.app.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        assessment_type = await session.get(AssessmentType, connected.type_id)
        events = list(await session.scalars(select(TimelineEvent).where(TimelineEvent.assessment_id == assessment_id)))
        emails = await session.scalar(select(func.count()).select_from(Email).where(Email.assessment_id == assessment_id))
    assert assessment is not None
    assert assessment.status == "invited"
    assert assessment.invitation_status == "queued"
    assert assessment.language == "en"
    assert assessment.time_limit_minutes == assessment_type.time_limit_minutes
    assert assessment.expires_at == assessment.created_at + dt.timedelta(days=assessment_type.expiry_days)
    assert [e.kind for e in events] == ["invited"]
    assert events[0].detail == {"email": "ada@example.com"}
    assert emails == 1


async def test_start_repeated_after_retire_returns_same(connected: Connected) -> None:
    body = start_body(connected.type_id)
    first = await connected.post("assessment.start", body)
    async with connected.app.state.host.session() as session:
        retired = await session.get(AssessmentType, connected.type_id)
        retired.active = False
        await session.commit()
    engine.forget_cached_workspace(connected.app.state.host.hooks, retired.workspace_id)

    repeated = await connected.post("assessment.start", body)
    new_order = await connected.post("assessment.start", start_body(connected.type_id))

    assert repeated.status_code == 200
    assert repeated.json()["results"]["assessment_id"] == first.json()["results"]["assessment_id"]
    assert new_order.status_code == 422
    assert "retired" in new_order.json()["message"]


async def test_start_repeated_after_expiry_creates_new(connected: Connected) -> None:
    body = start_body(connected.type_id)
    first = await connected.post("assessment.start", body)
    first_id = first.json()["results"]["assessment_id"]
    async with connected.app.state.host.session() as session:
        await session.execute(
            update(Assessment).where(Assessment.id == first_id).values(expires_at=utcnow() - dt.timedelta(minutes=1))
        )
        await session.commit()

    repeated = await connected.post("assessment.start", body)

    assert repeated.status_code == 200
    assert repeated.json()["results"]["assessment_id"] != first_id
    async with connected.app.state.host.session() as session:
        statuses = dict((await session.execute(
            select(Assessment.id, Assessment.status).where(Assessment.external_application_id == body["application"]["ashby_id"])
        )).all())
    assert statuses == {first_id: "expired", repeated.json()["results"]["assessment_id"]: "invited"}


async def test_list_burst_makes_one_query(connected: Connected) -> None:
    # Warms the key cache, then empties the engine's list cache.
    assert (await connected.post("assessment.list")).status_code == 200
    builtin = connected.app.state.host.hooks.manager.get_plugin("langos.engine")
    builtin._list_cache.clear()
    queries: list[str] = []
    sync_engine = connected.app.state.host.engine.sync_engine

    def count(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM assessment_types" in statement:
            queries.append(statement)

    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        responses = await asyncio.gather(*(connected.post("assessment.list") for _ in range(8)))
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)

    assert [r.status_code for r in responses] == [200] * 8
    assert len({r.content for r in responses}) == 1
    assert len(queries) == 1
