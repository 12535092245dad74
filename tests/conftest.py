"""Shared fixtures: Langos and the fake Ashby served by uvicorn on loopback ports."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest

from connectors.ashby.fake import create_fake_ashby
from core.app import create_app
from core.config import load_settings
from core.seed import seed_demo
from tests.live import bind_loopback, serve, url_of

ADMIN_EMAIL = "admin@demo.example"
ADMIN_PASSWORD = "correct-horse-battery"
ASHBY_KEY = "ashby_demo_key_0123456789"
ASHBY_READONLY_KEY = "ashby_readonly_key_0123456789"

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ISSUED_KEY = re.compile(r'id="issued-key-(\w+)">([^<]+)<')


def write_plugins(path: Path, body: str = "[connectors.ashby]\nenabled = true\n") -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def langos_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    plugins = tmp_path / "plugins.toml"
    if not plugins.exists():
        write_plugins(plugins)
    return {
        "LANGOS_DATA_DIR": str(tmp_path / "data"),
        "LANGOS_PLUGINS_FILE": str(plugins),
        "LANGOS_DELIVERY_POLL_SECONDS": "0.05",
        "LANGOS_DELIVERY_BACKOFF_SECONDS": "0.05",
        **extra,
    }


class AdminClient:
    """An admin's browser session against a running Langos, over HTTP."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def csrf(self, path: str = "/login") -> str:
        page = await self.client.get(path)
        match = CSRF.search(page.text)
        if match is None:
            raise AssertionError(f"no CSRF token on {path}: {page.status_code}")
        return match.group(1)

    async def login(self, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> httpx.Response:
        token = await self.csrf("/login")
        return await self.client.post("/login", data={"csrf_token": token, "email": email, "password": password, "next": "/"})

    async def post_form(self, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        token = await self.csrf("/settings/integrations")
        return await self.client.post(path, data={"csrf_token": token, **(data or {})})

    async def connect(self, credential: str = ASHBY_KEY, connector: str = "ashby") -> httpx.Response:
        return await self.post_form(f"/settings/integrations/{connector}/connect", {"credential": credential})


def issued_key(response: httpx.Response) -> str:
    match = ISSUED_KEY.search(response.text)
    if match is None:
        raise AssertionError(f"no issued key on the page (status {response.status_code})")
    return match.group(2).strip()


@dataclasses.dataclass
class Stack:
    langos_url: str
    ashby_url: str
    langos: Any
    ashby: Any
    admin: AdminClient
    http: httpx.AsyncClient

    @property
    def webhook_url(self) -> str:
        return self.langos_url + "/api/ats/webhook"

    async def connect_and_configure(self) -> str:
        """Connect Ashby in Langos, hand the issued key to the fake Ashby, and return the key."""
        response = await self.admin.connect()
        key = issued_key(response)
        configured = await self.http.post(
            self.ashby_url + "/_fake/langos/config", json={"base_url": self.webhook_url, "api_key": key}
        )
        configured.raise_for_status()
        return key


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """Langos (SQLite file, demo workspace and admin) and the fake Ashby, both on loopback."""
    langos_sock, ashby_sock = bind_loopback(), bind_loopback()
    langos_url, ashby_url = url_of(langos_sock), url_of(ashby_sock)
    settings = load_settings(langos_env(tmp_path, LANGOS_PUBLIC_URL=langos_url, LANGOS_ASHBY_API_URL=ashby_url))
    langos_app = create_app(settings)
    ashby_app = create_fake_ashby()

    async with serve(ashby_app, ashby_sock), serve(langos_app, langos_sock):
        async with langos_app.state.host.session() as session:
            await seed_demo(session, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
            await session.commit()
        async with httpx.AsyncClient(base_url=langos_url, timeout=10) as browser, httpx.AsyncClient(timeout=10) as http:
            admin = AdminClient(browser)
            login = await admin.login()
            assert login.status_code == 303
            yield Stack(langos_url, ashby_url, langos_app, ashby_app, admin, http)
