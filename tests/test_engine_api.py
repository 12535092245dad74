"""The engine API: authentication, reading an assessment, reporting events, idempotency and errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from core import integrations
from core.models import ApiKey, Assessment, Delivery, Integration, TimelineEvent
from core.web.engine_api import issue_engine_key
from tests.helpers_web import SeededWorkspace, Web, cancel, open_web, order_assessment, seed_workspace, sign_in

SCORES = [{"name": "Python", "score": 80}, {"name": "HTTP", "score": 60}, {"name": "Databases", "score": 40}]


@dataclasses.dataclass(frozen=True)
class EngineWeb:
    web: Web
    key: str
    assessment_id: str

    @property
    def client(self) -> httpx.AsyncClient:
        return self.web.client

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    async def post_event(self, body: Any, assessment_id: str | None = None) -> httpx.Response:
        return await self.client.post(
            f"/api/engine/assessments/{assessment_id or self.assessment_id}/events", json=body, headers=self.headers()
        )

    async def assessment(self) -> Assessment:
        async with self.web.app.state.host.session() as session:
            assessment = await session.get(Assessment, self.assessment_id)
        assert assessment is not None
        return assessment

    async def count(self, model: Any, *conditions: Any) -> int:
        async with self.web.app.state.host.session() as session:
            return await session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0


async def new_engine_key(web: Web, seeded: SeededWorkspace) -> tuple[str, ApiKey]:
    async with web.app.state.host.session() as session:
        secret, record = await issue_engine_key(web.app.state.host, session, seeded.workspace_id, "admin@demo.example")
        await session.commit()
    return secret.reveal(), record


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[EngineWeb]:
    async with open_web(tmp_path) as web:
        key, _ = await new_engine_key(web, web.seeded)
        assessment_id, _ = await order_assessment(web.app, web.seeded)
        yield EngineWeb(web=web, key=key, assessment_id=assessment_id)


def completed(event_id: str = "done-1", scores: Any = None, **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": "completed", "category_scores": SCORES if scores is None else scores, **extra}


async def test_issue_engine_key_stores_digest_only(api: EngineWeb) -> None:
    key, record = await new_engine_key(api.web, api.web.seeded)

    assert key.startswith("lgs_engine_")
    assert record.kind == "engine"
    assert record.integration_id is None
    assert record.digest != key
    assert key.startswith(record.prefix)


async def test_engine_api_requires_key(api: EngineWeb) -> None:
    response = await api.client.get(f"/api/engine/assessments/{api.assessment_id}")

    assert response.status_code == 401
    assert "missing API key" in response.json()["error"]
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer lgs_engine_not-a-real-key", "Bearer something-else", "Token abc"])
async def test_engine_api_rejects_invalid_key(api: EngineWeb, header: str) -> None:
    response = await api.client.get(f"/api/engine/assessments/{api.assessment_id}", headers={"Authorization": header})

    assert response.status_code == 401
    assert "error" in response.json()


async def test_engine_api_rejects_ats_key(api: EngineWeb) -> None:
    host = api.web.app.state.host
    async with host.session() as session:
        integration = await session.get(Integration, api.web.seeded.integration_id)
        assert integration is not None
        issued = await integrations.issue_key(host, session, integration, actor="test")
        await session.commit()

    response = await api.client.get(
        f"/api/engine/assessments/{api.assessment_id}", headers=api.headers(issued.key.reveal())
    )

    assert response.status_code == 401


async def test_engine_api_rejects_revoked_key(api: EngineWeb) -> None:
    key, record = await new_engine_key(api.web, api.web.seeded)
    async with api.web.app.state.host.session() as session:
        await integrations.revoke_key(session, api.web.seeded.workspace_id, record.id, actor="test")
        await session.commit()

    response = await api.client.get(f"/api/engine/assessments/{api.assessment_id}", headers=api.headers(key))

    assert response.status_code == 401
    assert "invalid API key" in response.json()["error"]


async def test_engine_get_returns_assessment(api: EngineWeb) -> None:
    response = await api.client.get(f"/api/engine/assessments/{api.assessment_id}", headers=api.headers())
    body = response.json()

    assert response.status_code == 200
    assert body["id"] == api.assessment_id
    assert body["status"] == "invited"
    assert body["candidate"] == {
        "first_name": "Ada", "last_name": "Lovelace", "name": "Ada Lovelace", "email": "ada@example.com"
    }
    assert body["assessment_type"]["name"] == "Backend Python (30 min)"
    assert [(c["name"], c["weight"]) for c in body["assessment_type"]["categories"]] == [
        ("Python", 2.0), ("HTTP", 1.0), ("Databases", 1.0)
    ]
    assert dt.datetime.fromisoformat(body["created_at"]).tzinfo is not None
    assert body["started_at"] is None
    assert body["score"] is None
    assert body["category_scores"] == []


async def test_engine_get_other_workspace_is_not_found(api: EngineWeb) -> None:
    other = await seed_workspace(api.web.app, "other")
    foreign, _ = await order_assessment(api.web.app, other)

    response = await api.client.get(f"/api/engine/assessments/{foreign}", headers=api.headers())

    assert response.status_code == 404
    assert "not found" in response.json()["error"]


async def test_engine_event_other_workspace_is_not_found(api: EngineWeb) -> None:
    other = await seed_workspace(api.web.app, "other")
    foreign, _ = await order_assessment(api.web.app, other)

    response = await api.post_event({"event_id": "s-1", "type": "started"}, assessment_id=foreign)

    assert response.status_code == 404


async def test_engine_started_begins_assessment(api: EngineWeb) -> None:
    response = await api.post_event({"event_id": "s-1", "type": "started", "occurred_at": "2030-01-02T03:04:05Z"})
    assessment = await api.assessment()

    assert response.status_code == 200
    assert response.json()["duplicate"] is False
    assert response.json()["assessment"]["status"] == "started"
    assert assessment.status == "started"
    assert assessment.started_at == dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert await api.count(TimelineEvent, TimelineEvent.external_event_id == "s-1") == 1
    assert await api.count(Delivery, Delivery.assessment_id == api.assessment_id, Delivery.event == "started") == 1


async def test_engine_progress_records_detail(api: EngineWeb) -> None:
    await api.post_event({"event_id": "s-1", "type": "started"})

    response = await api.post_event({"event_id": "p-1", "type": "progress", "detail": {"answered": 3, "of": 7}})
    async with api.web.app.state.host.session() as session:
        event = await session.scalar(select(TimelineEvent).where(TimelineEvent.external_event_id == "p-1"))

    assert response.status_code == 200
    assert event is not None
    assert event.kind == "progress"
    assert event.detail == {"answered": 3, "of": 7}


async def test_engine_completed_scores_by_weight(api: EngineWeb) -> None:
    await api.post_event({"event_id": "s-1", "type": "started"})

    response = await api.post_event(completed())
    assessment = await api.assessment()

    assert response.status_code == 200
    assert assessment.status == "completed"
    assert assessment.score == (80 * 2 + 60 + 40) / 4
    assert assessment.category_scores == [
        {"name": "Python", "score": 80.0, "max_score": 100.0},
        {"name": "HTTP", "score": 60.0, "max_score": 100.0},
        {"name": "Databases", "score": 40.0, "max_score": 100.0},
    ]
    assert await api.count(TimelineEvent, TimelineEvent.external_event_id == "done-1") == 1
    assert await api.count(Delivery, Delivery.assessment_id == api.assessment_id, Delivery.event == "completed") == 1


async def test_engine_completed_without_started_starts_too(api: EngineWeb) -> None:
    response = await api.post_event(completed())
    assessment = await api.assessment()

    assert response.status_code == 200
    assert assessment.started_at is not None
    assert assessment.completed_at is not None


async def test_engine_duplicate_event_is_stored_once(api: EngineWeb) -> None:
    event = {"event_id": "p-1", "type": "progress", "detail": {"answered": 1}}

    first = await api.post_event(event)
    second = await api.post_event(event)

    assert first.json()["duplicate"] is False
    assert second.status_code == 200
    assert second.json()["duplicate"] is True
    assert await api.count(TimelineEvent, TimelineEvent.external_event_id == "p-1") == 1


async def test_engine_duplicate_completed_changes_nothing(api: EngineWeb) -> None:
    await api.post_event(completed())
    before = await api.assessment()

    again = await api.post_event(completed(scores=[{"name": n, "score": 0} for n in ("Python", "HTTP", "Databases")]))
    after = await api.assessment()

    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert after.score == before.score
    assert await api.count(Delivery, Delivery.assessment_id == api.assessment_id, Delivery.event == "completed") == 1


async def test_engine_completed_twice_conflicts(api: EngineWeb) -> None:
    await api.post_event(completed("done-1"))

    response = await api.post_event(completed("done-2"))

    assert response.status_code == 409
    assert response.json()["error"] == "This assessment has already been submitted."


async def test_engine_event_on_cancelled_conflicts(api: EngineWeb) -> None:
    await cancel(api.web.app, api.web.seeded, api.assessment_id)

    response = await api.post_event({"event_id": "p-1", "type": "progress"})

    assert response.status_code == 409
    assert "cancelled" in response.json()["error"]
    assert await api.count(TimelineEvent, TimelineEvent.external_event_id == "p-1") == 0


async def test_engine_rejects_invalid_json(api: EngineWeb) -> None:
    response = await api.client.post(
        f"/api/engine/assessments/{api.assessment_id}/events",
        content=b"{not json",
        headers={**api.headers(), "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]


async def test_engine_rejects_nan(api: EngineWeb) -> None:
    response = await api.client.post(
        f"/api/engine/assessments/{api.assessment_id}/events",
        content=b'{"event_id": "p-1", "type": "progress", "detail": {"x": NaN}}',
        headers={**api.headers(), "Content-Type": "application/json"},
    )

    assert response.status_code == 400


async def test_engine_rejects_non_object_body(api: EngineWeb) -> None:
    response = await api.post_event(["started"])

    assert response.status_code == 400
    assert response.json()["field"] == "body"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "started"}, "event_id"),
        ({"event_id": "", "type": "started"}, "event_id"),
        ({"event_id": "x" * 201, "type": "started"}, "event_id"),
        ({"event_id": "e-1", "type": "finished"}, "type"),
        ({"event_id": "e-1", "type": "started", "occurred_at": "yesterday"}, "occurred_at"),
        ({"event_id": "e-1", "type": "started", "occurred_at": "2030-01-02T03:04:05"}, "occurred_at"),
        ({"event_id": "e-1", "type": "progress", "detail": ["a"]}, "detail"),
        ({"event_id": "e-1", "type": "progress", "category_scores": SCORES}, "category_scores"),
        ({"event_id": "e-1", "type": "completed"}, "category_scores"),
        ({"event_id": "e-1", "type": "completed", "category_scores": {"Python": 80}}, "category_scores"),
        ({"event_id": "e-1", "type": "progress", "detail": {"note": "a\x00b"}}, "detail.note"),
        ({"event_id": "e\x00", "type": "started"}, "event_id"),
    ],
)
async def test_engine_rejects_invalid_field(api: EngineWeb, body: dict[str, Any], field: str) -> None:
    response = await api.post_event(body)

    assert response.status_code == 422
    assert response.json()["field"] == field
    assert field in response.json()["error"]


@pytest.mark.parametrize(
    ("scores", "field"),
    [
        (SCORES[:2], "category_scores"),
        ([*SCORES, {"name": "Python", "score": 10}], "category_scores[3].name"),
        ([SCORES[0], {"name": "Rust", "score": 10}, *SCORES[1:]], "category_scores[1].name"),
        ([{"name": "Python", "score": 101}, *SCORES[1:]], "category_scores[0].score"),
        ([SCORES[0], {"name": "HTTP", "score": -1}, SCORES[2]], "category_scores[1].score"),
        ([SCORES[0], SCORES[1], {"name": "Databases", "score": "40"}], "category_scores[2].score"),
        ([SCORES[0], SCORES[1], {"name": "Databases", "score": True}], "category_scores[2].score"),
        ([SCORES[0], SCORES[1], "Databases"], "category_scores[2]"),
    ],
)
async def test_engine_rejects_bad_category_scores(api: EngineWeb, scores: list[Any], field: str) -> None:
    response = await api.post_event(completed(scores=scores))

    assert response.status_code == 422
    assert response.json()["field"] == field
    assert field in response.json()["error"]
    assert (await api.assessment()).status == "invited"


async def test_engine_rejects_completion_before_start(api: EngineWeb) -> None:
    await api.post_event({"event_id": "s-1", "type": "started", "occurred_at": "2030-01-02T10:00:00Z"})

    response = await api.post_event(completed(occurred_at="2030-01-02T09:00:00Z"))

    assert response.status_code == 422
    assert response.json()["field"] == "occurred_at"


async def test_engine_report_shows_engine_events(api: EngineWeb) -> None:
    await api.post_event({"event_id": "s-1", "type": "started"})
    await api.post_event({"event_id": "p-1", "type": "progress", "detail": {"answered": 3}})
    await api.post_event(completed())
    await sign_in(api.client, api.web.seeded.admin_email)
    report = await api.client.get(f"/reports/{api.assessment_id}")

    assert report.status_code == 200
    assert "reported by the assessment engine" in report.text
    assert "answered: 3" in report.text
