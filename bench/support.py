"""Shared pieces of the benchmarks: processes on loopback ports, wrk runs and set-up."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx

ROOT = Path(__file__).resolve().parent.parent


def add_database_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--database`` and ``--postgres-url``, which every benchmark takes."""
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
                        help="server to create a scratch database on (default: %(default)s)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout} s")


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Run ``args`` with its output in ``log``; stop it with SIGTERM at the end of the block."""
    with open(log, "wb") as output:
        proc = subprocess.Popen(args, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()} {platform.release()}"


WRK_SCRIPT = """
local path, auth, kind = "{path}", "{auth}", "{kind}"
-- Each wrk thread runs its own Lua state; without a seed of its own, every thread would
-- send the same ids, and half the starts would repeat an order.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
function init(args)
  math.randomseed(os.time() + {seed} + thread_number * 7919)
end
local function id()
  return string.format("%08x-%04x-4%03x-a%03x-%012x", math.random(0, 0xffffffff), math.random(0, 0xffff),
    math.random(0, 0xfff), math.random(0, 0xfff), math.random(0, 0xffffffffffff))
end
request = function()
  local body = "{{}}"
  if kind == "start" then
    body = '{{"assessment_type_id": "{type_id}", "candidate": {{"ashby_id": "' .. id() ..
      '", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "ashby_profile_url": "https://ashby.example/c"}}, ' ..
      '"application": {{"ashby_id": "' .. id() .. '", "status": "Active"}}, ' ..
      '"job": {{"ashby_id": "' .. id() .. '", "name": "Backend Engineer", "ashby_job_url": "https://ashby.example/j"}}}}'
  end
  return wrk.format("POST", path, {{["Content-Type"] = "application/json", ["Authorization"] = auth}}, body)
end
"""


def run_wrk(url: str, path: str, auth: str, kind: str, type_id: str, seconds: int, connections: int, workdir: Path) -> dict:
    """Run wrk against ``url + path`` and return requests per second, latency percentiles and errors."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed; install Debian's wrk package")
    script = workdir / f"wrk-{kind}-{abs(hash((url, path))) % 10000}.lua"
    script.write_text(WRK_SCRIPT.format(path=path, auth=auth, kind=kind, type_id=type_id, seed=os.getpid()))
    result = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    )
    return parse_wrk(result.stdout)


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(output: str) -> dict:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    percentiles = {f"p{p}": _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.MULTILINE)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": rps,
        **percentiles,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def write_results(name: str, results: dict) -> Path:
    path = ROOT / "var" / "bench" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    return path
