"""CPU time per assessment.list and assessment.start call, measured inside one process.

Calls the ASGI app directly, with no HTTP server and no load generator, and divides the
process's CPU time by the number of calls. On a shared machine this number moves far less
than requests per second under wrk, because it leaves out waiting for the CPU. The bare
app of ``bench/bare_app.py`` is measured the same way, for scale.

Calls go one at a time by default; ``--concurrency N`` sends them in groups of N at once,
so concurrent starts share the engine's batched writes.

    python -m bench.inprocess --database sqlite
    python -m bench.inprocess --database postgres --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import time
import uuid
from typing import Any

from core.app import create_app
from core.config import load_settings

from .support import ROOT, add_database_options, machine, write_results
from .webhook import drop_postgres, prepare, scratch_langos

WARM_UP_CALLS = 200


def start_body(type_id: str) -> bytes:
    return json.dumps({
        "assessment_type_id": type_id,
        "candidate": {"ashby_id": str(uuid.uuid4()), "first_name": "Ada", "last_name": "Lovelace",
                      "email": "ada@example.com", "ashby_profile_url": "https://ashby.example/c"},
        "application": {"ashby_id": str(uuid.uuid4()), "status": "Active"},
        "job": {"ashby_id": str(uuid.uuid4()), "name": "Backend Engineer", "ashby_job_url": "https://ashby.example/j"},
    }).encode()


async def call(app: Any, path: str, auth: bytes, body: bytes) -> int:
    """Send one POST through the ASGI interface and return the response status."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), (b"authorization", auth),
                    (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0

    async def receive() -> dict:
        if messages:
            return messages.pop()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def measure(app: Any, kind: str, auth: bytes, type_id: str, calls: int, concurrency: int = 1) -> dict[str, float]:
    """Return the CPU and wall-clock milliseconds per call of ``kind``, after a warm-up."""
    path = f"/api/ats/webhook/assessment.{kind}"
    bodies = [start_body(type_id) if kind == "start" else b"{}" for _ in range(WARM_UP_CALLS + calls)]
    for body in bodies[:WARM_UP_CALLS]:
        await call(app, path, auth, body)

    measured = bodies[WARM_UP_CALLS:]
    wall, cpu = time.perf_counter(), time.process_time()
    for first in range(0, calls, concurrency):
        statuses = await asyncio.gather(*(call(app, path, auth, body) for body in measured[first:first + concurrency]))
        failed = [status for status in statuses if status != 200]
        if failed:
            raise RuntimeError(f"{kind} returned HTTP {failed[0]}; the app's log has the reason")
    return {
        "cpu_ms": round((time.process_time() - cpu) / calls * 1000, 3),
        "wall_ms": round((time.perf_counter() - wall) / calls * 1000, 3),
    }


async def run(env: dict[str, str], key: str, type_id: str, list_results: list[dict], calls: int, concurrency: int) -> dict:
    auth = ("Basic " + base64.b64encode(f"{key}:".encode()).decode()).encode()
    os.environ["BARE_LIST_RESULTS"] = json.dumps(list_results)
    from . import bare_app

    # As ``langos serve`` builds it.
    app = create_app(load_settings(env), freeze_startup_objects=True)
    runs = {}
    async with app.router.lifespan_context(app):
        for kind in ("list", "start"):
            runs[f"{kind}/bare"] = await measure(bare_app.app, kind, auth, type_id, calls, concurrency)
            runs[f"{kind}/langos"] = await measure(app, kind, auth, type_id, calls, concurrency)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_options(parser)
    parser.add_argument("--calls", type=int, default=2000, help="measured calls of each kind (default: 2000)")
    parser.add_argument("--concurrency", type=int, default=1, help="calls sent at once (default: 1)")
    args = parser.parse_args()

    _workdir, env, database_url = scratch_langos(f"inprocess-{args.database}", args.database, args.postgres_url)
    try:
        key, type_id, list_results = asyncio.run(prepare(env))
        runs = asyncio.run(run(env, key, type_id, list_results, args.calls, max(1, args.concurrency)))
    finally:
        if database_url:
            asyncio.run(drop_postgres(database_url))

    results = {"database": args.database, "machine": machine(), "calls": args.calls, "concurrency": args.concurrency,
               "runs": runs}
    path = write_results(f"inprocess-{args.database}", results)
    at_once = "one at a time" if args.concurrency <= 1 else f"{args.concurrency} at a time"
    print(f"machine: {results['machine']}; database: {args.database}; {args.calls} calls of each kind, {at_once}")
    print("| run | CPU ms per call | wall ms per call |")
    print("|---|---:|---:|")
    for name, run_result in runs.items():
        print(f"| {name} | {run_result['cpu_ms']:.3f} | {run_result['wall_ms']:.3f} |")
    print(f"results: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
