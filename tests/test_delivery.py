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
    return started["body"]["results"]["assessment_id"]


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
    async with stack.langos.state.host.session() as session:
        rows = await session.scalars(select(Delivery).where(Delivery.assessment_id == assessment_id).order_by(Delivery.created_at))
        return list(rows)


def accepted(stack: Stack, assessment_id: str) -> list[dict]:
    return [u.body for u in stack.ashby.state.fake.updates if u.assessment_id == assessment_id and u.accepted]


async def test_server_errors_are_retried(stack: Stack) -> None:
    assessment_id = await start_one(stack)
    stack.ashby.state.fake.inject_failures(2, status=500)
    await candidate_starts(stack, assessment_id)

    await wait_for(lambda: accepted(stack, assessment_id))
    [delivery] = await deliveries(stack, assessment_id)
    assert delivery.status == "delivered"
    assert delivery.attempts == 3


async def test_rate_limit_is_retried(stack: Stack) -> None:
    assessment_id = await start_one(stack)
    stack.ashby.state.fake.inject_failures(1, status=429, retry_after=0.2)
    await candidate_starts(stack, assessment_id)

    await wait_for(lambda: accepted(stack, assessment_id))
    [delivery] = await deliveries(stack, assessment_id)
    assert delivery.attempts == 2


async def test_rejected_key_marks_integration(stack: Stack) -> None:
    assessment_id = await start_one(stack)
    stack.ashby.state.fake.inject_failures(1, status=403)
    await candidate_starts(stack, assessment_id)

    async def failed() -> bool:
        rows = await deliveries(stack, assessment_id)
        return rows[0].status == "failed"

    await wait_for(failed)
    async with stack.langos.state.host.session() as session:
        integration = await session.scalar(select(Integration))
    assert integration.status == "error"
    assert "Ashby rejected the API key" in integration.error_message

    page = await stack.admin.client.get("/settings/integrations")
    assert "Needs attention" in page.text
    assert "Retry" in page.text

    [delivery] = await deliveries(stack, assessment_id)
    retried = await stack.admin.post_form(f"/settings/integrations/ashby/deliveries/{delivery.id}/retry")
    assert retried.status_code == 303
    await wait_for(lambda: accepted(stack, assessment_id))


async def test_validation_error_is_not_retried(stack: Stack) -> None:
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
