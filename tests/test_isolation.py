"""Tenant isolation: workspace A's credentials never reach workspace B's rows.

Two workspaces each get an admin, a connected Ashby, an ATS key, an engine key, a started
assessment with a delivery and a candidate link. Every case then calls one route over
loopback HTTP with A's credential and B's id or token, checks the status, and re-reads B's
rows to check that nothing of B changed. Where the same request with A's own id works,
the case also runs it, so that a denial cannot come from a broken route.

The denials and the listings change nothing, so they share one pair of workspaces. Each
allowed request gets a fresh pair, because it changes A's rows.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import uuid
from typing import Any, Awaitable, Callable

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select, update

from core.engine import forget_cached_workspace
from core.models import ApiKey, Assessment, AssessmentType, AuditEvent, Delivery, Email, EmailTemplate, TimelineEvent
from core.seed import seed_demo
from core.web.engine_api import issue_engine_key
from tests.conftest import ADMIN_PASSWORD, AdminClient, Stack, issued_key, make_stack
from tests.test_connector_ashby import basic, call, first_type, start_body

TAKE_LINK = re.compile(r"/take/([A-Za-z0-9_-]+)")
B_ADMIN = "admin@beta.example"


@dataclasses.dataclass
class Party:
    """One workspace's credentials and rows."""

    workspace_id: str
    admin: AdminClient
    admin_email: str
    candidate: str
    ats_key: str
    ats_key_id: str
    engine_key: str
    engine_key_id: str
    type_id: str
    assessment_id: str
    token: str
    delivery_id: str


@dataclasses.dataclass
class World:
    stack: Stack
    a: Party
    b: Party


async def _latest_ats_key_id(stack: Stack, workspace_id: str) -> str:
    async with stack.langos.state.host.session() as session:
        return await session.scalar(
            select(ApiKey.id).where(ApiKey.workspace_id == workspace_id, ApiKey.kind != "engine")
            .order_by(ApiKey.created_at.desc()).limit(1)
        )


async def _workspace_of_admin(stack: Stack, email: str) -> str:
    from core.models import AdminUser

    async with stack.langos.state.host.session() as session:
        return await session.scalar(select(AdminUser.workspace_id).where(AdminUser.email == email))


async def _wait_delivered(stack: Stack, assessment_id: str) -> str:
    """Wait until the worker has sent the invitation and delivered every update; return the "started" delivery's id.

    The sent invitation adds a timeline event and, when it goes out before the start, an
    "invited" update, so the snapshots are taken only after both.
    """
    for _ in range(200):
        async with stack.langos.state.host.session() as session:
            email_status = await session.scalar(select(Email.status).where(Email.assessment_id == assessment_id))
            deliveries = list(await session.scalars(select(Delivery).where(Delivery.assessment_id == assessment_id)))
        started = [delivery for delivery in deliveries if delivery.event == "started"]
        if email_status == "sent" and started and all(delivery.status == "delivered" for delivery in deliveries):
            return started[0].id
        await asyncio.sleep(0.05)
    raise AssertionError(f"the updates of assessment {assessment_id} were not delivered within 10 s; check the worker log")


async def _party(stack: Stack, admin: AdminClient, email: str, key: str, first: str, last: str) -> Party:
    host = stack.langos.state.host
    workspace_id = await _workspace_of_admin(stack, email)
    async with host.session() as session:
        engine_key, engine_record = await issue_engine_key(host, session, workspace_id, "test")
        await session.commit()
    type_id = await first_type(stack, key)
    body = start_body(type_id)
    body["candidate"].update(first_name=first, last_name=last)
    started = await call(stack, "assessment.start", key, body)
    assert started.status_code == 200, started.text
    assessment_id = started.json()["results"]["assessment_id"]
    async with host.session() as session:
        email_row = await session.scalar(select(Email).where(Email.assessment_id == assessment_id))
    token = TAKE_LINK.search(email_row.body_text).group(1)
    event = await stack.http.post(
        f"{stack.langos_url}/api/engine/assessments/{assessment_id}/events",
        json={"event_id": str(uuid.uuid4()), "type": "started"},
        headers={"Authorization": f"Bearer {engine_key.reveal()}"},
    )
    assert event.status_code == 200, event.text
    return Party(
        workspace_id=workspace_id, admin=admin, admin_email=email, candidate=f"{first} {last}",
        ats_key=key, ats_key_id=await _latest_ats_key_id(stack, workspace_id),
        engine_key=engine_key.reveal(), engine_key_id=engine_record.id, type_id=type_id,
        assessment_id=assessment_id, token=token, delivery_id=await _wait_delivered(stack, assessment_id),
    )


async def build_world(stack: Stack, browser: httpx.AsyncClient) -> World:
    key_a = await stack.connect_and_configure()
    async with stack.langos.state.host.session() as session:
        await seed_demo(session, email=B_ADMIN, password=ADMIN_PASSWORD, slug="beta")
        await session.commit()
    admin_b = AdminClient(browser)
    assert (await admin_b.login(B_ADMIN, ADMIN_PASSWORD)).status_code == 303
    key_b = issued_key(await admin_b.connect())
    a = await _party(stack, stack.admin, "admin@demo.example", key_a, "Ada", "Lovelace")
    b = await _party(stack, admin_b, B_ADMIN, key_b, "Grace", "Hopper")
    return World(stack, a, b)


async def snapshot(stack: Stack, party: Party) -> dict[str, Any]:
    """Read the party's rows that a request could change."""
    async with stack.langos.state.host.session() as session:
        assessments = await session.execute(
            select(Assessment.id, Assessment.status).where(Assessment.workspace_id == party.workspace_id)
        )
        keys = await session.execute(
            select(ApiKey.id, ApiKey.revoked_at).where(ApiKey.workspace_id == party.workspace_id)
        )
        deliveries = await session.execute(
            select(Delivery.id, Delivery.status, Delivery.sequence).where(Delivery.workspace_id == party.workspace_id)
        )
        events = await session.scalar(
            select(func.count()).select_from(TimelineEvent).join(Assessment)
            .where(Assessment.workspace_id == party.workspace_id)
        )
        audit = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.workspace_id == party.workspace_id)
        )
        types = await session.execute(
            select(AssessmentType.id, AssessmentType.name, AssessmentType.active, AssessmentType.updated_at)
            .where(AssessmentType.workspace_id == party.workspace_id)
        )
        emails = await session.scalar(
            select(func.count()).select_from(Email).where(Email.workspace_id == party.workspace_id)
        )
        templates = await session.execute(
            select(EmailTemplate.id, EmailTemplate.updated_at).where(EmailTemplate.workspace_id == party.workspace_id)
        )
    return {
        "assessment_types": sorted(types.all()),
        "emails": emails,
        "email_templates": sorted(templates.all()),
        "assessments": sorted(assessments.all()),
        "keys": sorted(keys.all()),
        "deliveries": sorted(deliveries.all()),
        "timeline_events": events,
        "audit_events": audit,
    }


# ---- the requests ----------------------------------------------------------------------

CaseRequest = Callable[[World, Party], Awaitable[httpx.Response]]


def engine_headers(world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.a.engine_key}"}


async def report_page(world: World, target: Party) -> httpx.Response:
    return await world.a.admin.client.get(f"/reports/{target.assessment_id}")


async def report_json(world: World, target: Party) -> httpx.Response:
    return await world.a.admin.client.get(f"/reports/{target.assessment_id}.json")


async def report_pdf(world: World, target: Party) -> httpx.Response:
    return await world.a.admin.client.get(f"/reports/{target.assessment_id}.pdf")


async def engine_get(world: World, target: Party) -> httpx.Response:
    return await world.stack.http.get(
        f"{world.stack.langos_url}/api/engine/assessments/{target.assessment_id}", headers=engine_headers(world)
    )


async def engine_progress(world: World, target: Party) -> httpx.Response:
    return await world.stack.http.post(
        f"{world.stack.langos_url}/api/engine/assessments/{target.assessment_id}/events",
        json={"event_id": str(uuid.uuid4()), "type": "progress", "detail": {"step": 1}},
        headers=engine_headers(world),
    )


async def engine_complete(world: World, target: Party) -> httpx.Response:
    detail = await engine_get(world, world.a)
    categories = detail.json()["assessment_type"]["categories"]
    return await world.stack.http.post(
        f"{world.stack.langos_url}/api/engine/assessments/{target.assessment_id}/events",
        json={"event_id": str(uuid.uuid4()), "type": "completed",
              "category_scores": [{"name": item["name"], "score": 50} for item in categories]},
        headers=engine_headers(world),
    )


async def ashby_cancel(world: World, target: Party) -> httpx.Response:
    return await call(world.stack, "assessment.cancel", world.a.ats_key, {"assessment_id": target.assessment_id})


async def ashby_start_with_type(world: World, target: Party) -> httpx.Response:
    return await call(world.stack, "assessment.start", world.a.ats_key, start_body(target.type_id))


async def revoke_ats_key(world: World, target: Party) -> httpx.Response:
    return await world.a.admin.post_form(f"/settings/integrations/ashby/keys/{target.ats_key_id}/revoke")


async def revoke_engine_key(world: World, target: Party) -> httpx.Response:
    return await world.a.admin.post_form(f"/settings/integrations/ashby/keys/{target.engine_key_id}/revoke")


async def dead_letter(world: World, target: Party) -> None:
    """Mark the target's delivery dead-lettered, since only such a delivery can be retried."""
    async with world.stack.langos.state.host.session() as session:
        await session.execute(update(Delivery).where(Delivery.id == target.delivery_id).values(status="failed"))
        await session.commit()


async def retry_delivery(world: World, target: Party) -> httpx.Response:
    return await world.a.admin.post_form(f"/settings/integrations/ashby/deliveries/{target.delivery_id}/retry")


async def replay_delivery(world: World, target: Party) -> httpx.Response:
    return await world.a.admin.post_form(f"/settings/integrations/ashby/deliveries/{target.delivery_id}/replay")


async def type_edit_page(world: World, target: Party) -> httpx.Response:
    return await world.a.admin.client.get(f"/settings/assessment-types/{target.type_id}")


async def type_update(world: World, target: Party) -> httpx.Response:
    # An empty form: a found type re-shows the form with errors (400), a foreign one is 404.
    return await world.a.admin.post_form(f"/settings/assessment-types/{target.type_id}", {"name": ""})


async def type_retire(world: World, target: Party) -> httpx.Response:
    return await world.a.admin.post_form(f"/settings/assessment-types/{target.type_id}/retire")


async def retire_directly(world: World, target: Party) -> None:
    """Retire the target's type, since only a retired type can be restored."""
    async with world.stack.langos.state.host.session() as session:
        await session.execute(update(AssessmentType).where(AssessmentType.id == target.type_id).values(active=False))
        await session.commit()
    forget_cached_workspace(world.stack.langos.state.host.hooks, target.workspace_id)


async def type_restore(world: World, target: Party) -> httpx.Response:
    return await world.a.admin.post_form(f"/settings/assessment-types/{target.type_id}/restore")


async def type_duplicate(world: World, target: Party) -> httpx.Response:
    return await world.a.admin.post_form(f"/settings/assessment-types/{target.type_id}/duplicate")


async def invitation_resend(world: World, target: Party) -> httpx.Response:
    return await world.a.admin.post_form(f"/reports/{target.assessment_id}/resend")


async def invitation_extend(world: World, target: Party) -> httpx.Response:
    return await world.a.admin.post_form(f"/reports/{target.assessment_id}/extend", {"days": "3"})


async def assessment_cancel(world: World, target: Party) -> httpx.Response:
    return await world.a.admin.post_form(f"/reports/{target.assessment_id}/cancel", {"reason": "Role filled"})


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    request: CaseRequest
    denied: int
    allowed: int
    prepare: Callable[[World, Party], Awaitable[None]] | None = None


CASES = [
    Case("report_page", report_page, 404, 200),
    Case("report_json", report_json, 404, 200),
    Case("report_pdf", report_pdf, 404, 200),
    Case("engine_get", engine_get, 404, 200),
    Case("engine_progress", engine_progress, 404, 200),
    Case("engine_complete", engine_complete, 404, 200),
    Case("ashby_cancel", ashby_cancel, 404, 200),
    Case("ashby_start_foreign_type", ashby_start_with_type, 422, 200),
    Case("revoke_ats_key", revoke_ats_key, 404, 303),
    Case("revoke_engine_key", revoke_engine_key, 404, 303),
    Case("retry_delivery", retry_delivery, 404, 303, dead_letter),
    Case("replay_delivery", replay_delivery, 404, 303),
    Case("type_edit_page", type_edit_page, 404, 200),
    Case("type_update", type_update, 404, 400),
    Case("type_retire", type_retire, 404, 303),
    Case("type_restore", type_restore, 404, 303, retire_directly),
    Case("type_duplicate", type_duplicate, 404, 303),
    Case("invitation_resend", invitation_resend, 404, 303),
    Case("invitation_extend", invitation_extend, 404, 303),
    Case("assessment_cancel", assessment_cancel, 404, 303),
]

shared_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """Two workspaces for the requests that must change nothing."""
    async with make_stack(tmp_path_factory.mktemp("isolation")) as running:
        async with httpx.AsyncClient(base_url=running.langos_url, timeout=10) as browser:
            yield await build_world(running, browser)


@pytest.fixture
async def world(stack: Stack) -> World:
    async with httpx.AsyncClient(base_url=stack.langos_url, timeout=10) as browser:
        yield await build_world(stack, browser)


@shared_loop
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_foreign_id_is_denied(shared_world: World, case: Case) -> None:
    world = shared_world
    if case.prepare is not None:
        await case.prepare(world, world.b)
    before = await snapshot(world.stack, world.b)
    response = await case.request(world, world.b)
    assert response.status_code == case.denied, response.text[:300]
    assert await snapshot(world.stack, world.b) == before
    assert world.b.candidate not in response.text
    assert world.b.ats_key not in response.text


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_own_id_is_allowed(world: World, case: Case) -> None:
    if case.prepare is not None:
        await case.prepare(world, world.a)
    before_b = await snapshot(world.stack, world.b)
    response = await case.request(world, world.a)
    assert response.status_code == case.allowed, response.text[:300]
    assert await snapshot(world.stack, world.b) == before_b


# ---- listings --------------------------------------------------------------------------


@shared_loop
@pytest.mark.parametrize(
    "path", ["/assessments", "/settings/audit", "/settings/audit.csv", "/settings/integrations",
             "/settings/integrations/ashby/deliveries", "/settings/assessment-types", "/settings/emails"]
)
async def test_listing_omits_other_workspace(shared_world: World, path: str) -> None:
    world = shared_world
    before = await snapshot(world.stack, world.b)
    response = await world.a.admin.client.get(path)
    assert response.status_code == 200
    assert world.b.assessment_id[-8:] not in response.text
    assert world.b.candidate not in response.text
    assert world.b.admin_email not in response.text
    assert world.b.delivery_id not in response.text
    assert world.b.ats_key_id not in response.text
    assert world.b.engine_key_id not in response.text
    assert world.b.type_id not in response.text
    assert await snapshot(world.stack, world.b) == before


@shared_loop
@pytest.mark.parametrize(
    ("path", "marker"),
    [("/assessments", "candidate"), ("/settings/audit", "admin_email"), ("/settings/audit.csv", "admin_email"),
     ("/settings/integrations/ashby/deliveries", "delivery_id"), ("/settings/assessment-types", "type_id")],
)
async def test_listing_shows_own_workspace(shared_world: World, path: str, marker: str) -> None:
    world = shared_world
    response = await world.a.admin.client.get(path)
    assert response.status_code == 200
    assert getattr(world.a, marker) in response.text


@shared_loop
async def test_ashby_list_omits_other_types(shared_world: World) -> None:
    world = shared_world
    response = await call(world.stack, "assessment.list", world.a.ats_key)
    listed = [item["assessment_type_id"] for item in response.json()["results"]]
    assert response.status_code == 200
    assert world.a.type_id in listed
    assert world.b.type_id not in listed


# ---- candidate links -------------------------------------------------------------------


@shared_loop
async def test_admin_session_does_not_open_unknown_token(shared_world: World) -> None:
    world = shared_world
    response = await world.a.admin.client.get(f"/take/{uuid.uuid4().hex}")
    assert response.status_code == 404
    assert world.a.candidate not in response.text
    assert world.b.candidate not in response.text


@shared_loop
async def test_token_opens_only_its_assessment(shared_world: World) -> None:
    world = shared_world
    before = await snapshot(world.stack, world.b)
    response = await world.a.admin.client.get(f"/take/{world.a.token}")
    assert response.status_code == 200
    assert world.b.candidate not in response.text
    assert world.b.assessment_id not in response.text
    assert (await snapshot(world.stack, world.b))["assessments"] == before["assessments"]


@shared_loop
async def test_other_token_opens_other_assessment_only(shared_world: World) -> None:
    world = shared_world
    async with httpx.AsyncClient(base_url=world.stack.langos_url, timeout=10) as anonymous:
        plain = await anonymous.get(f"/take/{world.b.token}")
    with_session = await world.a.admin.client.get(f"/take/{world.b.token}")
    assert plain.status_code == 200
    assert with_session.status_code == 200
    assert world.a.candidate not in with_session.text
    assert world.a.assessment_id not in with_session.text


@shared_loop
@pytest.mark.parametrize("action", ["start", "submit", "answer", "events"])
async def test_unknown_token_post_is_404(shared_world: World, action: str) -> None:
    world = shared_world
    before = await snapshot(world.stack, world.b)
    token = await world.a.admin.csrf("/settings/integrations")
    response = await world.a.admin.client.post(f"/take/{uuid.uuid4().hex}/{action}", data={"csrf_token": token})
    assert response.status_code == 404
    assert await snapshot(world.stack, world.b) == before


async def test_ats_key_on_engine_api_is_401(world: World) -> None:
    response = await world.stack.http.get(
        f"{world.stack.langos_url}/api/engine/assessments/{world.b.assessment_id}", headers=basic(world.a.ats_key)
    )
    assert response.status_code == 401
