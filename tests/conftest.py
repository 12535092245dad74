"""Shared fixtures: Langos and the fake Ashby served by uvicorn on loopback ports."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import argon2
import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from connectors.ashby.fake import create_fake_ashby
from core import crypto
from core.app import create_app
from core.config import load_settings
from core.seed import seed_demo
from tests.databases import migrated_sqlite
from tests.live import bind_loopback, serve, url_of

ADMIN_EMAIL = "admin@demo.example"
ADMIN_PASSWORD = "correct-horse-battery"
ASHBY_KEY = "ashby_demo_key_0123456789"
ASHBY_READONLY_KEY = "ashby_readonly_key_0123456789"

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ISSUED_KEY = re.compile(r'id="issued-key-(\w+)">([^<]+)<')


def pytest_configure(config: pytest.Config) -> None:
    # Argon2 at the product's cost takes about 0.2 s a hash, and the tests create and sign in
    # admins hundreds of times. A hash records its own parameters, so checking works either
    # way; CLI commands run as separate processes keep the product's cost.
    crypto._password_hasher = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def write_plugins(path: Path, body: str = "[connectors.ashby]\nenabled = true\n") -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def langos_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    plugins = tmp_path / "plugins.toml"
    if not plugins.exists():
        write_plugins(plugins)
    if "LANGOS_DATABASE_URL" not in extra:
        migrated_sqlite(tmp_path / "data")
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

    async def post_form(self, path: str, data: dict[str, str] | None = None, *, follow: bool = False) -> httpx.Response:
        token = await self.csrf("/settings/integrations")
        return await self.client.post(path, data={"csrf_token": token, **(data or {})}, follow_redirects=follow)

    async def connect(self, credential: str = ASHBY_KEY, connector: str = "ashby") -> httpx.Response:
        """Post the Connect form and follow the redirect to the page that shows the new key."""
        return await self.post_form(f"/settings/integrations/{connector}/connect", {"credential": credential}, follow=True)


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


@contextlib.asynccontextmanager
async def make_stack(tmp_path: Path, database_url: str | None = None) -> AsyncIterator[Stack]:
    """Run Langos (demo workspace and admin, signed in) and the fake Ashby on loopback ports."""
    langos_sock, ashby_sock = bind_loopback(), bind_loopback()
    langos_url, ashby_url = url_of(langos_sock), url_of(ashby_sock)
    extra = {"LANGOS_DATABASE_URL": database_url} if database_url else {}
    settings = load_settings(langos_env(tmp_path, LANGOS_PUBLIC_URL=langos_url, LANGOS_ASHBY_API_URL=ashby_url, **extra))
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


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The stack on a SQLite file."""
    async with make_stack(tmp_path) as running:
        yield running


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards.

    Uses the server named by ``LANGOS_TEST_POSTGRES_URL``; the test is skipped when it is
    unset or unreachable, unless ``LANGOS_REQUIRE_POSTGRES=1``.
    """
    base = os.environ.get("LANGOS_TEST_POSTGRES_URL")
    required = os.environ.get("LANGOS_REQUIRE_POSTGRES") == "1"
    if not base:
        if required:
            raise RuntimeError("LANGOS_REQUIRE_POSTGRES=1 but LANGOS_TEST_POSTGRES_URL is not set")
        pytest.skip("LANGOS_TEST_POSTGRES_URL is not set")

    url = make_url(base)
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"langos_test_{uuid.uuid4().hex[:12]}"
    try:
        connection = await asyncpg.connect(admin_dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        if required:
            raise
        pytest.skip(f"PostgreSQL at {url.host}:{url.port} is not reachable: {exc}")
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()

    yield url.set(database=name).render_as_string(hide_password=False)

    connection = await asyncpg.connect(admin_dsn, timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture
async def pg_stack(tmp_path: Path, postgres_url: str) -> AsyncIterator[Stack]:
    """The stack on a fresh PostgreSQL database."""
    async with make_stack(tmp_path, postgres_url) as running:
        yield running
