"""The flow on PostgreSQL, the database of the scale-out path."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from core.models import Assessment
from tests.conftest import Stack
from tests.test_connector_ashby import basic, first_type, start_body
from tests.test_end_to_end import test_flow_from_connect_to_report as run_full_flow


async def test_postgres_full_flow(pg_stack: Stack) -> None:
    await run_full_flow(pg_stack)


async def test_postgres_concurrent_start_creates_one(pg_stack: Stack) -> None:
    key = await pg_stack.connect_and_configure()
    body = start_body(await first_type(pg_stack, key))
    responses = await asyncio.gather(*(
        pg_stack.http.post(f"{pg_stack.webhook_url}/assessment.start", json=body, headers=basic(key)) for _ in range(10)
    ))
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["results"]["assessment_id"] for r in responses}) == 1
    async with pg_stack.langos.state.host.session() as session:
        assert await session.scalar(select(func.count()).select_from(Assessment)) == 1


async def test_postgres_concurrent_migrations(tmp_path, postgres_url: str) -> None:
    """Three processes migrating one empty database at once take turns on the advisory lock."""
    import os
    import sys

    from tests.conftest import langos_env

    env = {**os.environ, **langos_env(tmp_path, LANGOS_DATABASE_URL=postgres_url)}
    processes = [
        await asyncio.create_subprocess_exec(sys.executable, "-m", "core.cli", "migrate", env=env,
                                             stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        for _ in range(3)
    ]
    results = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), timeout=60)
    assert [p.returncode for p in processes] == [0, 0, 0], results


async def test_postgres_long_names_are_422(pg_stack: Stack) -> None:
    key = await pg_stack.connect_and_configure()
    body = start_body(await first_type(pg_stack, key))
    body["candidate"]["first_name"] = "A" * 201
    response = await pg_stack.http.post(f"{pg_stack.webhook_url}/assessment.start", json=body, headers=basic(key))
    assert response.status_code == 422
    assert "candidate.first_name" in response.json()["message"]
