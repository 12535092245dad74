"""Property-based fuzzing of the Ashby connector's inbound routes with a valid key.

Hypothesis generates JSON bodies that mix the real field names with random keys and
values of every JSON type, and raw bodies that are not JSON at all. The app runs in
process through ``httpx.ASGITransport``, on one event loop per test function.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core import integrations
from core.host import RateLimiter
from core.models import Assessment, Integration
from tests.helpers_web import BACKEND_TYPE, BASE_URL, build_app, seed_workspace, type_id

WEBHOOK = "/api/ats/webhook"
METHODS = ("assessment.start", "assessment.cancel", "assessment.list")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class FuzzTarget:
    """The app with a connected Ashby and an ATS key, driven from synchronous code."""

    def __init__(self, tmp_path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.resources = contextlib.AsyncExitStack()
        self.app = build_app(tmp_path)
        self.run(self._open())

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    async def _open(self) -> None:
        await self.resources.enter_async_context(self.app.router.lifespan_context(self.app))
        host = self.app.state.host
        host.rate_limiter = RateLimiter(10**9)
        seeded = await seed_workspace(self.app)
        async with host.session() as session:
            integration = await session.get(Integration, seeded.integration_id)
            issued = await integrations.issue_key(host, session, integration, actor="fuzz")
            await session.commit()
        self.key = issued.key.reveal()
        self.type_id = await type_id(self.app, seeded.workspace_id, BACKEND_TYPE)
        self.client = await self.resources.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app, raise_app_exceptions=False), base_url=BASE_URL)
        )
        started = await self._post("assessment.start", json.dumps(valid_start(self.type_id)).encode())
        self.assessment_id = started.json()["results"]["assessment_id"]

    async def _post(self, method: str, content: bytes) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        return await self.client.post(f"{WEBHOOK}/{method}", content=content, headers=headers)

    def post(self, method: str, content: bytes) -> httpx.Response:
        return self.run(self._post(method, content))

    async def _count(self) -> int:
        async with self.app.state.host.session() as session:
            return await session.scalar(select(func.count()).select_from(Assessment)) or 0

    def count(self) -> int:
        return self.run(self._count())

    def close(self) -> None:
        try:
            self.run(self.resources.aclose())
        finally:
            self.loop.close()


@pytest.fixture
def target(tmp_path: Path) -> Iterator[FuzzTarget]:
    fuzz = FuzzTarget(tmp_path)
    try:
        yield fuzz
    finally:
        fuzz.close()


def valid_start(type_id: str) -> dict[str, Any]:
    return {
        "assessment_type_id": type_id,
        "candidate": {"ashby_id": str(uuid.uuid4()), "first_name": "Ada", "last_name": "Lovelace",
                      "email": "ada@example.com"},
        "application": {"ashby_id": str(uuid.uuid4())},
        "job": {"ashby_id": str(uuid.uuid4()), "name": "Backend Engineer"},
    }


# ---- strategies ------------------------------------------------------------------------

LONE_SURROGATES = st.sampled_from(["\ud800", "x\udfffy", "\udbff\udbff"])
TEXT = st.one_of(
    st.text(max_size=40),
    st.text(min_size=200, max_size=5000),
    st.text(alphabet=st.characters(min_codepoint=0x80), max_size=100),
    LONE_SURROGATES,
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(),
    TEXT,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(TEXT, children, max_size=5),
    max_leaves=40,
)
NOT_SET = object()


def field(real: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's value: mostly a plausible one, else any JSON value or no field at all."""
    return st.one_of(real, real, real, real, real, JSON_VALUES, st.just(NOT_SET))


def shaped(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the given fields, some left out, and random extra keys."""

    def build(values: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
        return {**extra, **{name: value for name, value in values.items() if value is not NOT_SET}}

    return st.builds(build, st.fixed_dictionaries({name: field(s) for name, s in fields.items()}),
                     st.dictionaries(TEXT, JSON_VALUES, max_size=3))


IDS = st.one_of(st.uuids().map(str), TEXT)
EMAILS = st.one_of(st.just("ada@example.com"), st.just("ada@example.com"), st.emails(), TEXT)
CANDIDATE = shaped({"ashby_id": IDS, "first_name": TEXT, "last_name": TEXT, "email": EMAILS,
                    "ashby_profile_url": TEXT})
APPLICATION = shaped({"ashby_id": IDS, "status": TEXT})
JOB = shaped({"ashby_id": IDS, "name": TEXT, "req_id": TEXT, "ashby_job_url": TEXT})


def start_bodies(type_ids: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    return shaped({
        "assessment_type_id": st.one_of(type_ids, IDS),
        "candidate": CANDIDATE,
        "application": APPLICATION,
        "job": JOB,
        "additional_fields": st.dictionaries(TEXT, JSON_VALUES, max_size=4),
    })


def encode(body: Any, ascii_only: bool) -> bytes:
    # allow_nan: Python's json module reads NaN and Infinity, so a client can send them.
    return json.dumps(body, ensure_ascii=ascii_only, allow_nan=True).encode("utf-8", "surrogatepass")


def truncated(body: Any, cut: float) -> bytes:
    raw = json.dumps(body).encode()
    return raw[: int(len(raw) * cut)]


RAW_BODIES = st.one_of(
    st.binary(max_size=500),
    st.binary(max_size=50).map(lambda noise: b'{"assessment_id": "' + noise + b'"}'),
    st.sampled_from([b"\xff\xfe{}", b'{"a": "\xc3"}', b"\xed\xa0\x80", b"null", b"[]", b'"x"', b"0", b"NaN", b"{", b" "]),
    st.builds(truncated, JSON_VALUES, st.floats(min_value=0, max_value=1)),
)


def assert_json_reply(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    response.json()


def assert_start_property(target: FuzzTarget, content: bytes) -> None:
    before = target.count()
    response = target.post("assessment.start", content)
    event(f"status {response.status_code}")
    assert_json_reply(response)
    if response.is_success:
        assert str(uuid.UUID(response.json()["results"]["assessment_id"])) == response.json()["results"]["assessment_id"]
    else:
        assert target.count() == before


# ---- the properties --------------------------------------------------------------------


@FUZZ
@given(data=st.data(), ascii_only=st.booleans())
def test_start_json_is_never_5xx(target: FuzzTarget, data: st.DataObject, ascii_only: bool) -> None:
    body = data.draw(start_bodies(st.just(target.type_id)))
    assert_start_property(target, encode(body, ascii_only))


START_FIELDS = [
    ("assessment_type_id",), ("candidate",), ("candidate", "ashby_id"), ("candidate", "first_name"),
    ("candidate", "last_name"), ("candidate", "email"), ("candidate", "ashby_profile_url"), ("application",),
    ("application", "ashby_id"), ("application", "status"), ("job",), ("job", "name"), ("job", "ashby_id"),
    ("additional_fields",), ("extra key",),
]


@FUZZ
@given(path=st.sampled_from(START_FIELDS), value=st.one_of(TEXT, JSON_VALUES), ascii_only=st.booleans())
def test_start_one_fuzzed_field_is_never_5xx(target: FuzzTarget, path: tuple[str, ...], value: Any,
                                             ascii_only: bool) -> None:
    body = valid_start(target.type_id)
    parent = body
    for name in path[:-1]:
        parent = parent[name]
    parent[path[-1]] = value
    assert_start_property(target, encode(body, ascii_only))


@FUZZ
@given(body=JSON_VALUES, ascii_only=st.booleans())
def test_start_any_json_is_never_5xx(target: FuzzTarget, body: Any, ascii_only: bool) -> None:
    assert_start_property(target, encode(body, ascii_only))


@FUZZ
@given(content=RAW_BODIES)
def test_start_raw_body_is_never_5xx(target: FuzzTarget, content: bytes) -> None:
    assert_start_property(target, content)


@FUZZ
@given(data=st.data(), ascii_only=st.booleans())
def test_cancel_json_is_never_5xx(target: FuzzTarget, data: st.DataObject, ascii_only: bool) -> None:
    body = data.draw(st.one_of(
        shaped({"assessment_id": st.one_of(st.just(target.assessment_id), IDS)}),
        JSON_VALUES,
    ))
    before = target.count()
    response = target.post("assessment.cancel", encode(body, ascii_only))
    assert_json_reply(response)
    assert target.count() == before


@FUZZ
@given(method=st.sampled_from(("assessment.cancel", "assessment.list")), content=RAW_BODIES)
def test_raw_body_is_never_5xx(target: FuzzTarget, method: str, content: bytes) -> None:
    assert_json_reply(target.post(method, content))


@FUZZ
@given(body=JSON_VALUES, ascii_only=st.booleans())
def test_list_json_is_never_5xx(target: FuzzTarget, body: Any, ascii_only: bool) -> None:
    response = target.post("assessment.list", encode(body, ascii_only))
    assert_json_reply(response)
    if response.is_success:
        assert target.type_id in [item["assessment_type_id"] for item in response.json()["results"]]


# 60,000 bytes: under the 64 KiB body limit, so the body reaches the JSON parser.
DEEP = b"[" * 30_000 + b"]" * 30_000


@pytest.mark.parametrize("method", METHODS)
def test_deeply_nested_body_is_not_5xx(target: FuzzTarget, method: str) -> None:
    response = target.post(method, DEEP)
    assert response.status_code == 400


def test_start_with_lone_surrogate_name_is_422(target: FuzzTarget) -> None:
    body = valid_start(target.type_id)
    body["candidate"]["first_name"] = "\ud800"
    before = target.count()
    response = target.post("assessment.start", encode(body, True))
    assert response.status_code == 422
    assert "candidate.first_name" in response.json()["message"]
    assert target.count() == before
