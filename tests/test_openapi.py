"""The OpenAPI descriptions in docs/openapi: valid, complete, and true to the replies the code sends."""

from __future__ import annotations

import dataclasses
import types
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Iterable

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from openapi_spec_validator import validate
from starlette.routing import Route

from connectors.ashby import payloads
from connectors.ashby.routes import build_routes
from core import integrations
from core.models import Integration
from core.web import engine_api
from tests.helpers_web import Web, open_web, order_assessment, type_id
from tests.test_connector_ashby import basic, start_body
from tests.test_engine_api import SCORES, new_engine_key

OPENAPI_DIR = Path(__file__).resolve().parent.parent / "docs" / "openapi"
ENGINE_DOCUMENT = "engine-api.yaml"
ASHBY_DOCUMENT = "ashby-webhook.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((OPENAPI_DIR / name).read_text(encoding="utf-8"))


def documented_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def route_operations(routes: Iterable[Route]) -> set[tuple[str, str]]:
    # Starlette adds HEAD to every GET route by itself.
    return {(route.path, method) for route in routes for method in (route.methods or set()) - {"HEAD"}}


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def check_reply(document: dict[str, Any], path: str, method: str, response: httpx.Response) -> None:
    """Validate a reply's JSON against the schema the document gives for its path, method and status."""
    responses = document["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in responses, f"{method.upper()} {path} replied {status}, which the document does not list"

    reference = responses[status].get("$ref")
    if reference is None:
        described = ("paths", path, method, "responses", status)
    else:
        described = ("components", "responses", reference.rsplit("/", 1)[1])
    pointer = _pointer(*described, "content", "application/json", "schema")
    # The document is the root, so the schema's references into components resolve.
    validator = OAS31Validator({**document, "$ref": pointer}, format_checker=oas31_format_checker)
    errors = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(response.json())]
    assert errors == [], f"{method.upper()} {path} {status} does not match the document: {errors}"


# The documents themselves


@pytest.mark.parametrize("name", [ENGINE_DOCUMENT, ASHBY_DOCUMENT])
def test_openapi_document_is_valid(name: str) -> None:
    document = load(name)

    validate(document)
    assert document["openapi"] == "3.1.0"


def test_engine_document_lists_every_route() -> None:
    routes = engine_api.routes(max_body_bytes=1024)

    assert documented_operations(load(ENGINE_DOCUMENT)) == route_operations(routes)


def test_engine_document_event_types_match_code() -> None:
    event = load(ENGINE_DOCUMENT)["components"]["schemas"]["Event"]["properties"]

    assert event["type"]["enum"] == list(engine_api.EVENT_TYPES)
    assert event["event_id"]["maxLength"] == engine_api.MAX_EVENT_ID_LENGTH
    assert set(engine_api.APPLY) == set(engine_api.EVENT_TYPES)


def test_ashby_document_lists_every_route() -> None:
    routes = build_routes(types.SimpleNamespace())
    single = [route for route in routes if not route.path.startswith("//")]
    doubled = {route.path for route in routes if route.path.startswith("//")}

    assert documented_operations(load(ASHBY_DOCUMENT)) == route_operations(single)
    assert doubled == {"/" + route.path for route in single}


def test_ashby_document_custom_field_types_match_code() -> None:
    field = load(ASHBY_DOCUMENT)["components"]["schemas"]["CustomField"]["properties"]

    assert field["type"]["enum"] == list(payloads.CUSTOM_FIELD_TYPES.values())


def test_ashby_document_start_fields_match_model() -> None:
    documented = load(ASHBY_DOCUMENT)["components"]["schemas"]["StartRequest"]["properties"]

    assert set(documented) == set(payloads.StartRequest.model_fields)


# The replies, checked against the documents


@dataclasses.dataclass(frozen=True)
class Running:
    web: Web
    engine_key: str
    ats_key: str
    assessment_id: str


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    async with open_web(tmp_path) as web:
        engine_key, _ = await new_engine_key(web, web.seeded)
        host = web.app.state.host
        async with host.session() as session:
            integration = await session.get(Integration, web.seeded.integration_id)
            assert integration is not None
            issued = await integrations.issue_key(host, session, integration, actor="test")
            await session.commit()
        assessment_id, _ = await order_assessment(web.app, web.seeded)
        yield Running(web, engine_key, issued.key.reveal(), assessment_id)


async def test_engine_serves_its_document(running: Running) -> None:
    response = await running.web.client.get("/api/engine/openapi.yaml")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    assert response.text == (OPENAPI_DIR / ENGINE_DOCUMENT).read_text(encoding="utf-8")


async def test_engine_replies_match_document(running: Running) -> None:
    document = load(ENGINE_DOCUMENT)
    client = running.web.client
    headers = {"Authorization": f"Bearer {running.engine_key}"}
    assessment_path = "/api/engine/assessments/{assessment_id}"
    events_path = assessment_path + "/events"
    url = f"/api/engine/assessments/{running.assessment_id}"

    check_reply(document, assessment_path, "get", await client.get(url, headers=headers))
    check_reply(document, assessment_path, "get", await client.get(url))
    check_reply(document, assessment_path, "get", await client.get(f"/api/engine/assessments/{uuid.uuid4()}", headers=headers))
    progress = {"event_id": "p-1", "type": "progress", "detail": {"answered": 1}}
    for body in (progress, progress, {"event_id": "x", "type": "finished"}, {"event_id": "c-1", "type": "completed", "category_scores": SCORES}):
        check_reply(document, events_path, "post", await client.post(url + "/events", json=body, headers=headers))
    check_reply(document, events_path, "post", await client.post(url + "/events", content=b"{", headers=headers))
    closed = await client.post(url + "/events", json={"event_id": "p-2", "type": "progress"}, headers=headers)
    assert closed.status_code == 409
    check_reply(document, events_path, "post", closed)


async def test_ashby_replies_match_document(running: Running) -> None:
    document = load(ASHBY_DOCUMENT)
    client = running.web.client

    async def post(method: str, body: Any = None, key: str = running.ats_key) -> httpx.Response:
        response = await client.post(f"/api/ats/webhook/{method}", json={} if body is None else body, headers=basic(key))
        check_reply(document, f"/{method}", "post", response)
        return response

    assert (await post("assessment.list")).status_code == 200
    assert (await post("assessment.customField.list")).status_code == 200
    assert (await post("assessment.customField.list", [1])).status_code == 400

    valid_type = await type_id(running.web.app, running.web.seeded.workspace_id)
    body = start_body(valid_type, additional_fields={"expiry_days": 10, "email_language": "de"})
    started = await post("assessment.start", body)
    assert started.status_code == 200
    assert (await post("assessment.start", start_body(valid_type, additional_fields={"expiry_days": 0}))).status_code == 422
    assert (await post("assessment.start", start_body(valid_type, additional_fields="x"))).status_code == 422
    assert (await post("assessment.start", [1])).status_code == 400

    assessment_id = started.json()["results"]["assessment_id"]
    assert (await post("assessment.cancel", {"assessment_id": assessment_id})).status_code == 200
    assert (await post("assessment.cancel", {"assessment_id": str(uuid.uuid4())})).status_code == 404
    assert (await post("assessment.cancel", {"assessment_id": "nope"})).status_code == 422

    assert (await post("assessment.list", key="lgs_ats_not-a-real-key")).status_code == 401
