"""Tests of the fake Ashby: its API for Langos, the ``/_fake`` controls and the recruiter page."""

from __future__ import annotations

import base64
import copy
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.ashby.fake import DEMO_API_KEY, READONLY_API_KEY, FakeAshbyState, create_fake_ashby

ASSESSMENT_ID = "9d4e1c2a-7b3f-4e8d-a1c5-6f2b0e9d8c71"
TYPE_ID = "6f1c2f0e-4a7b-4c1e-9a51-1f0d3b0e8a11"
SECOND_TYPE_ID = "1c9b7a4e-3d2f-4b8a-9e6c-5d4f3e2a1b0c"
LANGOS_KEY = "langos_test_key_abcdef"
WEBHOOK_PATH = "/api/ats/webhook"
LANGOS_BASE = f"http://langos{WEBHOOK_PATH}"
ADA_ID = "0b7c3f5e-2d1a-4f8e-9c66-5a2b1e7d4c90"
EDSGER_ID = "f0e1d2c3-b4a5-4968-8776-655443322110"
NO_EMAIL_MESSAGE = "The candidate has no email address, so Langos cannot send the invitation."

CUSTOM_FIELDS: list[dict[str, Any]] = [
    {"id": "expiry_days", "name": "Days until the invitation expires", "type": "Number", "isRequired": True},
    {
        "id": "email_language",
        "name": "Invitation language",
        "type": "ValueSelect",
        "isRequired": False,
        "possible_values": [{"key": "en", "value": "English"}, {"key": "de", "value": "German"}],
    },
    {"id": "note", "name": "Note to the candidate", "type": "String", "isRequired": False},
]

STARTED_UPDATE: dict[str, Any] = {
    "assessment_id": ASSESSMENT_ID,
    "timestamp": 1767225600000,
    "assessment_status": {"identifier": "status", "label": "Status", "type": "string", "value": "Started"},
    "assessment_profile_url": {
        "identifier": "profile_url",
        "label": "View in Acme",
        "type": "url",
        "value": "https://acme.example/a/9d4e1c2a",
    },
    "metadata": [
        {"identifier": "time_limit", "label": "Time limit", "type": "numeric_duration_minutes", "value": 60}
    ],
}

COMPLETED_UPDATE: dict[str, Any] = {
    "assessment_id": ASSESSMENT_ID,
    "timestamp": 1767312000000,
    "assessment_status": {"identifier": "status", "label": "Status", "type": "string", "value": "Completed"},
    "assessment_result": {
        "identifier": "score",
        "label": "Score",
        "type": "numeric_score",
        "value": 87,
        "description": "Weighted rubric score out of 100",
    },
    "assessment_profile_url": {
        "identifier": "profile_url",
        "label": "View in Acme",
        "type": "url",
        "value": "https://acme.example/r/9d4e1c2a",
    },
    "metadata": [
        {"identifier": "max_score", "label": "Max score", "type": "numeric_score", "value": 100},
        {"identifier": "passed", "label": "Passed", "type": "boolean_success", "value": True},
        {"identifier": "duration", "label": "Time taken", "type": "numeric_duration_minutes", "value": 47},
    ],
}

CANCELLED_UPDATE: dict[str, Any] = {
    "assessment_id": ASSESSMENT_ID,
    "timestamp": 1767398400000,
    "cancelled_reason": {
        "identifier": "cancelled_reason",
        "label": "Cancelled",
        "type": "string",
        "value": "Candidate withdrew",
    },
}


def _basic(key: str) -> dict[str, str]:
    token = base64.b64encode(f"{key}:".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://fake", headers={"User-Agent": "LangosTests/1.0"}
    )


def _langos_stub(
    received: list[dict[str, Any]],
    assessment_types: list[dict[str, Any]] | None = None,
    *,
    inline_update: bool = True,
) -> Starlette:
    """Build a stand-in Langos that records each request and responds as the partner contract describes.

    With ``inline_update`` False, the start reply carries no ``update_request``.
    """
    types = assessment_types or [
        {"assessment_type_id": TYPE_ID, "name": "Backend Python - 60 min", "description": "Debug a Flask service"},
        {"assessment_type_id": SECOND_TYPE_ID, "name": "SQL basics", "description": "Joins and indexes"},
    ]

    async def handle(request: Request) -> JSONResponse:
        body = await request.json()
        method = request.path_params["method"]
        received.append({"method": method, "path": request.url.path, "headers": request.headers, "body": body})

        if request.headers.get("authorization") != _basic(LANGOS_KEY)["Authorization"]:
            error = {"code": "invalid_api_key", "message": "Unknown Langos API key."}
            return JSONResponse({"success": False, "errors": ["invalid_api_key"], "errorInfo": error}, 401)
        if method == "assessment.list":
            return JSONResponse({"success": True, "results": types})
        if method == "assessment.cancel":
            return JSONResponse({"success": True, "results": {"assessment_id": body["assessment_id"]}})
        if method == "assessment.customField.list":
            return JSONResponse({"success": True, "fields": CUSTOM_FIELDS})
        if not body["candidate"].get("email"):
            return JSONResponse({"message": NO_EMAIL_MESSAGE}, 422)

        assessment_id = str(uuid.uuid5(uuid.NAMESPACE_URL, body["application"]["ashby_id"] + body["assessment_type_id"]))
        results: dict[str, Any] = {"assessment_id": assessment_id}
        if inline_update:
            results["update_request"] = {
                "assessment_id": assessment_id,
                "timestamp": 1767225600000,
                "assessment_status": {"identifier": "status", "label": "Status", "type": "string", "value": "Invited"},
            }
        return JSONResponse({"success": True, "results": results})

    return Starlette(routes=[Route(WEBHOOK_PATH + "/{method}", handle, methods=["POST"])])


@pytest.fixture
def received() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def fake_app(received: list[dict[str, Any]]) -> Starlette:
    return create_fake_ashby(
        langos_base_url=LANGOS_BASE,
        langos_api_key=LANGOS_KEY,
        langos_transport=httpx.ASGITransport(app=_langos_stub(received)),
    )


@pytest.fixture
def state(fake_app: Starlette) -> FakeAshbyState:
    return fake_app.state.fake


@pytest.fixture
async def client(fake_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(fake_app) as http:
        yield http


async def _update(client: httpx.AsyncClient, body: Any, key: str = DEMO_API_KEY) -> httpx.Response:
    return await client.post("/assessment.update", json=body, headers=_basic(key))


async def _save_and_test(client: httpx.AsyncClient, api_key: str = "", **kwargs: Any) -> httpx.Response:
    """Press Save and test with the saved base URL; an empty ``api_key`` keeps the saved key."""
    return await client.post("/ui/config", data={"base_url": LANGOS_BASE, "api_key": api_key}, **kwargs)


async def _start_ada(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/_fake/langos/start", json={"candidate": ADA_ID, "assessment_type_id": TYPE_ID})
    assert response.status_code == 200
    return response.json()


# apiKey.info


async def test_api_key_info_missing_key(client: httpx.AsyncClient) -> None:
    response = await client.post("/apiKey.info", json={})

    assert response.status_code == 401
    assert response.json()["success"] is False
    assert response.json()["errors"] == ["missing_api_key"]
    assert response.json()["errorInfo"]["code"] == "missing_api_key"
    assert response.json()["errorInfo"]["message"]


async def test_api_key_info_malformed_header(client: httpx.AsyncClient) -> None:
    response = await client.post("/apiKey.info", json={}, headers={"Authorization": "Basic not-base64!"})

    assert response.status_code == 401
    assert response.json()["errorInfo"]["code"] == "missing_api_key"


async def test_api_key_info_unknown_key(client: httpx.AsyncClient) -> None:
    response = await client.post("/apiKey.info", json={}, headers=_basic("ashby_wrong_key"))

    assert response.status_code == 403
    assert response.json()["errorInfo"]["code"] == "invalid_api_key"


async def test_api_key_info_readonly_key_lacks_write(client: httpx.AsyncClient) -> None:
    response = await client.post("/apiKey.info", json={}, headers=_basic(READONLY_API_KEY))

    assert response.status_code == 200
    assert "apiKeys:read" in response.json()["results"]["scopes"]
    assert "candidates:write" not in response.json()["results"]["scopes"]


async def test_api_key_info_demo_key(client: httpx.AsyncClient) -> None:
    response = await client.post("/apiKey.info", json={}, headers=_basic(DEMO_API_KEY))
    results = response.json()["results"]

    assert response.status_code == 200
    assert response.json()["success"] is True
    assert results["title"] == "Langos demo key"
    assert results["createdAt"].endswith("Z")
    assert results["scopes"] == ["apiKeys:read", "candidates:read", "candidates:write", "jobs:read"]


async def test_api_key_info_without_read_scope() -> None:
    app = create_fake_ashby(api_keys={"writer_only": ["candidates:write"]})
    async with _client(app) as client:
        response = await client.post("/apiKey.info", json={}, headers=_basic("writer_only"))

    assert response.status_code == 403
    assert response.json()["errorInfo"]["code"] == "missing_endpoint_permission"


async def test_api_key_info_records_checks(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    await client.post("/apiKey.info", json={})
    await client.post("/apiKey.info", json={}, headers=_basic(DEMO_API_KEY))

    assert [check.status for check in state.api_key_checks] == [401, 200]
    assert state.api_key_checks[0].error.startswith("No API key was sent.")
    assert state.api_key_checks[1].key_title == "Langos demo key"
    assert state.api_key_checks[1].error is None
    assert DEMO_API_KEY not in repr(state.api_key_checks)
    assert DEMO_API_KEY not in repr(state)


# assessment.update


@pytest.mark.parametrize("body", [STARTED_UPDATE, COMPLETED_UPDATE, CANCELLED_UPDATE], ids=["started", "completed", "cancelled"])
async def test_update_accepts_sample(client: httpx.AsyncClient, state: FakeAshbyState, body: dict[str, Any]) -> None:
    response = await _update(client, body)

    assert response.status_code == 200
    assert response.json() == {"success": True, "results": {}}
    assert state.updates[-1].accepted is True
    assert state.updates[-1].error is None
    assert state.updates[-1].assessment_id == ASSESSMENT_ID
    assert state.updates[-1].body == body


async def test_update_readonly_key_forbidden(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    response = await _update(client, STARTED_UPDATE, key=READONLY_API_KEY)

    assert response.status_code == 403
    assert response.json()["errorInfo"]["code"] == "missing_endpoint_permission"
    assert state.updates == []


async def test_update_missing_key_unauthorized(client: httpx.AsyncClient) -> None:
    response = await client.post("/assessment.update", json=STARTED_UPDATE)

    assert response.status_code == 401
    assert response.json()["errorInfo"]["code"] == "missing_api_key"


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    broken = copy.deepcopy(body)
    del broken[key]
    return broken


def _with(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    broken = copy.deepcopy(body)
    target = broken
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return broken


BROKEN_UPDATES = [
    pytest.param(_without(STARTED_UPDATE, "timestamp"), "timestamp", id="missing-timestamp"),
    pytest.param(_with(STARTED_UPDATE, ("timestamp",), 1767225600000.5), "timestamp", id="float-timestamp"),
    pytest.param(_with(STARTED_UPDATE, ("timestamp",), "1767225600000"), "timestamp", id="string-timestamp"),
    pytest.param(_with(STARTED_UPDATE, ("timestamp",), 1767225600), "timestamp", id="seconds-timestamp"),
    pytest.param(_with(STARTED_UPDATE, ("timestamp",), 1767225600000000), "timestamp", id="microseconds-timestamp"),
    pytest.param(_without(STARTED_UPDATE, "assessment_id"), "assessment_id", id="missing-assessment-id"),
    pytest.param(_with(STARTED_UPDATE, ("assessment_id",), "assessment-1"), "assessment_id", id="non-uuid-id"),
    pytest.param(_without(STARTED_UPDATE, "assessment_status"), "assessment_status", id="missing-status"),
    pytest.param(
        _with(STARTED_UPDATE, ("assessment_status", "type"), "text"), "assessment_status.type", id="bad-type"
    ),
    pytest.param(
        _with(STARTED_UPDATE, ("assessment_profile_url", "value"), "/a/9d4e1c2a"),
        "assessment_profile_url.value",
        id="relative-url",
    ),
    pytest.param(
        _with(STARTED_UPDATE, ("assessment_profile_url", "value"), "ftp://acme.example/a"),
        "assessment_profile_url.value",
        id="ftp-url",
    ),
    pytest.param(
        _with(STARTED_UPDATE, ("assessment_profile_url", "type"), "string"),
        "assessment_profile_url.type",
        id="profile-url-not-url-type",
    ),
    pytest.param(
        _without(COMPLETED_UPDATE, "assessment_profile_url"), "assessment_profile_url", id="result-without-profile-url"
    ),
    pytest.param(
        _with(COMPLETED_UPDATE, ("metadata", 2, "identifier"), "max_score"),
        "metadata[2].identifier",
        id="duplicate-metadata-identifier",
    ),
    pytest.param(_with(STARTED_UPDATE, ("score",), 87), "score", id="unknown-key"),
    pytest.param(
        _with(COMPLETED_UPDATE, ("assessment_result", "value"), "87"),
        "assessment_result.value",
        id="numeric-as-string",
    ),
    pytest.param(
        _with(COMPLETED_UPDATE, ("metadata", 1, "value"), "true"), "metadata[1].value", id="boolean-as-string"
    ),
    pytest.param(_with(COMPLETED_UPDATE, ("assessment_result",), None), "assessment_result", id="null-data-point"),
    pytest.param(
        _with(STARTED_UPDATE, ("assessment_status", "identifier"), ""),
        "assessment_status.identifier",
        id="empty-identifier",
    ),
    pytest.param(_with(STARTED_UPDATE, ("assessment_status", "note"), "x"), "assessment_status.note", id="unknown-point-key"),
    pytest.param(_with(STARTED_UPDATE, ("metadata",), {"a": 1}), "metadata", id="metadata-not-list"),
]


@pytest.mark.parametrize(("body", "field"), BROKEN_UPDATES)
async def test_update_rejects_broken_body(
    client: httpx.AsyncClient, state: FakeAshbyState, body: dict[str, Any], field: str
) -> None:
    response = await _update(client, body)
    envelope = response.json()

    assert response.status_code == 200
    assert envelope["success"] is False
    assert envelope["errors"] == ["invalid_input"]
    assert envelope["errorInfo"]["code"] == "invalid_input"
    assert envelope["errorInfo"]["message"].startswith(f"{field}:")
    assert state.updates[-1].accepted is False
    assert state.updates[-1].error == envelope["errorInfo"]["message"]


async def test_update_rejects_non_json(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    headers = {**_basic(DEMO_API_KEY), "Content-Type": "application/json"}
    response = await client.post("/assessment.update", content=b"{not json", headers=headers)

    assert response.status_code == 200
    assert response.json()["errorInfo"]["code"] == "invalid_input"
    assert response.json()["errorInfo"]["message"].startswith("body:")
    assert state.updates[-1].accepted is False
    assert state.updates[-1].body == "{not json"


async def test_update_rejects_wrong_content_type(client: httpx.AsyncClient) -> None:
    headers = {**_basic(DEMO_API_KEY), "Content-Type": "text/plain"}
    response = await client.post("/assessment.update", content=b"{}", headers=headers)

    assert response.json()["errorInfo"]["code"] == "invalid_input"
    assert response.json()["errorInfo"]["message"].startswith("Content-Type:")


# Failure injection


async def test_failures_injected_count(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    state.inject_failures(2)

    first = await _update(client, STARTED_UPDATE)
    second = await _update(client, STARTED_UPDATE)
    third = await _update(client, STARTED_UPDATE)

    assert first.status_code == 500
    assert second.status_code == 500
    assert first.json()["success"] is False
    assert first.json()["errorInfo"]["code"] == "internal_server_error"
    assert third.status_code == 200
    assert [record.accepted for record in state.updates] == [False, False, True]
    assert state.pending_failures == 0


async def test_failures_429_retry_after(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    state.inject_failures(1, status=429, retry_after=2)

    response = await _update(client, STARTED_UPDATE)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.json()["errorInfo"]["code"] == "rate_limit_exceeded"


async def test_failures_500_has_no_retry_after(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    state.inject_failures(1, status=503, retry_after=2)

    response = await _update(client, STARTED_UPDATE)

    assert response.status_code == 503
    assert "Retry-After" not in response.headers


async def test_failures_rate_mixes_500_and_429(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    state.failure_rate = 0.5
    statuses = [(await _update(client, STARTED_UPDATE)).status_code for _ in range(60)]

    assert set(statuses) == {200, 429, 500}
    assert 10 < statuses.count(200) < 50


async def test_failures_rate_rejects_out_of_range(state: FakeAshbyState) -> None:
    with pytest.raises(ValueError, match="failure_rate must be a number from 0 to 1"):
        state.failure_rate = 1.5


async def test_failures_inject_rejects_success_status(state: FakeAshbyState) -> None:
    with pytest.raises(ValueError, match="status must be an HTTP error status"):
        state.inject_failures(1, status=200)


async def test_failures_endpoint_injects(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    response = await client.post("/_fake/failures", json={"count": 1, "status": 429, "retry_after": 0.5})
    failed = await _update(client, STARTED_UPDATE)

    assert response.status_code == 200
    assert response.json() == {"pending_failures": 1, "failure_rate": 0.0}
    assert failed.status_code == 429
    assert failed.headers["Retry-After"] == "0.5"


async def test_failures_endpoint_rejects_bad_count(client: httpx.AsyncClient) -> None:
    response = await client.post("/_fake/failures", json={"count": -1})

    assert response.status_code == 400
    assert "count" in response.json()["error"]


async def test_failures_endpoint_resets(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    state.inject_failures(3)
    state.failure_rate = 0.2

    response = await client.delete("/_fake/failures")

    assert response.json() == {"pending_failures": 0, "failure_rate": 0.0}
    assert state.failure_rate == 0.0


# Recorded updates


async def test_updates_endpoint_filters_by_assessment(client: httpx.AsyncClient) -> None:
    other = _with(STARTED_UPDATE, ("assessment_id",), "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d")
    await _update(client, STARTED_UPDATE)
    await _update(client, other)

    everything = (await client.get("/_fake/updates")).json()["updates"]
    filtered = (await client.get("/_fake/updates", params={"assessment_id": ASSESSMENT_ID})).json()["updates"]

    assert len(everything) == 2
    assert len(filtered) == 1
    assert filtered[0]["assessment_id"] == ASSESSMENT_ID
    assert filtered[0]["accepted"] is True
    assert filtered[0]["received_at"]


async def test_latest_ignores_older_timestamp(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    await _update(client, COMPLETED_UPDATE)
    await _update(client, STARTED_UPDATE)

    view = state.latest_by_assessment()[ASSESSMENT_ID]

    assert view.status["value"] == "Completed"
    assert view.result["value"] == 87
    assert view.profile_url["value"] == "https://acme.example/r/9d4e1c2a"
    assert view.timestamp == COMPLETED_UPDATE["timestamp"]
    assert view.applied_updates == 1


async def test_latest_merges_in_order(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    await _update(client, STARTED_UPDATE)
    await _update(client, COMPLETED_UPDATE)
    await _update(client, CANCELLED_UPDATE)

    view = state.latest_by_assessment()[ASSESSMENT_ID]

    assert view.status["value"] == "Completed"
    assert view.cancelled_reason["value"] == "Candidate withdrew"
    assert list(view.metadata) == ["time_limit", "max_score", "passed", "duration"]
    assert view.applied_updates == 3


async def test_latest_skips_rejected_updates(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    await _update(client, _with(STARTED_UPDATE, ("timestamp",), 1767225600))

    assert state.latest_by_assessment() == {}


async def test_assessments_endpoint_returns_views(client: httpx.AsyncClient) -> None:
    await _update(client, STARTED_UPDATE)

    response = await client.get("/_fake/assessments")

    assert response.json()["assessments"][ASSESSMENT_ID]["status"]["value"] == "Started"


# Calls from the fake to Langos


async def test_langos_list_sends_basic_auth(
    client: httpx.AsyncClient, state: FakeAshbyState, received: list[dict[str, Any]]
) -> None:
    response = await client.post("/_fake/langos/list")

    assert response.status_code == 200
    assert response.json()["status"] == 200
    assert response.json()["body"]["results"][0]["assessment_type_id"] == TYPE_ID
    assert received[0]["path"] == f"{WEBHOOK_PATH}/assessment.list"
    assert received[0]["body"] == {}
    assert received[0]["headers"]["authorization"] == _basic(LANGOS_KEY)["Authorization"]
    assert received[0]["headers"]["user-agent"] == "FakeAshby/1.0"
    assert received[0]["headers"]["content-type"] == "application/json"
    assert [item["assessment_type_id"] for item in state.assessment_types] == [TYPE_ID, SECOND_TYPE_ID]
    assert state.langos_calls[0].status == 200


async def test_langos_list_wrong_key(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    state.configure_langos(LANGOS_BASE, "langos_wrong_key")

    response = await client.post("/_fake/langos/list")

    assert response.json()["status"] == 401
    assert response.json()["ok"] is False
    assert "Unknown Langos API key." in response.json()["message"]
    assert state.assessment_types == []


async def test_langos_base_url_trailing_slash(
    client: httpx.AsyncClient, state: FakeAshbyState, received: list[dict[str, Any]]
) -> None:
    state.configure_langos(LANGOS_BASE + "/", LANGOS_KEY)

    response = await client.post("/_fake/langos/list")

    assert response.json()["status"] == 200
    assert received[0]["path"] == f"{WEBHOOK_PATH}/assessment.list"


async def test_langos_start_sends_contract_body(
    client: httpx.AsyncClient, received: list[dict[str, Any]]
) -> None:
    await _start_ada(client)
    body = received[0]["body"]

    assert received[0]["path"] == f"{WEBHOOK_PATH}/assessment.start"
    assert set(body) == {"assessment_type_id", "candidate", "application", "job"}
    assert body["assessment_type_id"] == TYPE_ID
    assert body["candidate"] == {
        "ashby_id": ADA_ID,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "ashby_profile_url": f"http://fake/#candidate-{ADA_ID}",
    }
    assert body["application"] == {"ashby_id": "3ae2b801-19f6-41ef-ad28-214bd731948f", "status": "Active"}
    assert body["job"]["name"] == "Backend Engineer"
    assert body["job"]["req_id"] == "ENG-142"
    assert body["job"]["ashby_job_url"].startswith("http://fake/")
    assert set(body["job"]["hiringTeam"][0]) == {"userId", "firstName", "lastName", "email", "role"}


async def test_langos_start_records_started(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    await client.post("/_fake/langos/list")
    result = await _start_ada(client)
    assessment_id = result["body"]["results"]["assessment_id"]

    assert result["status"] == 200
    assert result["ok"] is True
    assert state.started[0].assessment_id == assessment_id
    assert state.started[0].candidate_id == ADA_ID
    assert state.started[0].assessment_type_name == "Backend Python - 60 min"


async def test_langos_start_repeat_keeps_one_record(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    first = await _start_ada(client)
    second = await _start_ada(client)

    assert len(state.started) == 1
    assert len(state.langos_calls) == 2
    assert first["message"] == "Assessment started."
    assert second["message"] == "Langos returned the existing assessment, so no new one was started."


async def test_langos_start_records_inline_update(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    result = await _start_ada(client)
    assessment_id = result["body"]["results"]["assessment_id"]

    assert state.updates[0].source == "assessment.start reply"
    assert state.updates[0].accepted is True
    assert state.latest_by_assessment()[assessment_id].status["value"] == "Invited"


async def test_langos_start_without_email_shows_422(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    response = await client.post("/_fake/langos/start", json={"candidate": EDSGER_ID, "assessment_type_id": TYPE_ID})

    assert response.status_code == 200
    assert response.json()["status"] == 422
    assert response.json()["body"] == {"message": NO_EMAIL_MESSAGE}
    assert response.json()["message"] == NO_EMAIL_MESSAGE
    assert state.start_errors[EDSGER_ID] == NO_EMAIL_MESSAGE
    assert state.started == []


async def test_langos_start_by_index_and_plan_type(
    client: httpx.AsyncClient, state: FakeAshbyState, received: list[dict[str, Any]]
) -> None:
    state.plan_assessment_type_id = SECOND_TYPE_ID

    response = await client.post("/_fake/langos/start", json={"candidate": 1})

    assert response.json()["status"] == 200
    assert received[0]["body"]["candidate"]["first_name"] == "Grace"
    assert received[0]["body"]["assessment_type_id"] == SECOND_TYPE_ID


async def test_langos_start_candidate_override(
    client: httpx.AsyncClient, received: list[dict[str, Any]]
) -> None:
    candidate = {"ashby_id": "custom-1", "first_name": "Bob", "last_name": "Tables", "email": "", "extra": 1}

    response = await client.post("/_fake/langos/start", json={"candidate": candidate, "assessment_type_id": TYPE_ID})

    assert response.json()["status"] == 422
    assert received[0]["body"]["candidate"] == candidate
    assert received[0]["body"]["application"]["ashby_id"] != "3ae2b801-19f6-41ef-ad28-214bd731948f"


async def test_langos_start_unknown_candidate(client: httpx.AsyncClient) -> None:
    response = await client.post("/_fake/langos/start", json={"candidate": "nobody", "assessment_type_id": TYPE_ID})

    assert response.status_code == 404
    assert response.json()["error"].startswith("candidate:")


async def test_langos_start_needs_type(client: httpx.AsyncClient) -> None:
    response = await client.post("/_fake/langos/start", json={"candidate": ADA_ID})

    assert response.status_code == 400
    assert response.json()["error"].startswith("assessment_type_id:")


async def test_langos_cancel_marks_cancelled(
    client: httpx.AsyncClient, state: FakeAshbyState, received: list[dict[str, Any]]
) -> None:
    assessment_id = (await _start_ada(client))["body"]["results"]["assessment_id"]

    response = await client.post("/_fake/langos/cancel", json={"assessment_id": assessment_id})

    assert response.json()["status"] == 200
    assert received[-1]["path"] == f"{WEBHOOK_PATH}/assessment.cancel"
    assert received[-1]["body"] == {"assessment_id": assessment_id}
    assert state.started[0].cancelled_at is not None


async def test_langos_down_returns_502() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    app = create_fake_ashby(
        langos_base_url=LANGOS_BASE, langos_api_key=LANGOS_KEY, langos_transport=httpx.MockTransport(refuse)
    )
    async with _client(app) as client:
        response = await client.post("/_fake/langos/list")
        page = await _save_and_test(client, follow_redirects=True)

    assert response.status_code == 502
    assert response.json()["status"] is None
    assert f"Could not reach Langos at {LANGOS_BASE}/assessment.list" in response.json()["error"]
    assert page.status_code == 200
    assert "Settings saved, but the test failed. Could not reach Langos" in page.text
    assert LANGOS_KEY not in response.text
    assert LANGOS_KEY not in page.text


async def test_langos_not_configured_409() -> None:
    async with _client(create_fake_ashby()) as client:
        response = await client.post("/_fake/langos/list")

    assert response.status_code == 409
    assert "base URL and API key" in response.json()["error"]


async def test_langos_config_sets_connection(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    response = await client.post("/_fake/langos/config", json={"base_url": "http://127.0.0.1:9000/x", "api_key": "k2"})

    assert response.json() == {
        "base_url": "http://127.0.0.1:9000/x",
        "api_key_set": True,
        "custom_fields_enabled": False,
        "custom_fields": [],
    }
    assert state.langos_base_url == "http://127.0.0.1:9000/x"
    assert state.langos_api_key == "k2"


async def test_langos_config_rejects_relative_url(client: httpx.AsyncClient) -> None:
    response = await client.post("/_fake/langos/config", json={"base_url": "/ashby", "api_key": "k2"})

    assert response.status_code == 400
    assert response.json()["error"].startswith("base_url:")


async def test_langos_lifespan_shares_client(fake_app: Starlette, received: list[dict[str, Any]]) -> None:
    async with fake_app.router.lifespan_context(fake_app):
        async with _client(fake_app) as client:
            first = await client.post("/_fake/langos/list")
            second = await client.post("/_fake/langos/list")

    assert first.json()["status"] == 200
    assert second.json()["status"] == 200
    assert len(received) == 2


# Recruiter page


def _activity_html(page: str, assessment_id: str) -> str:
    """Return the HTML from one assessment's activity card to the end of its candidate."""
    start = page.index(f'id="assessment-{assessment_id}"')
    ends = [page.find(marker, start) for marker in ('<div class="candidate"', "</section>")]
    return page[start:min(end for end in ends if end != -1)]


async def test_page_lists_candidates(client: httpx.AsyncClient) -> None:
    response = await client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Ada Lovelace" in response.text
    assert "Grace Hopper" in response.text
    assert "Alan Turing" in response.text
    assert "No email address" in response.text
    assert "Langos integration settings" in response.text
    assert LANGOS_KEY not in response.text


async def test_page_settings_form_before_setup() -> None:
    async with _client(create_fake_ashby()) as client:
        response = await client.get("/")

    assert 'placeholder="http://127.0.0.1:8000/api/ats/webhook"' in response.text
    assert "/ashby" not in response.text
    assert "Save and test</button>" in response.text
    assert "disabled" not in response.text


async def test_page_save_and_test_loads_types(
    client: httpx.AsyncClient, state: FakeAshbyState, received: list[dict[str, Any]]
) -> None:
    response = await client.post(
        "/ui/config", data={"base_url": LANGOS_BASE + "/", "api_key": LANGOS_KEY}, follow_redirects=True
    )

    assert response.status_code == 200
    assert 'class="notice success"' in response.text
    assert "Settings saved. Connected to Langos: 2 assessment type(s)." in response.text
    assert "Backend Python - 60 min" in response.text
    assert state.langos_base_url == LANGOS_BASE + "/"
    assert [request["method"] for request in received] == ["assessment.list"]
    assert received[0]["path"] == f"{WEBHOOK_PATH}/assessment.list"


async def test_page_save_and_test_redirects(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    response = await client.post("/ui/config", data={"base_url": LANGOS_BASE, "api_key": "new_key"})

    assert response.status_code == 303
    assert response.headers["location"].startswith("http://fake/?notice=")
    assert state.langos_base_url == LANGOS_BASE
    assert state.langos_api_key == "new_key"


async def test_page_save_and_test_keeps_saved_key(
    client: httpx.AsyncClient, state: FakeAshbyState, received: list[dict[str, Any]]
) -> None:
    await _save_and_test(client)

    assert state.langos_api_key == LANGOS_KEY
    assert received[0]["headers"]["authorization"] == _basic(LANGOS_KEY)["Authorization"]


async def test_page_save_and_test_rejected_key(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    response = await _save_and_test(client, "langos_wrong_key", follow_redirects=True)

    assert 'class="notice error"' in response.text
    assert "Settings saved, but the test failed." in response.text
    assert "Unknown Langos API key." in response.text
    assert state.langos_api_key == "langos_wrong_key"
    assert state.assessment_types == []


async def test_page_save_and_test_rejects_bad_url(
    client: httpx.AsyncClient, state: FakeAshbyState, received: list[dict[str, Any]]
) -> None:
    response = await client.post("/ui/config", data={"base_url": "langos", "api_key": "k"}, follow_redirects=True)

    assert "Base URL: expected an absolute http(s) URL" in response.text
    assert state.langos_base_url == LANGOS_BASE
    assert state.langos_api_key == LANGOS_KEY
    assert received == []


async def test_page_save_and_test_needs_key() -> None:
    async with _client(create_fake_ashby()) as client:
        response = await client.post("/ui/config", data={"base_url": LANGOS_BASE, "api_key": ""}, follow_redirects=True)

    assert "API key: paste the API key that Langos issued." in response.text
    assert 'class="notice error"' in response.text


async def test_page_plan_uses_type(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    before = await _save_and_test(client, follow_redirects=True)

    response = await client.post("/ui/plan", data={"assessment_type_id": SECOND_TYPE_ID}, follow_redirects=True)
    plan = response.text[response.text.index('id="plan"'):response.text.index('id="candidates"')]

    assert before.text.count("Use in plan</button>") == 2
    assert "No Langos assessment type on the plan yet." in before.text
    assert state.plan_assessment_type_id == SECOND_TYPE_ID
    assert "The interview plan now uses SQL basics. Start Assessment preselects it." in response.text
    assert "Assessment stage uses <strong>SQL basics</strong>" in plan
    assert plan.count("Use in plan</button>") == 1
    assert plan.count("In plan</span>") == 1
    assert plan.index("Backend Python - 60 min") < plan.index("Use in plan") < plan.index("SQL basics</td>")
    assert f'<option value="{SECOND_TYPE_ID}" selected>' in response.text


async def test_page_plan_rejects_unknown_type(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    await _save_and_test(client)

    response = await client.post("/ui/plan", data={"assessment_type_id": "nope"}, follow_redirects=True)

    assert "Pick an assessment type from the list that Langos returned." in response.text
    assert state.plan_assessment_type_id is None


async def test_page_start_shows_activity(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    await _save_and_test(client)
    started = await client.post("/ui/start", data={"candidate_id": ADA_ID, "assessment_type_id": TYPE_ID})
    assessment_id = state.started[0].assessment_id
    completed = _with(COMPLETED_UPDATE, ("assessment_id",), assessment_id)
    await _update(client, completed)

    page = await client.get("/")

    assert started.status_code == 303
    assert started.headers["location"].endswith(f"#candidate-{ADA_ID}")
    assert f'id="assessment-{assessment_id}"' in page.text
    assert "Completed" in page.text
    assert "87" in page.text
    assert "Max score" in page.text
    assert 'href="https://acme.example/r/9d4e1c2a"' in page.text
    assert "View in Langos" in page.text


async def test_page_invited_waits_for_candidate(received: list[dict[str, Any]]) -> None:
    app = create_fake_ashby(
        langos_base_url=LANGOS_BASE,
        langos_api_key=LANGOS_KEY,
        langos_transport=httpx.ASGITransport(app=_langos_stub(received, inline_update=False)),
    )
    async with _client(app) as client:
        await _save_and_test(client)
        response = await client.post(
            "/ui/start", data={"candidate_id": ADA_ID, "assessment_type_id": TYPE_ID}, follow_redirects=True
        )

    assert "Assessment started." in response.text
    assert "Invited — waiting for the candidate to start" in response.text
    assert "Waiting for Langos" not in response.text


async def test_page_repeat_start_reports_existing(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    await _save_and_test(client)
    form = {"candidate_id": ADA_ID, "assessment_type_id": TYPE_ID}

    first = await client.post("/ui/start", data=form, follow_redirects=True)
    second = await client.post("/ui/start", data=form, follow_redirects=True)

    assert "Assessment started." in first.text
    assert "Langos returned the existing assessment, so no new one was started." in second.text
    assert "Assessment started." not in second.text
    assert len(state.started) == 1


async def test_langos_start_repeat_after_cancel_says_cancelled(client: httpx.AsyncClient) -> None:
    assessment_id = (await _start_ada(client))["body"]["results"]["assessment_id"]
    await client.post("/_fake/langos/cancel", json={"assessment_id": assessment_id})

    repeated = await _start_ada(client)

    assert repeated["ok"] is True
    assert repeated["message"] == "Langos returned the existing assessment, which was cancelled in Ashby."


async def test_page_start_shows_422_message(client: httpx.AsyncClient) -> None:
    await _save_and_test(client)

    response = await client.post(
        "/ui/start", data={"candidate_id": EDSGER_ID, "assessment_type_id": TYPE_ID}, follow_redirects=True
    )

    assert response.text.count(NO_EMAIL_MESSAGE) == 2


async def test_page_cancel_marks_activity(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    await _save_and_test(client)
    await client.post("/ui/start", data={"candidate_id": ADA_ID, "assessment_type_id": TYPE_ID})
    assessment_id = state.started[0].assessment_id

    response = await client.post("/ui/cancel", data={"assessment_id": assessment_id}, follow_redirects=True)
    card = _activity_html(response.text, assessment_id)

    assert "Assessment cancelled." in response.text
    assert "Cancelled in Ashby" in card
    assert "<dd>Cancelled</dd>" in card
    assert "<dd>Invited</dd>" not in card
    assert "Cancel</button>" not in card
    assert state.started[0].cancelled_at is not None


async def test_page_cancel_after_start_hides_status(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    await _save_and_test(client)
    await client.post("/ui/start", data={"candidate_id": ADA_ID, "assessment_type_id": TYPE_ID})
    assessment_id = state.started[0].assessment_id
    started_update = _with(STARTED_UPDATE, ("assessment_id",), assessment_id)
    await _update(client, _with(started_update, ("timestamp",), STARTED_UPDATE["timestamp"] + 60_000))
    before = _activity_html((await client.get("/")).text, assessment_id)

    await client.post("/ui/cancel", data={"assessment_id": assessment_id})
    card = _activity_html((await client.get("/")).text, assessment_id)

    assert "<dd>Started</dd>" in before
    assert "Cancel</button>" in before
    assert "Cancelled in Ashby" in card
    assert "<dd>Cancelled</dd>" in card
    assert "Started" not in card
    assert "Time limit" in card


async def test_page_shows_cancelled_reason(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    await _save_and_test(client)
    await client.post("/ui/start", data={"candidate_id": ADA_ID, "assessment_type_id": TYPE_ID})
    assessment_id = state.started[0].assessment_id
    await _update(client, _with(CANCELLED_UPDATE, ("assessment_id",), assessment_id))

    page = await client.get("/")
    card = _activity_html(page.text, assessment_id)

    assert "Candidate withdrew" in card
    assert '<span class="badge error">Cancelled</span>' in card
    assert "<dd>Cancelled</dd>" in card
    assert "Invited" not in card
    assert "Cancel</button>" not in card


async def test_page_shows_rejected_update(client: httpx.AsyncClient) -> None:
    await _update(client, _without(STARTED_UPDATE, "timestamp"))

    page = await client.get("/")

    assert "Langos → Ashby assessment.update" in page.text
    assert "rejected: timestamp: missing." in page.text


async def test_page_traffic_lists_key_checks(client: httpx.AsyncClient) -> None:
    await client.post("/apiKey.info", json={}, headers=_basic(DEMO_API_KEY))
    await client.post("/apiKey.info", json={}, headers=_basic("ashby_wrong_key"))

    page = await client.get("/")
    traffic = page.text[page.text.index('id="log"'):]

    assert traffic.count("Langos → Ashby apiKey.info") == 2
    assert "HTTP 200, key “Langos demo key”" in traffic
    assert "HTTP 403, The API key is invalid or has been deactivated." in traffic
    assert traffic.index("HTTP 403") < traffic.index("HTTP 200")
    assert DEMO_API_KEY not in page.text
    assert "ashby_wrong_key" not in page.text


async def test_page_escapes_langos_data(received: list[dict[str, Any]]) -> None:
    types = [{"assessment_type_id": TYPE_ID, "name": "<script>alert(1)</script>", "description": "a & b"}]
    app = create_fake_ashby(
        langos_base_url=LANGOS_BASE,
        langos_api_key=LANGOS_KEY,
        langos_transport=httpx.ASGITransport(app=_langos_stub(received, types)),
    )
    async with _client(app) as client:
        page = await _save_and_test(client, follow_redirects=True)

    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "a &amp; b" in page.text


@pytest.mark.parametrize("agent", ["", "python-httpx/0.28.1", "Python-urllib/3.11"])
async def test_api_rejects_library_user_agent(agent: str) -> None:
    app = create_fake_ashby()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fake") as client:
        response = await client.post(
            "/apiKey.info", json={}, auth=("ashby_demo_key_0123456789", ""), headers={"User-Agent": agent}
        )
    assert response.status_code == 403
    assert "1010" in response.json()["errorInfo"]["message"]


# Refreshing the assessment types


def _scripted_langos(replies: list[httpx.Response | Exception]) -> httpx.MockTransport:
    """Build a Langos stand-in that returns the next entry of ``replies`` for each call.

    An entry that is an exception is raised, as a network error would be.
    """

    def handle(request: httpx.Request) -> httpx.Response:
        reply = replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    return httpx.MockTransport(handle)


def _list_reply(*names: str) -> httpx.Response:
    types = [{"assessment_type_id": f"type-{name}", "name": name} for name in names]
    return httpx.Response(200, json={"success": True, "results": types})


def _plan_html(page: str) -> str:
    return page[page.index('id="plan"'):page.index('id="candidates"')]


def _candidate_html(page: str, candidate_id: str) -> str:
    start = page.index(f'id="candidate-{candidate_id}"')
    end = page.find('class="candidate"', start)
    return page[start:end if end != -1 else page.index('id="log"')]


async def test_page_refresh_loads_current_types(received: list[dict[str, Any]]) -> None:
    types = [
        {"assessment_type_id": TYPE_ID, "name": "Backend Python - 60 min"},
        {"assessment_type_id": SECOND_TYPE_ID, "name": "SQL basics"},
    ]
    app = create_fake_ashby(
        langos_base_url=LANGOS_BASE,
        langos_api_key=LANGOS_KEY,
        langos_transport=httpx.ASGITransport(app=_langos_stub(received, types)),
    )
    state: FakeAshbyState = app.state.fake
    async with _client(app) as client:
        await _save_and_test(client)
        await client.post("/ui/plan", data={"assessment_type_id": SECOND_TYPE_ID})
        # Langos retires SQL basics, renames the Python type and adds a new one.
        types[:] = [
            {"assessment_type_id": TYPE_ID, "name": "Backend Python - 90 min"},
            {"assessment_type_id": "new-type", "name": "Go concurrency"},
        ]
        page = await client.get("/ui/types/refresh", follow_redirects=True)

    plan = _plan_html(page.text)
    assert [request["method"] for request in received] == ["assessment.list", "assessment.list"]
    assert 'class="notice success"' in page.text
    assert "Assessment types refreshed. Connected to Langos: 2 assessment type(s)." in page.text
    assert "Backend Python - 90 min" in plan
    assert "Go concurrency" in plan
    assert "SQL basics" not in page.text
    assert "Backend Python - 60 min" not in page.text
    assert state.plan_assessment_type_id is None
    assert "No Langos assessment type on the plan yet." in plan


async def test_page_refresh_failure_keeps_list() -> None:
    replies: list[httpx.Response | Exception] = [
        _list_reply("Python", "SQL"),
        httpx.Response(500, json={"success": False, "errorInfo": {"code": "x", "message": "Database down."}}),
    ]
    app = create_fake_ashby(
        langos_base_url=LANGOS_BASE, langos_api_key=LANGOS_KEY, langos_transport=_scripted_langos(replies)
    )
    async with _client(app) as client:
        await _save_and_test(client)
        page = await client.get("/ui/types/refresh", follow_redirects=True)

    assert 'class="notice error"' in page.text
    assert "Could not refresh the assessment types." in page.text
    assert "HTTP 500, Database down." in page.text
    assert "The page still shows the 2 type(s) from the last successful call." in page.text
    assert [item["name"] for item in app.state.fake.assessment_types] == ["Python", "SQL"]
    assert "Use in plan" in _plan_html(page.text)


async def test_page_refresh_links_follow_setup(client: httpx.AsyncClient) -> None:
    async with _client(create_fake_ashby()) as unset:
        before = await unset.get("/")
        refused = await unset.get("/ui/types/refresh", follow_redirects=True)
    configured = await client.get("/")

    header = before.text[before.text.index("<header>"):before.text.index("</header>")]
    assert 'href="http://fake/">Refresh</a>' in header
    assert "Refresh assessment types" not in before.text
    assert "The Langos connection is not set up" in refused.text
    assert 'href="http://fake/ui/types/refresh">Refresh</a>' in configured.text
    assert 'href="http://fake/ui/types/refresh">Refresh assessment types</a>' in configured.text


# Failure messages of assessment.list, by cause


@pytest.mark.parametrize(
    ("reply", "expected", "wrong_hint"),
    [
        (
            httpx.Response(401, json={"success": False, "errorInfo": {"code": "k", "message": "Unknown key."}}),
            "Langos rejected the API key: HTTP 401, Unknown key. Check the Langos API key",
            "base URL",
        ),
        (
            httpx.Response(403, json={"success": False, "errorInfo": {"code": "k", "message": "Revoked."}}),
            "Langos rejected the API key: HTTP 403, Revoked. Check the Langos API key",
            "base URL",
        ),
        (
            httpx.Response(404, text="Not Found"),
            f"Nothing answered at {LANGOS_BASE}/assessment.list (HTTP 404). "
            "Check the base URL: it should end in /api/ats/webhook.",
            "API key",
        ),
        (
            httpx.Response(200, text="<html>Welcome</html>"),
            "is not an assessment.list reply with success true and a results list. Check the base URL",
            "API key",
        ),
        (
            httpx.Response(503, text="Service Unavailable"),
            "Langos could not list its assessment types: HTTP 503. Check the Langos server log",
            "API key",
        ),
        (
            httpx.ConnectError("Connection refused"),
            f"Could not reach Langos at {LANGOS_BASE}/assessment.list: ConnectError: Connection refused. "
            "Check that Langos is running and that the base URL's host and port are correct.",
            "API key",
        ),
    ],
    ids=["401", "403", "404", "not-a-list-reply", "503", "unreachable"],
)
async def test_list_failure_names_cause(reply: httpx.Response | Exception, expected: str, wrong_hint: str) -> None:
    app = create_fake_ashby(
        langos_base_url=LANGOS_BASE, langos_api_key=LANGOS_KEY, langos_transport=_scripted_langos([reply])
    )
    async with _client(app) as client:
        response = await client.post("/_fake/langos/list")

    message = response.json()["message"]
    assert response.json()["ok"] is False
    assert expected in message
    assert wrong_hint not in message
    assert "key test" not in message
    assert LANGOS_KEY not in message


async def test_page_save_and_test_wrong_path() -> None:
    replies: list[httpx.Response | Exception] = [httpx.Response(404, text="Not Found")]
    app = create_fake_ashby(langos_transport=_scripted_langos(replies))
    async with _client(app) as client:
        page = await client.post(
            "/ui/config", data={"base_url": "http://langos/api/ats", "api_key": LANGOS_KEY}, follow_redirects=True
        )

    assert 'class="notice error"' in page.text
    assert (
        "Settings saved, but the test failed. Nothing answered at http://langos/api/ats/assessment.list "
        "(HTTP 404). Check the base URL: it should end in /api/ats/webhook."
    ) in page.text
    assert "rejected" not in page.text


# Start Assessment keeps the entered values after an error


async def test_page_start_error_keeps_selection(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    await _save_and_test(client)

    failed = await client.post(
        "/ui/start", data={"candidate_id": EDSGER_ID, "assessment_type_id": SECOND_TYPE_ID}, follow_redirects=True
    )
    edsger = _candidate_html(failed.text, EDSGER_ID)
    ada = _candidate_html(failed.text, ADA_ID)

    assert NO_EMAIL_MESSAGE in edsger
    assert f'<option value="{SECOND_TYPE_ID}" selected>' in edsger
    assert f'<option value="{TYPE_ID}">' in edsger
    assert " selected>" not in ada
    assert state.start_drafts[EDSGER_ID] == {"assessment_type_id": SECOND_TYPE_ID}


async def test_page_start_success_clears_draft(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    await _save_and_test(client)
    form = {"candidate_id": ADA_ID, "assessment_type_id": SECOND_TYPE_ID}
    state.start_drafts[ADA_ID] = {"assessment_type_id": TYPE_ID}

    page = await client.post("/ui/start", data=form, follow_redirects=True)

    assert "Assessment started." in page.text
    assert ADA_ID not in state.start_drafts
    assert " selected>" not in _candidate_html(page.text, ADA_ID).split("</select>")[0]


async def test_page_start_error_keeps_custom_fields(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    await client.post("/ui/config", data={"base_url": LANGOS_BASE, "api_key": "", "custom_fields": "on"})
    form = {
        "candidate_id": ADA_ID,
        "assessment_type_id": SECOND_TYPE_ID,
        "field.expiry_days": "",
        "field.email_language": "de",
        "field.note": "Good <luck>",
    }

    page = await client.post("/ui/start", data=form, follow_redirects=True)
    ada = _candidate_html(page.text, ADA_ID)

    assert "Fill in the required field Days until the invitation expires." in page.text
    assert f'<option value="{SECOND_TYPE_ID}" selected>' in ada
    assert '<option value="de" selected>German</option>' in ada
    assert '<option value="en">English</option>' in ada
    assert 'name="field.note" value="Good &lt;luck&gt;"' in ada
    assert 'name="field.expiry_days" type="number" step="any" style="width: 6em" value=""' in ada
    assert state.started == []


async def test_page_start_retired_draft_type_uses_plan(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    await _save_and_test(client)
    await client.post("/ui/plan", data={"assessment_type_id": SECOND_TYPE_ID})
    state.start_drafts[ADA_ID] = {"assessment_type_id": "retired-type"}

    page = await client.get("/")

    assert f'<option value="{SECOND_TYPE_ID}" selected>' in _candidate_html(page.text, ADA_ID)


# JSON controls for custom fields


async def test_langos_config_custom_fields_loads(client: httpx.AsyncClient, state: FakeAshbyState) -> None:
    enabled = await client.post("/_fake/langos/config", json={"custom_fields": True})
    disabled = await client.post("/_fake/langos/config", json={"custom_fields": False})

    assert enabled.status_code == 200
    assert enabled.json()["custom_fields_enabled"] is True
    assert enabled.json()["custom_fields"] == CUSTOM_FIELDS
    assert "custom_fields_error" not in enabled.json()
    assert disabled.json()["custom_fields_enabled"] is False
    assert disabled.json()["custom_fields"] == []
    assert state.custom_fields_enabled is False
    assert state.custom_fields == []


async def test_langos_config_custom_fields_error() -> None:
    replies: list[httpx.Response | Exception] = [httpx.Response(404, text="Not Found")]
    app = create_fake_ashby(
        langos_base_url=LANGOS_BASE, langos_api_key=LANGOS_KEY, langos_transport=_scripted_langos(replies)
    )
    async with _client(app) as client:
        response = await client.post("/_fake/langos/config", json={"custom_fields": True})

    assert response.status_code == 200
    assert response.json()["custom_fields_enabled"] is True
    assert response.json()["custom_fields"] == []
    assert response.json()["custom_fields_error"] == "Langos did not list its custom fields: HTTP 404"


async def test_langos_config_rejects_bad_custom_fields(
    client: httpx.AsyncClient, state: FakeAshbyState, received: list[dict[str, Any]]
) -> None:
    response = await client.post(
        "/_fake/langos/config", json={"base_url": "http://127.0.0.1:9000/x", "custom_fields": "yes"}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "custom_fields: expected true or false, got 'yes'"
    assert state.langos_base_url == LANGOS_BASE
    assert state.custom_fields_enabled is False
    assert received == []


async def test_langos_start_sends_additional_fields(client: httpx.AsyncClient, received: list[dict[str, Any]]) -> None:
    fields = {"expiry_days": 9, "email_language": "xx"}

    response = await client.post(
        "/_fake/langos/start",
        json={"candidate": ADA_ID, "assessment_type_id": TYPE_ID, "additional_fields": fields},
    )

    assert response.status_code == 200
    assert received[-1]["body"]["additional_fields"] == fields


async def test_langos_start_omits_absent_fields(client: httpx.AsyncClient, received: list[dict[str, Any]]) -> None:
    await _start_ada(client)

    assert "additional_fields" not in received[-1]["body"]


@pytest.mark.parametrize("value", [None, "x", [{"id": "expiry_days", "value": 9}]])
async def test_langos_start_rejects_bad_additional_fields(
    client: httpx.AsyncClient, received: list[dict[str, Any]], value: Any
) -> None:
    response = await client.post(
        "/_fake/langos/start", json={"candidate": ADA_ID, "assessment_type_id": TYPE_ID, "additional_fields": value}
    )

    assert response.status_code == 400
    assert response.json()["error"].startswith("additional_fields: expected an object")
    assert received == []
