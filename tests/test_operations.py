"""Health, readiness and Prometheus metrics."""

from __future__ import annotations

from tests.conftest import Stack
from tests.test_delivery import all_delivered, candidate_starts, start_one


async def test_health_and_readiness(stack: Stack) -> None:
    health = await stack.http.get(stack.langos_url + "/healthz")
    assert health.status_code == 200
    ready = await stack.http.get(stack.langos_url + "/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["schema"] is not None


async def test_metrics_count_requests_and_deliveries(stack: Stack) -> None:
    assessment_id = await start_one(stack)
    stack.ashby.state.fake.inject_failures(1, status=500)
    await candidate_starts(stack, assessment_id)
    await all_delivered(stack, assessment_id)

    text = (await stack.http.get(stack.langos_url + "/metrics")).text
    assert 'langos_http_requests_total{method="POST",route="/api/ats/webhook/assessment.start",status="200"}' in text
    assert assessment_id not in text
    assert 'langos_deliveries_total{connector="ashby",outcome="delivered"}' in text
    assert 'langos_delivery_retries_total{connector="ashby"}' in text
    assert "langos_delivery_queue_depth 0.0" in text
    assert "langos_delivery_oldest_pending_age_seconds 0.0" in text
    assert "langos_delivery_dead_letters 0.0" in text
