"""``langos demo``: Langos and a fake Ashby on loopback, with a demo workspace to walk through.

Both apps run under uvicorn in one process. Langos uses a SQLite file under the data
folder and calls the fake Ashby instead of the real Ashby API; nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import uvicorn

from connectors.ashby.fake import DEMO_API_KEY, READONLY_API_KEY, create_fake_ashby

from .app import create_app
from .config import load_settings
from .db import upgrade_async
from .exceptions import ConfigError
from .logs import configure_logging
from .seed import seed_demo

DEMO_EMAIL = "admin@demo.langos.test"
DEMO_PASSWORD = "demo-password"


RESTART_NOTE = """
Langos kept its data from the last run, Ashby connection and Langos keys included, but the
fake Ashby starts empty. If Ashby is connected already, skip step 1. In step 2, paste the
Langos API key you kept, or click Rotate key in Settings > Integrations > Ashby for a new one.
"""


def banner(langos_url: str, ashby_url: str, created: bool, data_dir: Path) -> str:
    state = "was created" if created else f"already existed; delete {data_dir} to start over"
    restart = "" if created else RESTART_NOTE
    return f"""
Langos demo is running, with its data in {data_dir}. The demo workspace {state}.
{restart}
  Langos     {langos_url}      sign in as {DEMO_EMAIL} / {DEMO_PASSWORD}
  Fake Ashby {ashby_url}      plays Ashby: its API and a recruiter's screen

Walk through the setup:
  1. In Langos, open Settings > Integrations > Ashby, paste the Ashby API key
     {DEMO_API_KEY}
     and click Connect. (Try {READONLY_API_KEY} to see a key without write permission.)
  2. Copy the Langos API key that is shown once, open the fake Ashby, paste it with the
     base URL {langos_url}/api/ats/webhook and click Save and test. (The real Ashby has
     this field under Admin > Integrations, as the steps in Langos say.)
  3. In the fake Ashby, click Use in plan on an assessment type, then Start Assessment on a
     candidate.
  4. The invitation email is in this log, and
     LANGOS_DATA_DIR={data_dir} .venv/bin/langos emails --workspace demo
     prints it again; open its link, take the assessment and submit it.
  5. The fake Ashby's activity card shows the status, the score and View in Langos, which
     opens the report in Langos.

Press Ctrl+C to stop.
"""


def check_port_free(host: str, port: int, flag: str) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise ConfigError(f"port {port} on {host} is in use; stop what uses it or pass another {flag}") from None


async def run_demo(host: str, port: int, ashby_port: int, *, data_dir: str = "var/demo") -> None:
    check_port_free(host, port, "--port")
    check_port_free(host, ashby_port, "--ashby-port")
    langos_url = f"http://{host}:{port}"
    ashby_url = f"http://{host}:{ashby_port}"
    folder = Path(data_dir).resolve()
    environ = {
        **os.environ,
        "LANGOS_DATA_DIR": str(folder),
        "LANGOS_PUBLIC_URL": langos_url,
        "LANGOS_ASHBY_API_URL": ashby_url,
    }
    environ.pop("LANGOS_DATABASE_URL", None)
    settings = load_settings(environ)
    configure_logging(settings.log_level, settings.log_format)

    await upgrade_async(settings.database_url)
    langos_app = create_app(settings, migrate=False)
    ashby_app = create_fake_ashby(langos_base_url=f"{langos_url}/api/ats/webhook")

    langos_server = uvicorn.Server(uvicorn.Config(langos_app, host=host, port=port, log_level="info", access_log=False))
    ashby_server = uvicorn.Server(uvicorn.Config(ashby_app, host=host, port=ashby_port, log_level="warning", access_log=False))
    servers = [asyncio.create_task(langos_server.serve()), asyncio.create_task(ashby_server.serve())]
    while not (langos_server.started and ashby_server.started):
        if any(task.done() for task in servers):
            break
        await asyncio.sleep(0.05)

    if langos_server.started and ashby_server.started:
        async with langos_app.state.host.session() as session:
            _, created = await seed_demo(session, email=DEMO_EMAIL, password=DEMO_PASSWORD)
            await session.commit()
        print(banner(langos_url, ashby_url, created, folder), flush=True)

    try:
        await asyncio.gather(*servers)
    finally:
        for server in (langos_server, ashby_server):
            server.should_exit = True


__all__ = ["run_demo"]
