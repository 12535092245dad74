"""Concurrent ``assessment.start`` calls written together in one transaction (``core/order_batch.py``).

Every test goes through the Ashby route of a Langos served on a loopback port, on SQLite
and on PostgreSQL, and checks the stored rows. Each new order has one assessment, one
invitation email with the candidate's own link and one ``invited`` event, whatever else
shares its batch.
"""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from core import order_batch
from core.engine import ENGINE_PLUGIN_NAME, forget_cached_workspace
from core.crypto import hash_token
from core.models import Assessment, AssessmentType, Email, EmailTemplate, TimelineEvent
from tests.conftest import Stack
from tests.test_connector_ashby import call, first_type, start_body

TAKE_LINK = re.compile(r"/take/([A-Za-z0-9_-]+)")


@pytest.fixture
def batch_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the number of orders in each batch written."""
    sizes: list[int] = []
    build = order_batch._Queue._build

    def recording(self: Any, batch: list[Any], lookups: Any) -> Any:
        sizes.append(len(batch))
        return build(self, batch, lookups)

    monkeypatch.setattr(order_batch._Queue, "_build", recording)
    return sizes


def with_candidate(body: dict[str, Any], index: int) -> dict[str, Any]:
    body["candidate"]["first_name"] = f"Candidate{index}"
    body["candidate"]["email"] = f"candidate{index}@example.com"
    return body


async def test_start_concurrent_orders_share_a_batch(stack: Stack, batch_sizes: list[int]) -> None:
    await concurrent_orders_are_written_together(stack, batch_sizes)


async def test_start_postgres_concurrent_orders_share_a_batch(pg_stack: Stack, batch_sizes: list[int]) -> None:
    await concurrent_orders_are_written_together(pg_stack, batch_sizes)


async def concurrent_orders_are_written_together(stack: Stack, batch_sizes: list[int]) -> None:
    key = await stack.connect_and_configure()
    type_id = await first_type(stack, key)
    bodies = [with_candidate(start_body(type_id), index) for index in range(40)]

    responses = await asyncio.gather(*(call(stack, "assessment.start", key, body) for body in bodies))

    assert [r.status_code for r in responses] == [200] * 40, [r.text for r in responses if r.status_code != 200]
    ids = [r.json()["results"]["assessment_id"] for r in responses]
    assert len(set(ids)) == 40
    assert max(batch_sizes) > 1, batch_sizes
    async with stack.langos.state.host.session() as session:
        for body, assessment_id in zip(bodies, ids):
            assessment = await session.get(Assessment, assessment_id)
            assert assessment is not None
            assert assessment.external_application_id == body["application"]["ashby_id"]
            assert assessment.candidate_email == body["candidate"]["email"]
            assert assessment.status == "invited"
            # The delivery worker may have sent the invitation already.
            assert assessment.invitation_status in ("queued", "sent")
            assert assessment.expires_at > assessment.created_at
            emails = (await session.scalars(select(Email).where(Email.assessment_id == assessment_id))).all()
            assert len(emails) == 1
            email = emails[0]
            assert email.recipient == body["candidate"]["email"]
            assert email.status in ("pending", "sent")
            assert body["candidate"]["first_name"] in email.body_text
            # The link in each email opens that candidate's own assessment.
            match = TAKE_LINK.search(email.body_text)
            assert match is not None
            assert email.body_html is not None
            assert match.group(0) in email.body_html
            assert hash_token(match.group(1)) == assessment.candidate_token_digest
            # The mail worker picks up an email by its status and next attempt time.
            assert email.attempts in (0, 1)
            assert email.next_attempt_at is not None
            assert email.created_at is not None
            events = (await session.scalars(
                select(TimelineEvent).where(TimelineEvent.assessment_id == assessment_id)
            )).all()
            invited = [event for event in events if event.kind == "invited"]
            assert len(invited) == 1
            assert invited[0].at == assessment.created_at
            assert invited[0].detail == {"email": body["candidate"]["email"]}


async def test_start_batch_settles_each_order_alike(stack: Stack, batch_sizes: list[int]) -> None:
    await a_batch_settles_each_order_like_a_single_one(stack, batch_sizes)


async def test_start_postgres_batch_settles_each_order_alike(pg_stack: Stack, batch_sizes: list[int]) -> None:
    await a_batch_settles_each_order_like_a_single_one(pg_stack, batch_sizes)


async def a_batch_settles_each_order_like_a_single_one(stack: Stack, batch_sizes: list[int]) -> None:
    """Repeats, a retired type, an invalid option and a workspace template in one batch."""
    key = await stack.connect_and_configure()
    type_id = await first_type(stack, key)
    host = stack.langos.state.host
    async with host.session() as session:
        active = await session.get(AssessmentType, type_id)
        workspace_id = active.workspace_id
        retired = (await session.scalars(
            select(AssessmentType).where(AssessmentType.workspace_id == workspace_id, AssessmentType.id != type_id)
        )).first()
        assert retired is not None, "the demo workspace has a second assessment type"
        await session.execute(update(AssessmentType).where(AssessmentType.id == retired.id).values(active=False))
        session.add(EmailTemplate(workspace_id=workspace_id, kind="invitation", language="de",
                                  subject="Einladung für {{ candidate_name }}", body="Hallo! Bitte hier: {{ link }}\n"))
        await session.commit()
    forget_cached_workspace(host.hooks, workspace_id)

    earlier = start_body(type_id)
    first = await call(stack, "assessment.start", key, earlier)
    assert first.status_code == 200
    repeated_twice = start_body(type_id)
    german = start_body(type_id, additional_fields={"email_language": "de"})
    bad_option = start_body(type_id, additional_fields={"expiry_days": 500})
    fresh = start_body(type_id)
    batch_sizes.clear()
    bodies = [earlier, repeated_twice, repeated_twice, start_body(retired.id), german, bad_option, fresh]
    responses = await asyncio.gather(*(call(stack, "assessment.start", key, body) for body in bodies))

    statuses = [r.status_code for r in responses]
    assert statuses == [200, 200, 200, 422, 200, 422, 200], [r.text for r in responses]
    assert max(batch_sizes) > 1, batch_sizes
    replies = [r.json() for r in responses]
    assert replies[0]["results"]["assessment_id"] == first.json()["results"]["assessment_id"]
    assert replies[1]["results"]["assessment_id"] == replies[2]["results"]["assessment_id"]
    assert "retired" in replies[3]["message"]
    assert replies[5]["message"].startswith("Days until the invitation expires")

    async with host.session() as session:
        for body in (earlier, repeated_twice, german, fresh):
            count = await session.scalar(
                select(func.count()).select_from(Assessment)
                .where(Assessment.external_application_id == body["application"]["ashby_id"])
            )
            assert count == 1
            emails = await session.scalar(
                select(func.count()).select_from(Email).join(Assessment, Assessment.id == Email.assessment_id)
                .where(Assessment.external_application_id == body["application"]["ashby_id"])
            )
            assert emails == 1
        for body in (bodies[3], bad_option):
            count = await session.scalar(
                select(func.count()).select_from(Assessment)
                .where(Assessment.external_application_id == body["application"]["ashby_id"])
            )
            assert count == 0
        german_email = await session.scalar(
            select(Email).where(Email.assessment_id == replies[4]["results"]["assessment_id"])
        )
        assert german_email.subject == "Einladung für Ada Lovelace"
        assert german_email.body_text.startswith("Hallo! Bitte hier: ")


async def test_start_failed_batch_stores_orders_alone(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    failures: list[int] = []

    def failing(connection: Any, inserts: Any, rows: dict[str, Any], parameters: Any) -> Any:
        failures.append(len(rows))
        raise RuntimeError("the batch's transaction failed")

    monkeypatch.setattr(order_batch, "_insert_sqlite", failing)
    await each_order_stored_once(stack)

    assert failures, "the batch was tried first"


async def test_start_postgres_failed_batch_writes_nothing(pg_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    with_defaults = order_batch._with_defaults
    batched: list[str] = []

    def without_recipient(table: Any, values: dict[str, Any]) -> dict[str, Any]:
        # The database rejects the emails' NULL recipient after the statement inserted the assessments.
        batched.append(values["assessment_id"])
        return {**with_defaults(table, values), "recipient": None}

    monkeypatch.setattr(order_batch, "_with_defaults", without_recipient)
    await each_order_stored_once(pg_stack)

    assert batched, "the batch was tried first"


async def each_order_stored_once(stack: Stack) -> None:
    """Send 6 concurrent new orders; check that each has its assessment and exactly one invitation."""
    key = await stack.connect_and_configure()
    type_id = await first_type(stack, key)
    bodies = [start_body(type_id) for _ in range(6)]
    responses = await asyncio.gather(*(call(stack, "assessment.start", key, body) for body in bodies))

    assert [r.status_code for r in responses] == [200] * 6
    async with stack.langos.state.host.session() as session:
        for body, response in zip(bodies, responses):
            assessment = await session.get(Assessment, response.json()["results"]["assessment_id"])
            assert assessment.external_application_id == body["application"]["ashby_id"]
            recipients = (await session.scalars(select(Email.recipient).where(Email.assessment_id == assessment.id))).all()
            assert recipients == [body["candidate"]["email"]]


async def test_start_repeat_with_invalid_option_waits_for_batch(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """A repeat whose option is invalid gets the assessment of the first order, still being written."""
    key = await stack.connect_and_configure()
    type_id = await first_type(stack, key)
    release = threading.Event()
    insert = order_batch._insert_sqlite

    def held(connection: Any, inserts: Any, rows: dict[str, Any], parameters: Any) -> Any:
        release.wait(timeout=10)
        return insert(connection, inserts, rows, parameters)

    monkeypatch.setattr(order_batch, "_insert_sqlite", held)
    body = start_body(type_id)
    first = asyncio.create_task(call(stack, "assessment.start", key, body))
    batcher = next(plugin._orders for plugin in stack.langos.state.host.hooks.manager.get_plugins()
                   if hasattr(plugin, "_orders"))
    for _ in range(200):
        if any(queue.unresolved for queue in batcher._queues.values()):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the first order never reached a batch")

    repeat = asyncio.create_task(call(stack, "assessment.start", key, {**body, "additional_fields": {"expiry_days": 500}}))
    await asyncio.sleep(0.2)
    assert not repeat.done()
    release.set()
    first_response, repeat_response = await first, await repeat

    assert first_response.status_code == 200
    assert repeat_response.status_code == 200, repeat_response.text
    assert repeat_response.json()["results"]["assessment_id"] == first_response.json()["results"]["assessment_id"]


async def invitation_subject(stack: Stack, assessment_id: str) -> str:
    async with stack.langos.state.host.session() as session:
        return await session.scalar(select(Email.subject).where(Email.assessment_id == assessment_id))


async def started_id(stack: Stack, key: str, type_id: str) -> str:
    response = await call(stack, "assessment.start", key, start_body(type_id))
    assert response.status_code == 200, response.text
    return response.json()["results"]["assessment_id"]


async def test_saved_template_applies_to_next_start(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    type_id = await first_type(stack, key)
    # The first start loads the workspace's templates into the engine's cache.
    default_subject = await invitation_subject(stack, await started_id(stack, key, type_id))
    form = {"csrf_token": await stack.admin.csrf("/settings/emails"), "kind": "invitation", "language": "en",
            "subject": "Saved wording for {{ candidate_first_name }}", "body": "Start here:\n\n{{ link }}\n"}

    saved = await stack.admin.client.post("/settings/emails", data={**form, "action": "save"})
    after_save = await invitation_subject(stack, await started_id(stack, key, type_id))
    reset = await stack.admin.client.post("/settings/emails/reset", data=form)
    after_reset = await invitation_subject(stack, await started_id(stack, key, type_id))

    assert saved.status_code == 303
    assert reset.status_code == 303
    assert default_subject.startswith("Your assessment: ")
    assert after_save == "Saved wording for Ada"
    assert after_reset == default_subject


async def test_other_process_change_applies_after_cache(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    engine_plugin = stack.langos.state.host.hooks.manager.get_plugin(ENGINE_PLUGIN_NAME)
    monkeypatch.setattr(engine_plugin._orders, "cache_seconds", 0.3)
    key = await stack.connect_and_configure()
    type_id = await first_type(stack, key)
    await started_id(stack, key, type_id)
    # Another process retires the type. This process gets no notice and uses its cache until it expires.
    async with stack.langos.state.host.session() as session:
        await session.execute(update(AssessmentType).where(AssessmentType.id == type_id).values(active=False))
        await session.commit()

    await asyncio.sleep(0.4)
    rejected = await call(stack, "assessment.start", key, start_body(type_id))

    assert rejected.status_code == 422
    assert "has been retired" in rejected.text


async def test_batch_rows_match_single_start(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    await batch_rows_match_single_start(stack, monkeypatch)


async def test_postgres_batch_rows_match_single_start(
    pg_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    await batch_rows_match_single_start(pg_stack, monkeypatch)


async def batch_rows_match_single_start(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Check that rows the batch writes past the ORM are stored and read back as the one-at-a-time path's rows."""
    key = await stack.connect_and_configure()
    type_id = await first_type(stack, key)
    failures: list[Exception] = []
    monkeypatch.setattr(order_batch, "_log_failure", lambda batch, exc: failures.append(exc))
    batched_id = await started_id(stack, key, type_id)
    assert failures == [], "the batch stored the first order"

    async def alone(self: Any, bind: Any, order: Any, **options: Any) -> None:
        return None

    monkeypatch.setattr(order_batch.OrderBatcher, "start", alone)
    single_id = await started_id(stack, key, type_id)

    # Each order has its own ids, and the mail worker may already have sent either invitation.
    differing = {"id", "external_application_id", "external_candidate_id", "external_job_id", "candidate_token_digest",
                 "invitation_status"}
    async with stack.langos.state.host.session() as session:
        batched, single = await session.get(Assessment, batched_id), await session.get(Assessment, single_id)
        for column in Assessment.__table__.columns:
            if column.key not in differing | {"created_at", "expires_at"}:
                assert getattr(batched, column.key) == getattr(single, column.key), column.key
        assert batched.expires_at - batched.created_at == single.expires_at - single.created_at
        emails = {
            assessment_id: await session.scalar(select(Email).where(Email.assessment_id == assessment_id))
            for assessment_id in (batched_id, single_id)
        }
        for column in ("workspace_id", "recipient", "subject", "kind", "last_error"):
            assert getattr(emails[batched_id], column) == getattr(emails[single_id], column), column
        events = {
            assessment_id: await session.scalar(
                select(TimelineEvent)
                .where(TimelineEvent.assessment_id == assessment_id, TimelineEvent.kind == "invited")
            )
            for assessment_id in (batched_id, single_id)
        }
        assert events[batched_id].detail == events[single_id].detail
        assert events[batched_id].at == batched.created_at
        # The stored text of the times has one format, so comparisons in SQL order them right.
        stored = (await session.execute(text(
            "SELECT a.created_at, a.expires_at, e.created_at, e.next_attempt_at, t.at FROM assessments a "
            "JOIN emails e ON e.assessment_id = a.id JOIN timeline_events t ON t.assessment_id = a.id "
            "WHERE a.id IN (:batched, :single) AND t.kind = 'invited' ORDER BY a.id = :single"
        ), {"batched": batched_id, "single": single_id})).all()
    assert len(stored) == 2
    assert [type(value) for value in stored[0]] == [type(value) for value in stored[1]]
    # SQLite stores the times as text, which sorts right only when every value has one length.
    # PostgreSQL returns datetimes, which this skips.
    assert [len(value) for value in stored[0] if isinstance(value, str)] == [
        len(value) for value in stored[1] if isinstance(value, str)
    ]
