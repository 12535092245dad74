"""Time to drain 10,000 completion updates to a fake Ashby that fails 20 % of calls.

Creates a workspace connected to the fake Ashby and ``--count`` completed assessments,
each with one queued completion update, then starts ``--workers`` ``langos worker``
processes and measures the time until every update is recorded as delivered. The fake
Ashby (one uvicorn process) answers a random ``--failure-rate`` of calls with 500 or 429.
Lost updates (never accepted by the fake) and duplicates (accepted more than once) are
counted from what the fake received. With ``--crash-after S`` every worker is killed with
SIGKILL after S seconds and new ones are started: the crash drill.

    python -m bench.drain --database sqlite
    python -m bench.drain --database postgres --workers 2 --crash-after 5
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import shutil
import signal
import time
import uuid

import httpx
from sqlalchemy import func, insert, select

from core import integrations, seed
from core.cli import open_host
from core.config import load_settings
from core.models import Assessment, Delivery, utcnow

from .support import ROOT, add_database_options, free_port, machine, process, python, wait_until_up, write_results
from .webhook import drop_postgres, fresh_postgres

ASHBY_KEY = "ashby_demo_key_0123456789"


async def prepare(env: dict[str, str], count: int) -> None:
    """Connect a workspace to the fake Ashby and queue ``count`` completion updates."""
    settings = load_settings(env)
    async with open_host(settings) as host:
        async with host.session() as session:
            workspace = await seed.create_workspace(session, "drain", "Drain")
            [assessment_type] = await seed.add_assessment_types(session, workspace, seed.DEMO_ASSESSMENT_TYPES[:1])
            from core.crypto import Secret

            await integrations.connect(host, session, workspace_id=workspace.id, connector="ashby",
                                       credential=Secret(ASHBY_KEY), actor="bench")
            integration = await integrations.get_integration(session, workspace.id, "ashby")
            await session.commit()

        now = utcnow()
        started = now - dt.timedelta(minutes=30)
        for offset in range(0, count, 1000):
            assessments, deliveries = [], []
            for index in range(offset, min(count, offset + 1000)):
                assessment_id = str(uuid.uuid4())
                assessments.append({
                    "id": assessment_id, "workspace_id": workspace.id, "integration_id": integration.id,
                    "assessment_type_id": assessment_type.id, "external_application_id": str(uuid.uuid4()),
                    "external_candidate_id": str(uuid.uuid4()), "candidate_first_name": "Candidate",
                    "candidate_last_name": str(index), "candidate_email": f"c{index}@example.com", "status": "completed",
                    "candidate_token_digest": uuid.uuid4().hex + uuid.uuid4().hex, "score": 75.0, "max_score": 100.0,
                    "category_scores": [{"name": "Python", "score": 75.0, "max_score": 100.0}],
                    "created_at": started, "started_at": started, "completed_at": now,
                })
                deliveries.append({
                    "id": str(uuid.uuid4()), "workspace_id": workspace.id, "integration_id": integration.id,
                    "assessment_id": assessment_id, "connector": "ashby", "event": "completed", "sequence": 1,
                    "status": "pending", "occurred_at": now, "attempts": 0, "next_attempt_at": now,
                    "created_at": now, "queued_at": now,
                })
            async with host.session() as session:
                await session.execute(insert(Assessment), assessments)
                await session.execute(insert(Delivery), deliveries)
                await session.commit()


async def delivered(env: dict[str, str]) -> int:
    settings = load_settings(env)
    from core.db import create_engine, create_sessionmaker

    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return await session.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "delivered"))
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_options(parser)
    parser.add_argument("--count", type=int, default=10_000, help="completion updates to deliver (default: 10000)")
    parser.add_argument("--workers", type=int, default=1, help="langos worker processes (default: 1)")
    parser.add_argument("--concurrency", type=int, default=32, help="assessments each worker pushes at once (default: 32)")
    parser.add_argument("--failure-rate", type=float, default=0.2, help="share of calls the fake fails (default: 0.2)")
    parser.add_argument("--crash-after", type=float, help="SIGKILL every worker after this many seconds, then restart")
    parser.add_argument("--timeout", type=float, default=600, help="give up after this many seconds (default: 600)")
    args = parser.parse_args()

    name = f"drain-{args.database}" + ("-crash" if args.crash_after else "")
    workdir = ROOT / "var" / "bench" / name
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    (workdir / "plugins.toml").write_text("[connectors.ashby]\nenabled = true\n")
    ashby_port = free_port()
    ashby_url = f"http://127.0.0.1:{ashby_port}"
    env = {
        "LANGOS_DATA_DIR": str(workdir / "data"),
        "LANGOS_PLUGINS_FILE": str(workdir / "plugins.toml"),
        "LANGOS_ASHBY_API_URL": ashby_url,
        "LANGOS_LOG_LEVEL": "WARNING",
        "LANGOS_DELIVERY_BACKOFF_SECONDS": "0.5",
        "LANGOS_DELIVERY_POLL_SECONDS": "0.1",
        "LANGOS_DELIVERY_LEASE_SECONDS": "5",
    }
    database_url = None
    if args.database == "postgres":
        database_url = asyncio.run(fresh_postgres(args.postgres_url))
        env["LANGOS_DATABASE_URL"] = database_url

    fake_cmd = python("-m", "uvicorn", "connectors.ashby.fake:create_fake_ashby", "--factory", "--port", str(ashby_port),
                      "--log-level", "warning", "--no-access-log")
    worker_cmd = python("-m", "core.cli", "worker", "--concurrency", str(args.concurrency))
    results: dict = {"database": args.database, "machine": machine(), "count": args.count, "workers": args.workers,
                     "concurrency": args.concurrency, "failure_rate": args.failure_rate, "crash_after": args.crash_after}
    try:
        with process(fake_cmd, {}, workdir / "fake.log"):
            wait_until_up(ashby_url + "/_fake/updates")
            asyncio.run(prepare(env, args.count))
            httpx.post(ashby_url + "/_fake/failures", json={"failure_rate": args.failure_rate}).raise_for_status()

            started = time.monotonic()
            killed = 0
            workers = [process(worker_cmd, env, workdir / f"worker-{i}.log") for i in range(args.workers)]
            running = [context.__enter__() for context in workers]
            try:
                if args.crash_after:
                    time.sleep(args.crash_after)
                    results["delivered_before_crash"] = asyncio.run(delivered(env))
                    for proc in running:
                        proc.send_signal(signal.SIGKILL)
                        proc.wait()
                        killed += 1
                    workers = [process(worker_cmd, env, workdir / f"worker-restart-{i}.log") for i in range(args.workers)]
                    running = [context.__enter__() for context in workers]
                while True:
                    done = asyncio.run(delivered(env))
                    if done >= args.count or time.monotonic() - started > args.timeout:
                        break
                    time.sleep(0.5)
                elapsed = time.monotonic() - started
            finally:
                for context in workers:
                    context.__exit__(None, None, None)

            updates = httpx.get(ashby_url + "/_fake/updates", timeout=60).json()["updates"]
    finally:
        if database_url:
            asyncio.run(drop_postgres(database_url))

    accepted = collections.Counter(u["assessment_id"] for u in updates if u["accepted"])
    rejected = sum(1 for u in updates if not u["accepted"])
    results.update({
        "seconds_to_drain": round(elapsed, 1),
        "recorded_delivered": done,
        "lost": args.count - len(accepted),
        "duplicates": sum(n - 1 for n in accepted.values()),
        "failed_calls": rejected,
        "workers_killed": killed,
    })
    path = write_results(name, results)
    print(f"machine: {results['machine']}")
    for key in ("database", "count", "workers", "concurrency", "failure_rate", "crash_after", "delivered_before_crash",
                "workers_killed", "seconds_to_drain", "recorded_delivered", "lost", "duplicates", "failed_calls"):
        if key in results:
            print(f"{key}: {results[key]}")
    print(f"results: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
