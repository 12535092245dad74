"""The whole flow over real HTTP: Langos and the fake Ashby served by uvicorn on loopback."""

from __future__ import annotations

import logging
import re
import uuid

import httpx
import pytest
from sqlalchemy import select

from core.logs import TRANSPORT_LOGGERS, quiet_transport_loggers
from core.models import Email
from tests.conftest import ADMIN_PASSWORD, ASHBY_KEY, CSRF, Stack
from tests.live import wait_for

TAKE_LINK = re.compile(r"(/take/[A-Za-z0-9_-]+)")


async def candidate_link(stack: Stack, assessment_id: str) -> str:
    async with stack.langos.state.host.session() as session:
        message = await session.scalar(select(Email).where(Email.assessment_id == assessment_id))
    assert message is not None
    match = TAKE_LINK.search(message.body_text)
    assert match is not None
    return match.group(1)


async def updates_for(stack: Stack, assessment_id: str) -> list[dict]:
    response = await stack.http.get(stack.ashby_url + "/_fake/updates", params={"assessment_id": assessment_id})
    return response.json()["updates"]


async def correct_answers(stack: Stack, assessment_type_id: str) -> dict[str, int]:
    from core.models import AssessmentType

    async with stack.langos.state.host.session() as session:
        assessment_type = await session.get(AssessmentType, assessment_type_id)
        return {q.id: q.correct_option for c in assessment_type.categories for q in c.questions}


async def test_flow_from_connect_to_report(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    assert key.startswith("lgs_ats_")

    listed = (await stack.http.post(stack.ashby_url + "/_fake/langos/list")).json()
    assert listed["status"] == 200
    types = listed["body"]["results"]
    assert [t["name"] for t in types][:1] == ["Backend Python (30 min)"]
    backend = types[0]
    uuid.UUID(backend["assessment_type_id"])

    started = (await stack.http.post(
        stack.ashby_url + "/_fake/langos/start",
        json={"candidate": 0, "assessment_type_id": backend["assessment_type_id"]},
    )).json()
    assert started["status"] == 200
    assessment_id = started["body"]["results"]["assessment_id"]
    uuid.UUID(assessment_id)

    link = await candidate_link(stack, assessment_id)
    async with httpx.AsyncClient(base_url=stack.langos_url, timeout=10) as candidate:
        welcome = await candidate.get(link)
        assert welcome.status_code == 200
        token = CSRF.search(welcome.text).group(1)
        begin = await candidate.post(link + "/start", data={"csrf_token": token})
        assert begin.status_code == 303

        statuses = await wait_for(lambda: _values(stack, assessment_id, "Started"))
        assert statuses

        answers = await correct_answers(stack, backend["assessment_type_id"])
        wrong_question = next(iter(answers))
        form = {"csrf_token": token}
        for question_id, option in answers.items():
            form[f"q_{question_id}"] = str(option if question_id != wrong_question else (option + 1) % 3)
        submitted = await candidate.post(link + "/submit", data=form)
        assert submitted.status_code == 303
        done = await candidate.get(link)
        assert "submitted" in done.text

    completion = await wait_for(lambda: _completion(stack, assessment_id))
    body = completion["body"]
    assert body["assessment_status"]["value"] == "Completed"
    assert body["assessment_result"]["type"] == "numeric_score"
    # One Python question (weight 2 of 4) wrong: Python 66.7 %, HTTP and Databases 100 %.
    assert body["assessment_result"]["value"] == 83.3
    assert body["assessment_profile_url"]["label"] == "View in Langos"
    assert body["assessment_profile_url"]["value"] == f"{stack.langos_url}/reports/{assessment_id}"
    metadata = {item["identifier"]: item for item in body["metadata"]}
    assert metadata["max_score"]["value"] == 100
    assert metadata["category_python"]["value"] == 66.7
    assert metadata["category_http"]["value"] == 100.0
    assert metadata["duration"]["type"] == "numeric_duration_minutes"

    updates = await updates_for(stack, assessment_id)
    assert all(update["accepted"] for update in updates)
    timestamps = [update["body"]["timestamp"] for update in updates]
    assert timestamps == sorted(timestamps)
    assert len(set(timestamps)) == len(timestamps)

    report = await stack.admin.client.get(f"/reports/{assessment_id}")
    assert report.status_code == 200
    assert "83.3" in report.text
    assert "Ada" in report.text


async def _values(stack: Stack, assessment_id: str, status: str) -> bool:
    updates = await updates_for(stack, assessment_id)
    return any(u["accepted"] and u["body"].get("assessment_status", {}).get("value") == status for u in updates)


async def _completion(stack: Stack, assessment_id: str) -> dict | None:
    for update in await updates_for(stack, assessment_id):
        if update["accepted"] and "assessment_result" in update["body"]:
            return update
    return None


async def test_cancel_from_ashby_closes_candidate_link(stack: Stack) -> None:
    await stack.connect_and_configure()
    listed = (await stack.http.post(stack.ashby_url + "/_fake/langos/list")).json()
    type_id = listed["body"]["results"][0]["assessment_type_id"]
    started = (await stack.http.post(
        stack.ashby_url + "/_fake/langos/start", json={"candidate": 1, "assessment_type_id": type_id}
    )).json()
    assessment_id = started["body"]["results"]["assessment_id"]

    cancelled = (await stack.http.post(stack.ashby_url + "/_fake/langos/cancel", json={"assessment_id": assessment_id})).json()
    assert cancelled["status"] == 200
    assert cancelled["body"] == {"success": True, "results": {"assessment_id": assessment_id}}
    again = (await stack.http.post(stack.ashby_url + "/_fake/langos/cancel", json={"assessment_id": assessment_id})).json()
    assert again["status"] == 200

    link = await candidate_link(stack, assessment_id)
    async with httpx.AsyncClient(base_url=stack.langos_url, timeout=10) as candidate:
        page = await candidate.get(link)
        assert "cancelled" in page.text
        token = CSRF.search(page.text)
        begin = await candidate.post(link + "/start", data={"csrf_token": token.group(1) if token else ""})
        assert begin.status_code in (400, 409, 410)


@pytest.fixture
def debug_logs(caplog):
    """Capture every record at DEBUG, with the transport libraries at INFO as the entry points set them."""
    caplog.set_level(logging.DEBUG)
    quiet_transport_loggers()
    yield caplog
    for name in TRANSPORT_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


async def test_flow_logs_no_secret(stack: Stack, debug_logs) -> None:
    caplog = debug_logs
    await stack.admin.login()
    key = await stack.connect_and_configure()
    await stack.admin.connect(ASHBY_KEY)
    await stack.admin.post_form("/settings/integrations/ashby/rotate")
    listed = (await stack.http.post(stack.ashby_url + "/_fake/langos/list")).json()
    type_id = listed["body"]["results"][0]["assessment_type_id"]
    started = (await stack.http.post(
        stack.ashby_url + "/_fake/langos/start", json={"candidate": 0, "assessment_type_id": type_id}
    )).json()
    assessment_id = started["body"]["results"]["assessment_id"]
    link = await candidate_link(stack, assessment_id)
    async with httpx.AsyncClient(base_url=stack.langos_url, timeout=10) as candidate:
        page = await candidate.get(link)
        token = CSRF.search(page.text).group(1)
        await candidate.post(link + "/start", data={"csrf_token": token})
        await candidate.post(link + "/submit", data={"csrf_token": token})
    await wait_for(lambda: _completion(stack, assessment_id))

    text = caplog.text
    cookie = stack.admin.client.cookies.get("langos_session")
    assert len(caplog.records) > 20
    assert ASHBY_KEY not in text
    assert key not in text
    assert ADMIN_PASSWORD not in text
    assert cookie and cookie not in text
