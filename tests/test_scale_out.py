"""Several processes on PostgreSQL: delivery workers sharing the outbox, a worker killed
mid-drain, and uvicorn workers taking identical starts at once."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import sys
from pathlib import Path

import httpx
from sqlalchemy import func, select

from connectors.ashby.fake import create_fake_ashby
from core.cli import open_host
from core.config import load_settings
from core.models import Assessment, Delivery
from tests.bulk import completed_assessments, connected_workspace
from tests.conftest import langos_env
from tests.live import bind_loopback, serve, wait_for
from tests.test_connector_ashby import basic, start_body

ASSESSMENTS = 150


async def spawn(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    """Start ``langos ARGS``; its log goes to a file beside the data folder."""
    log = open(Path(env["LANGOS_DATA_DIR"]).parent / f"{args[0]}-{len(os.listdir(Path(env['LANGOS_DATA_DIR']).parent))}.log", "wb")
    with log:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "core.cli", *args, env={**os.environ, **env},
            stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.wait(), timeout=15)


async def delivered_count(host) -> int:  # type: ignore[no-untyped-def]
    async with host.session() as session:
        return await session.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "delivered"))


def check_received(fake, assessment_ids: list[str]) -> int:  # type: ignore[no-untyped-def]
    """Assert every assessment got Started then Completed with increasing timestamps; return duplicates."""
    received = collections.defaultdict(list)
    for update in fake.updates:
        if update.accepted:
            received[update.assessment_id].append(update.body)
    duplicates = 0
    for assessment_id in assessment_ids:
        bodies = received[assessment_id]
        statuses = [body["assessment_status"]["value"] for body in bodies]
        assert statuses[0] == "Started", statuses
        assert statuses[-1] == "Completed", statuses
        assert statuses.index("Completed") > max(i for i, s in enumerate(statuses) if s == "Started")
        timestamps = [body["timestamp"] for body in bodies]
        assert timestamps == sorted(timestamps)
        duplicates += len(bodies) - 2
    return duplicates


async def test_two_workers_share_the_outbox(tmp_path: Path, postgres_url: str) -> None:
    sock = bind_loopback()
    fake_app = create_fake_ashby()
    async with serve(fake_app, sock) as ashby_url:
        env = langos_env(tmp_path, LANGOS_DATABASE_URL=postgres_url, LANGOS_ASHBY_API_URL=ashby_url)
        settings = load_settings(env)
        async with open_host(settings) as host:
            workspace_id, integration_id = await connected_workspace(host)
            ids = await completed_assessments(host, workspace_id, integration_id, ASSESSMENTS)
            fake_app.state.fake.failure_rate = 0.2

            workers = [await spawn(env, "worker", "--concurrency", "8") for _ in range(2)]
            try:
                await wait_for(lambda: _all_delivered(host), timeout=90, interval=0.2)
            finally:
                for worker in workers:
                    await stop(worker)
        duplicates = check_received(fake_app.state.fake, ids)
    assert duplicates == 0


async def _all_delivered(host) -> bool:  # type: ignore[no-untyped-def]
    return await delivered_count(host) == 2 * ASSESSMENTS


async def test_killed_worker_loses_nothing(tmp_path: Path, postgres_url: str) -> None:
    sock = bind_loopback()
    fake_app = create_fake_ashby()
    async with serve(fake_app, sock) as ashby_url:
        env = langos_env(tmp_path, LANGOS_DATABASE_URL=postgres_url, LANGOS_ASHBY_API_URL=ashby_url,
                         LANGOS_DELIVERY_LEASE_SECONDS="2")
        settings = load_settings(env)
        async with open_host(settings) as host:
            workspace_id, integration_id = await connected_workspace(host)
            ids = await completed_assessments(host, workspace_id, integration_id, ASSESSMENTS)

            first = await spawn(env, "worker", "--concurrency", "4")
            await wait_for(lambda: _some_delivered(host), timeout=60, interval=0.02)
            first.send_signal(signal.SIGKILL)
            await first.wait()
            interrupted = await delivered_count(host)
            assert interrupted < 2 * ASSESSMENTS

            second = await spawn(env, "worker")
            try:
                await wait_for(lambda: _all_delivered(host), timeout=90, interval=0.2)
            finally:
                await stop(second)
        duplicates = check_received(fake_app.state.fake, ids)
    # At least once: only updates in flight when the worker died may arrive twice.
    assert duplicates <= 4 * 2


async def _some_delivered(host) -> bool:  # type: ignore[no-untyped-def]
    return await delivered_count(host) >= 20


async def test_uvicorn_workers_create_one_assessment(tmp_path: Path, postgres_url: str) -> None:
    ashby_sock, langos_sock = bind_loopback(), bind_loopback()
    port = langos_sock.getsockname()[1]
    langos_sock.close()
    async with serve(create_fake_ashby(), ashby_sock) as ashby_url:
        env = langos_env(tmp_path, LANGOS_DATABASE_URL=postgres_url, LANGOS_ASHBY_API_URL=ashby_url,
                         LANGOS_PUBLIC_URL=f"http://127.0.0.1:{port}", LANGOS_RUN_WORKER="false")
        settings = load_settings(env)
        async with open_host(settings) as host:
            _, _ = await connected_workspace(host)
            async with host.session() as session:
                from core.integrations import issue_key, get_integration
                from core.seed import get_workspace

                workspace = await get_workspace(session, "bulk")
                integration = await get_integration(session, workspace.id, "ashby")
                key = (await issue_key(host, session, integration, actor="test")).key.reveal()
                await session.commit()

            server = await spawn(env, "serve", "--port", str(port), "--workers", "2")
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                    await wait_for(lambda: _ready(client), timeout=30, interval=0.2)
                    listed = await client.post("/api/ats/webhook/assessment.list", json={}, headers=basic(key))
                    body = start_body(listed.json()["results"][0]["assessment_type_id"])
                    responses = await asyncio.gather(*(
                        client.post("/api/ats/webhook/assessment.start", json=body, headers=basic(key)) for _ in range(24)
                    ))
            finally:
                await stop(server)
            async with host.session() as session:
                count = await session.scalar(select(func.count()).select_from(Assessment))
    assert {response.status_code for response in responses} == {200}
    assert len({response.json()["results"]["assessment_id"] for response in responses}) == 1
    assert count == 1


async def _ready(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/readyz")).status_code == 200
    except httpx.TransportError:
        return False
