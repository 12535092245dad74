"""Helpers for the in-process web tests: the app, clients, seeded workspaces and assessments.

The app runs in the test's event loop through ``httpx.ASGITransport``; the router's
lifespan context opens the database, because ASGITransport does not run the lifespan.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from pathlib import Path
from typing import AsyncIterator

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from core.app import create_app
from core.config import load_settings
from core.models import AssessmentType, Email, Integration, TimelineEvent
from core.seed import seed_demo
from core.types import AssessmentOrder, Candidate
from tests.databases import migrated_sqlite

BASE_URL = "http://testserver"
ADMIN_PASSWORD = "correct-horse-battery"
BACKEND_TYPE = "Backend Python (30 min)"

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TAKE_LINK = re.compile(r"/take/([A-Za-z0-9_-]+)")


@dataclasses.dataclass(frozen=True)
class SeededWorkspace:
    workspace_id: str
    integration_id: str
    admin_email: str


@dataclasses.dataclass(frozen=True)
class Web:
    """A running app, a client for it and the seeded demo workspace."""

    app: Starlette
    client: httpx.AsyncClient
    seeded: SeededWorkspace


def build_app(tmp_path: Path) -> Starlette:
    """Create the app on a SQLite file in ``tmp_path``, with Ashby pointed at a closed loopback port."""
    plugins = tmp_path / "plugins.toml"
    plugins.write_text('[connectors.ashby]\nenabled = true\napi_url = "http://127.0.0.1:9"\n', encoding="utf-8")
    environ = {
        "LANGOS_DATA_DIR": str(tmp_path / "data"),
        "LANGOS_PLUGINS_FILE": str(plugins),
        "LANGOS_PUBLIC_URL": BASE_URL,
    }
    migrated_sqlite(tmp_path / "data")
    return create_app(load_settings(environ, run_worker=False))


def client_for(app: Starlette) -> httpx.AsyncClient:
    """Return a new browser-like client with its own cookie jar."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)


@contextlib.asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and yield a client for it."""
    async with app.router.lifespan_context(app):
        async with client_for(app) as client:
            yield client


@contextlib.asynccontextmanager
async def open_web(tmp_path: Path) -> AsyncIterator[Web]:
    app = build_app(tmp_path)
    async with running(app) as client:
        yield Web(app=app, client=client, seeded=await seed_workspace(app))


async def seed_workspace(app: Starlette, slug: str = "demo") -> SeededWorkspace:
    """Create a demo workspace with an admin, the demo assessment types and a connected Ashby."""
    email = f"admin@{slug}.example"
    async with app.state.host.session() as session:
        workspace, _ = await seed_demo(session, email=email, password=ADMIN_PASSWORD, slug=slug)
        integration = Integration(workspace_id=workspace.id, connector="ashby", status="connected", account_label="Test")
        session.add(integration)
        await session.flush()
        seeded = SeededWorkspace(workspace_id=workspace.id, integration_id=integration.id, admin_email=email)
        await session.commit()
    return seeded


async def type_id(app: Starlette, workspace_id: str, name: str = BACKEND_TYPE) -> str:
    async with app.state.host.session() as session:
        found = await session.scalar(
            select(AssessmentType.id).where(AssessmentType.workspace_id == workspace_id, AssessmentType.name == name)
        )
    if found is None:
        raise AssertionError(f"no assessment type {name!r} in workspace {workspace_id}")
    return found


async def order_assessment(
    app: Starlette, seeded: SeededWorkspace, application_id: str = "application-1", type_name: str = BACKEND_TYPE
) -> tuple[str, str]:
    """Start an assessment through the engine hook; return its id and the candidate token from the email."""
    order = AssessmentOrder(
        workspace_id=seeded.workspace_id,
        integration_id=seeded.integration_id,
        assessment_type_id=await type_id(app, seeded.workspace_id, type_name),
        external_application_id=application_id,
        candidate=Candidate(external_id=f"candidate-{application_id}", first_name="Ada", last_name="Lovelace",
                            email="ada@example.com"),
        job_name="Backend Engineer",
    )
    async with app.state.host.session() as session:
        started = await app.state.host.hooks.start_assessment(session=session, order=order)
        email = await session.scalar(select(Email).where(Email.assessment_id == started.assessment_id))
        await session.commit()
    if email is None:
        raise AssertionError(f"no invitation email queued for assessment {started.assessment_id}")
    match = TAKE_LINK.search(email.body_text)
    if match is None:
        raise AssertionError("the invitation email contains no /take/ link")
    return started.assessment_id, match.group(1)


async def cancel(app: Starlette, seeded: SeededWorkspace, assessment_id: str) -> None:
    async with app.state.host.session() as session:
        await app.state.host.hooks.cancel_assessment(
            session=session, workspace_id=seeded.workspace_id, assessment_id=assessment_id
        )
        await session.commit()


async def timeline_kinds(app: Starlette, assessment_id: str) -> list[str]:
    async with app.state.host.session() as session:
        rows = await session.scalars(
            select(TimelineEvent.kind)
            .where(TimelineEvent.assessment_id == assessment_id)
            .order_by(TimelineEvent.at, TimelineEvent.id)
        )
        return list(rows)


def csrf_in(html: str) -> str:
    match = CSRF.search(html)
    if match is None:
        raise AssertionError("no csrf_token field on the page")
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, email: str, next_path: str = "/") -> httpx.Response:
    page = await client.get("/login", params={"next": next_path})
    form = {"csrf_token": csrf_in(page.text), "email": email, "password": ADMIN_PASSWORD, "next": next_path}
    return await client.post("/login", data=form)
