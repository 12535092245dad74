"""Throughput and latency of assessment.list and assessment.start, against a bare endpoint.

Runs Langos (the app of ``langos serve``, delivery worker off so only the request path is
measured) and ``bench/bare_app.py``, each in one uvicorn process with the same options (no
access log, ``--http`` and ``--loop``), on loopback ports, then drives each with wrk:
2 threads, ``--connections`` connections, ``--seconds`` per run. Every start sends new
candidate and application ids, so each one creates an assessment. Results are printed as a
table and written to var/bench/.

    python -m bench.webhook --database sqlite
    python -m bench.webhook --database postgres --postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from core import integrations, seed
from core.cli import open_host
from core.config import load_settings
from core.crypto import Secret

from .support import (
    ROOT, add_database_options, free_port, machine, process, python, run_wrk, wait_until_up, write_results,
)


async def prepare(env: dict[str, str]) -> tuple[str, str, list[dict]]:
    """Create a workspace with the demo assessment types, connected to Ashby; return key, type id, list results."""
    settings = load_settings(env)
    async with open_host(settings) as host, host.session() as session:
        workspace = await seed.create_workspace(session, "bench", "Bench")
        await seed.add_assessment_types(session, workspace, seed.DEMO_ASSESSMENT_TYPES)
        integration = await integrations.get_or_create_integration(session, workspace.id, "ashby")
        integration.credential_encrypted = host.vault.encrypt(Secret("ashby-bench-key"))
        integration.status = "connected"
        integration.account_label = "bench"
        issued = await integrations.issue_key(host, session, integration, actor="bench")
        types = await host.hooks.list_assessment_types(session=session, workspace_id=workspace.id)
        await session.commit()
    results = [{"assessment_type_id": t.id, "name": t.name, "description": t.description} for t in types]
    return issued.key.reveal(), types[0].id, results


async def fresh_postgres(base_url: str) -> str:
    url = make_url(base_url)
    name = f"langos_bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return url.set(database=name).render_as_string(hide_password=False)


def scratch_langos(name: str, database: str, postgres_url: str) -> tuple[Path, dict[str, str], str | None]:
    """Make an empty working folder ``var/bench/<name>`` and the environment of a Langos without a worker.

    On PostgreSQL a scratch database is created on the server at ``postgres_url``. Return
    the folder, the environment and the scratch database's URL (None on SQLite), which the
    caller drops with ``drop_postgres``.
    """
    workdir = ROOT / "var" / "bench" / name
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    (workdir / "plugins.toml").write_text("[connectors.ashby]\nenabled = true\n")
    env = {
        "LANGOS_DATA_DIR": str(workdir / "data"),
        "LANGOS_PLUGINS_FILE": str(workdir / "plugins.toml"),
        "LANGOS_RUN_WORKER": "false",
        "LANGOS_LOG_LEVEL": "WARNING",
        # The load comes from one key, far above any real ATS's rate.
        "LANGOS_RATE_LIMIT_PER_MINUTE": "0",
    }
    database_url = None
    if database == "postgres":
        database_url = asyncio.run(fresh_postgres(postgres_url))
        env["LANGOS_DATABASE_URL"] = database_url
    return workdir, env, database_url


async def drop_postgres(database_url: str) -> None:
    url = make_url(database_url)
    connection = await asyncpg.connect(url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_options(parser)
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run (default: 10)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections (default: 64)")
    parser.add_argument("--calls", choices=["list", "start", "both"], default="both",
                        help="which calls to measure (default: both); the ratios need both")
    parser.add_argument("--http", choices=["h11", "httptools"], default="h11",
                        help="uvicorn's HTTP parser for both servers (default: h11); httptools needs the package")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio",
                        help="uvicorn's event loop for both servers (default: asyncio); uvloop needs the package")
    args = parser.parse_args()

    workdir, env, database_url = scratch_langos(f"webhook-{args.database}", args.database, args.postgres_url)
    try:
        key, type_id, list_results = asyncio.run(prepare(env))
        auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
        langos_port, bare_port = free_port(), free_port()
        # Both servers run under the same uvicorn options. Langos builds its app from the
        # environment, as ``langos serve --workers N`` does.
        server = ["--no-access-log", "--log-level", "warning", "--http", args.http, "--loop", args.loop]
        langos_cmd = python("-m", "uvicorn", "--factory", "core.app:app_from_environment", "--port", str(langos_port),
                            *server)
        bare_cmd = python("-m", "uvicorn", "bench.bare_app:app", "--port", str(bare_port), *server)
        bare_env = {"BARE_LIST_RESULTS": json.dumps(list_results)}

        results: dict = {"database": args.database, "machine": machine(), "connections": args.connections,
                         "seconds": args.seconds, "http": args.http, "loop": args.loop, "runs": {}}
        with process(langos_cmd, env, workdir / "langos.log"), process(bare_cmd, bare_env, workdir / "bare.log"):
            langos_url, bare_url = f"http://127.0.0.1:{langos_port}", f"http://127.0.0.1:{bare_port}"
            wait_until_up(langos_url + "/healthz")
            wait_until_up(bare_url + "/healthz")
            for kind in ("list", "start") if args.calls == "both" else (args.calls,):
                path = f"/api/ats/webhook/assessment.{kind}"
                for name, url in (("bare", bare_url), ("langos", langos_url)):
                    # A short warm-up run first, so imports and connection pools are ready.
                    run_wrk(url, path, auth, kind, type_id, 2, args.connections, workdir)
                    results["runs"][f"{kind}/{name}"] = run_wrk(url, path, auth, kind, type_id, args.seconds,
                                                                args.connections, workdir)
    finally:
        if database_url:
            asyncio.run(drop_postgres(database_url))

    runs = results["runs"]
    for kind in ("list", "start"):
        if f"{kind}/langos" in runs:
            results[f"{kind}_ratio"] = round(runs[f"{kind}/langos"]["rps"] / runs[f"{kind}/bare"]["rps"], 3)
    path = write_results(f"webhook-{args.database}", results)

    print(f"machine: {results['machine']}; database: {args.database}; {args.connections} connections, "
          f"{args.seconds} s per run; uvicorn --http {args.http} --loop {args.loop}")
    print("| run | requests/s | p50 ms | p99 ms | non-2xx |")
    print("|---|---:|---:|---:|---:|")
    for name, run in runs.items():
        print(f"| {name} | {run['rps']:.0f} | {run.get('p50', 0):.1f} | {run.get('p99', 0):.1f} | {run['non_2xx']} |")
    if "list_ratio" in results:
        print(f"list ratio (langos / bare): {results['list_ratio']} (target 0.6 or more)")
    if "start_ratio" in results:
        print(f"start ratio (langos / bare): {results['start_ratio']} (target 0.3 or more)")
        print(f"start p99: {runs['start/langos'].get('p99', 0):.1f} ms (target under 100 ms)")
    print(f"results: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
