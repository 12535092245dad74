"""Pushing updates to the fake Ashby: retries, permanent failures, order and the admin's retry."""

from __future__ import annotations

from sqlalchemy import select

from core.engine import begin, complete, Score
from core.models import Assessment, Delivery, Integration
from core.types import CategoryScore
from tests.conftest import Stack
from tests.live import wait_for


async def start_one(stack: Stack, candidate: int = 0) -> str:
    await stack.connect_and_configure()
    listed = (await stack.http.post(stack.ashby_url + "/_fake/langos/list")).json()
    type_id = listed["body"]["results"][0]["assessment_type_id"]
    started = (await stack.http.post(
        stack.ashby_url + "/_fake/langos/start", json={"candidate": candidate, "assessment_type_id": type_id}
    )).json()
    assessment_id = started["body"]["results"]["assessment_id"]
    # The sent invitation email queues an "invited" update; the tests begin once Ashby has it.
    await wait_for(lambda: invitation_updates(stack, assessment_id))
    return assessment_id


async def candidate_starts(stack: Stack, assessment_id: str) -> None:
    async with stack.langos.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        await begin(session, assessment)
        await session.commit()


async def candidate_completes(stack: Stack, assessment_id: str) -> None:
    async with stack.langos.state.host.session() as session:
        assessment = await session.get(Assessment, assessment_id)
        score = Score(overall=75.0, categories=(CategoryScore("Python", 50.0, 100.0), CategoryScore("HTTP", 100.0, 100.0)))
        await complete(session, assessment, score, source="test")
        await session.commit()


async def deliveries(stack: Stack, assessment_id: str) -> list[Delivery]:
    """Return the assessment's deliveries after the invitation's, which ``start_one`` waits for."""
    async with stack.langos.state.host.session() as session:
        rows = await session.scalars(
            select(Delivery)
            .where(Delivery.assessment_id == assessment_id, Delivery.event != "invited")
            .order_by(Delivery.created_at)
        )
        return list(rows)


async def all_delivered(stack: Stack, assessment_id: str) -> list[Delivery]:
    """Wait until every delivery of the assessment is recorded as delivered, and return them."""

    async def done() -> list[Delivery] | None:
        rows = await deliveries(stack, assessment_id)
        return rows if rows and all(row.status == "delivered" for row in rows) else None

    return await wait_for(done)


def _status_of(body: dict) -> str | None:
    return body.get("assessment_status", {}).get("value")


def invitation_updates(stack: Stack, assessment_id: str) -> list[dict]:
    return [
        u.body for u in stack.ashby.state.fake.updates
        if u.assessment_id == assessment_id and u.accepted and _status_of(u.body) == "Invited"
    ]


def accepted(stack: Stack, assessment_id: str) -> list[dict]:
    """Return the updates Ashby accepted for the assessment, except the invitation's."""
    return [
        u.body for u in stack.ashby.state.fake.updates
        if u.assessment_id == assessment_id and u.accepted and _status_of(u.body) != "Invited"
    ]


async def test_server_errors_are_retried(stack: Stack) -> None:
    assessment_id = await start_one(stack)
    stack.ashby.state.fake.inject_failures(2, status=500)
    await candidate_starts(stack, assessment_id)

    [delivery] = await all_delivered(stack, assessment_id)
    assert delivery.attempts == 3
    assert len(accepted(stack, assessment_id)) == 1


async def test_rate_limit_is_retried(stack: Stack) -> None:
    assessment_id = await start_one(stack)
    stack.ashby.state.fake.inject_failures(1, status=429, retry_after=0.2)
    await candidate_starts(stack, assessment_id)

    [delivery] = await all_delivered(stack, assessment_id)
    assert delivery.attempts == 2


async def integration_status(stack: Stack) -> Integration:
    async with stack.langos.state.host.session() as session:
        return await session.scalar(select(Integration))


async def test_rejected_key_pauses_until_key_replaced(stack: Stack) -> None:
    assessment_id = await start_one(stack)
    stack.ashby.state.fake.inject_failures(1, status=403)
    await candidate_starts(stack, assessment_id)

    async def paused() -> bool:
        return (await integration_status(stack)).status == "error"

    await wait_for(paused)
    integration = await integration_status(stack)
    assert "Ashby rejected the API key" in integration.error_message
    [delivery] = await deliveries(stack, assessment_id)
    assert delivery.status == "pending"
    assert delivery.attempts == 1

    page = await stack.admin.client.get("/settings/integrations")
    assert 'data-testid="needs-attention"' in page.text
    assert "Resume deliveries" in page.text
    assert accepted(stack, assessment_id) == []

    replaced = await stack.admin.connect()
    assert replaced.status_code == 200
    await wait_for(lambda: accepted(stack, assessment_id))
    assert (await integration_status(stack)).status == "connected"


async def test_resume_sends_waiting_updates(stack: Stack) -> None:
    assessment_id = await start_one(stack)
    stack.ashby.state.fake.inject_failures(1, status=401)
    await candidate_starts(stack, assessment_id)

    async def paused() -> bool:
        return (await integration_status(stack)).status == "error"

    await wait_for(paused)
    await candidate_completes(stack, assessment_id)
    resumed = await stack.admin.post_form("/settings/integrations/ashby/resume")
    assert resumed.status_code == 303
    await wait_for(lambda: len(accepted(stack, assessment_id)) == 2)
    statuses = [body["assessment_status"]["value"] for body in accepted(stack, assessment_id)]
    assert statuses == ["Started", "Completed"]


async def test_validation_error_dead_letters_and_pauses(stack: Stack) -> None:
    assessment_id = await start_one(stack)
    original = stack.langos.state.host.settings.public_url
    # A report URL that is not absolute breaks the contract, and the fake Ashby rejects it.
    object.__setattr__(stack.langos.state.host.settings, "public_url", "not-a-url")
    try:
        await candidate_starts(stack, assessment_id)

        async def failed() -> bool:
            return (await deliveries(stack, assessment_id))[0].status == "failed"

        await wait_for(failed)
    finally:
        object.__setattr__(stack.langos.state.host.settings, "public_url", original)
    [delivery] = await deliveries(stack, assessment_id)
    assert delivery.attempts == 1
    assert "invalid_input" in delivery.last_error
    integration = await integration_status(stack)
    assert integration.status == "error"
    assert "rejected an update" in integration.error_message

    page = await stack.admin.client.get("/settings/integrations/ashby/deliveries?status=failed")
    assert page.status_code == 200
    assert 'data-status="failed"' in page.text
    assert "invalid_input" in page.text

    await stack.admin.post_form("/settings/integrations/ashby/resume")
    retried = await stack.admin.post_form(f"/settings/integrations/ashby/deliveries/{delivery.id}/retry")
    assert retried.status_code == 303
    await wait_for(lambda: accepted(stack, assessment_id))


async def test_retries_exhausted_dead_letter(stack: Stack) -> None:
    object.__setattr__(stack.langos.state.host.settings, "delivery_max_attempts", 3)
    assessment_id = await start_one(stack)
    stack.ashby.state.fake.inject_failures(5, status=503)
    await candidate_starts(stack, assessment_id)

    async def failed() -> bool:
        return (await deliveries(stack, assessment_id))[0].status == "failed"

    await wait_for(failed)
    [delivery] = await deliveries(stack, assessment_id)
    assert delivery.attempts == 3
    assert (await integration_status(stack)).status == "connected"
    page = await stack.admin.client.get("/settings/integrations/ashby/deliveries?status=failed")
    assert page.text.count('data-testid="attempt"') == 3
    assert "503" in page.text


async def test_replay_newest_update(stack: Stack) -> None:
    assessment_id = await start_one(stack)
    await candidate_starts(stack, assessment_id)
    [delivery] = await all_delivered(stack, assessment_id)

    replayed = await stack.admin.post_form(f"/settings/integrations/ashby/deliveries/{delivery.id}/replay")
    assert replayed.status_code == 303
    await wait_for(lambda: len(accepted(stack, assessment_id)) == 2)
    first, second = accepted(stack, assessment_id)
    assert second["timestamp"] > first["timestamp"]

    await candidate_completes(stack, assessment_id)
    await wait_for(lambda: len(accepted(stack, assessment_id)) == 3)
    await stack.admin.post_form(f"/settings/integrations/ashby/deliveries/{delivery.id}/replay")
    page = await stack.admin.client.get("/settings/integrations/ashby/deliveries")
    assert "Only the newest delivered update of an assessment can be replayed" in page.text


async def test_started_is_delivered_before_completed(stack: Stack) -> None:
    assessment_id = await start_one(stack)
    stack.ashby.state.fake.inject_failures(3, status=500)
    await candidate_starts(stack, assessment_id)
    await candidate_completes(stack, assessment_id)

    await wait_for(lambda: len(accepted(stack, assessment_id)) == 2)
    bodies = accepted(stack, assessment_id)
    assert bodies[0]["assessment_status"]["value"] == "Started"
    assert bodies[1]["assessment_status"]["value"] == "Completed"
    assert bodies[0]["timestamp"] < bodies[1]["timestamp"]
    view = stack.ashby.state.fake.latest_by_assessment()[assessment_id]
    assert view.status["value"] == "Completed"
    assert view.result["value"] == 75.0
