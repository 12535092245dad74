"""``langos demo``: Langos and a fake Ashby on loopback, with a demo workspace to walk through.

Both apps run under uvicorn in one process. Langos uses a SQLite file under the data
folder and calls the fake Ashby instead of the real Ashby API; nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import uvicorn

from connectors.ashby.fake import DEMO_API_KEY, READONLY_API_KEY, create_fake_ashby

from .app import create_app
from .config import load_settings
from .db import upgrade_async
from .logs import configure_logging
from .seed import seed_demo

DEMO_EMAIL = "admin@demo.langos.test"
DEMO_PASSWORD = "demo-password"


def banner(langos_url: str, ashby_url: str, created: bool) -> str:
    state = "was created" if created else "already existed (delete the data folder to start over)"
    return f"""
Langos demo is running. The demo workspace {state}.

  Langos     {langos_url}      sign in as {DEMO_EMAIL} / {DEMO_PASSWORD}
  Fake Ashby {ashby_url}      plays Ashby: its API and a recruiter's screen

Walk through the setup:
  1. In Langos, open Settings > Integrations > Ashby, paste the Ashby API key
     {DEMO_API_KEY}
     and click Connect. (Try {READONLY_API_KEY} to see a key without write permission.)
  2. Copy the Langos API key that is shown once, open the fake Ashby, paste it with the
     base URL {langos_url}/api/ats/webhook and click Test.
  3. In the fake Ashby, add an assessment to the interview plan and click Start Assessment
     on a candidate.
  4. The invitation email is in this log (and `langos emails --workspace demo`); open its
     link, take the assessment and submit it.
  5. The fake Ashby's activity card shows the status, the score and View in Langos, which
     opens the report in Langos.

Press Ctrl+C to stop.
"""


async def run_demo(host: str, port: int, ashby_port: int, *, data_dir: str = "var/demo") -> None:
    langos_url = f"http://{host}:{port}"
    ashby_url = f"http://{host}:{ashby_port}"
    environ = {
        **os.environ,
        "LANGOS_DATA_DIR": str(Path(data_dir).resolve()),
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
        print(banner(langos_url, ashby_url, created), flush=True)

    try:
        await asyncio.gather(*servers)
    finally:
        for server in (langos_server, ashby_server):
            server.should_exit = True


__all__ = ["run_demo"]
