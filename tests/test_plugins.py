"""Connector discovery, mounting, plugins.toml and the hook facade."""

from __future__ import annotations

import types
from pathlib import Path

import httpx
import pytest

from core.app import create_app
from core.config import load_settings
from core.engine import begin
from core.exceptions import ConfigError, PluginError
from core.hookspecs import hookimpl
from core.models import Assessment
from core.plugins import build_plugin_manager
from core.seed import seed_demo
from tests import acme_connector
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, AdminClient, issued_key, langos_env, write_plugins
from tests.live import bind_loopback, serve, url_of, wait_for

BOTH = '[connectors.ashby]\nenabled = true\n\n[connectors.acme]\nmodule = "tests.acme_connector"\n'


def settings_for(tmp_path: Path, plugins: str, **extra: str):
    write_plugins(tmp_path / "plugins.toml", plugins)
    return load_settings(langos_env(tmp_path, **extra))


def mounted_paths(app) -> set[str]:
    return {getattr(route, "path", "") for route in app.routes}


def test_discovery_mounts_ashby_from_entry_point(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path, "[connectors.ashby]\nenabled = true\n"))
    assert "/api/ats/webhook" in mounted_paths(app)
    assert list(app.state.host.hooks.connectors) == ["ashby"]


def test_discovery_without_plugins_file_enables_installed(tmp_path: Path) -> None:
    settings = load_settings({"LANGOS_DATA_DIR": str(tmp_path)}, plugins_file=None, connectors={})
    hooks = build_plugin_manager(settings)
    assert "ashby" in hooks.connectors


def test_disabled_connector_is_not_mounted(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path, "[connectors.ashby]\nenabled = false\n"))
    assert "/api/ats/webhook" not in mounted_paths(app)
    assert app.state.host.hooks.connectors == {}


def test_module_connector_is_mounted_beside_ashby(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path, BOTH))
    assert {"/api/ats/webhook", "/api/ats/acme"} <= mounted_paths(app)


def test_unknown_enabled_connector_is_named(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="'nope'"):
        build_plugin_manager(settings_for(tmp_path, "[connectors.nope]\nenabled = true\n"))


def test_broken_connector_is_named(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="connector 'broken' failed to load from 'tests.does_not_exist'"):
        build_plugin_manager(settings_for(tmp_path, '[connectors.broken]\nmodule = "tests.does_not_exist"\n'))


def test_connector_with_unknown_hook_fails_check_pending(tmp_path: Path) -> None:
    plugin = types.SimpleNamespace(**{name: getattr(acme_connector, name) for name in dir(acme_connector) if name.startswith("langos_")})

    @hookimpl
    def langos_no_such_hook() -> None:
        return None

    plugin.langos_no_such_hook = langos_no_such_hook
    with pytest.raises(PluginError, match="langos_no_such_hook"):
        build_plugin_manager(settings_for(tmp_path, ""), extra_connectors=[("acme", plugin)])


def test_connector_name_mismatch_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="describes itself as 'acme'"):
        build_plugin_manager(settings_for(tmp_path, ""), extra_connectors=[("other", acme_connector)])


def test_invalid_plugins_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "plugins.toml").write_text("[connectors.ashby\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="plugins.toml is not valid TOML"):
        load_settings(langos_env(tmp_path))


def test_enabled_must_be_boolean(tmp_path: Path) -> None:
    (tmp_path / "plugins.toml").write_text('[connectors.ashby]\nenabled = "yes"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="connectors.ashby.enabled must be true or false"):
        load_settings(langos_env(tmp_path))


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://langos@127.0.0.1:5432/langos", "postgresql+asyncpg://langos@127.0.0.1:5432/langos"),
        ("postgres://langos@127.0.0.1/langos", "postgresql+asyncpg://langos@127.0.0.1/langos"),
        ("postgresql+asyncpg://langos@127.0.0.1/langos", "postgresql+asyncpg://langos@127.0.0.1/langos"),
        ("sqlite:////srv/langos.db", "sqlite+aiosqlite:////srv/langos.db"),
        ("postgresql://langos@db/langos?sslmode=require", "postgresql+asyncpg://langos@db/langos?ssl=require"),
    ],
)
def test_database_url_gets_asyncio_driver(tmp_path: Path, given: str, used: str) -> None:
    assert load_settings(langos_env(tmp_path, LANGOS_DATABASE_URL=given)).database_url == used


def test_env_overrides_connector_option(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, '[connectors.ashby]\napi_url = "http://127.0.0.1:1"\n',
                            LANGOS_ASHBY_API_URL="http://127.0.0.1:2")
    assert settings.connector("ashby").options["api_url"] == "http://127.0.0.1:2"


async def test_second_connector_works_end_to_end(tmp_path: Path) -> None:
    acme_connector.PUSHED.clear()
    sock = bind_loopback()
    app = create_app(settings_for(tmp_path, BOTH, LANGOS_PUBLIC_URL=url_of(sock)))

    async with serve(app, sock) as url:
        host = app.state.host
        async with host.session() as session:
            await seed_demo(session, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
            await session.commit()
        async with httpx.AsyncClient(base_url=url, timeout=10) as browser:
            admin = AdminClient(browser)
            await admin.login()
            page = await browser.get("/settings/integrations")
            assert "Acme ATS" in page.text
            assert "Ashby" in page.text

            rejected = await admin.connect("wrong", connector="acme")
            assert rejected.status_code == 400
            assert "Acme rejected the token" in rejected.text

            key = issued_key(await admin.connect("acme-good-token", connector="acme"))

            tests = await browser.get("/api/ats/acme/tests", headers={"Authorization": f"Bearer {key}"})
            assert tests.status_code == 200
            test_id = tests.json()["tests"][0]["id"]

            # The acme key must not open the Ashby routes.
            ashby = await browser.post("/api/ats/webhook/assessment.list", json={}, headers={"Authorization": f"Bearer {key}"})
            assert ashby.status_code == 401

            order = await browser.post("/api/ats/acme/orders", json={"test_id": test_id, "application": "app-1"},
                                       headers={"Authorization": f"Bearer {key}"})
            assessment_id = order.json()["id"]

            # The sent invitation queues the "invited" update, which goes out before "started".
            await wait_for(lambda: len(acme_connector.PUSHED) == 1)

        async with host.session() as session:
            assessment = await session.get(Assessment, assessment_id)
            await begin(session, assessment)
            await session.commit()

        await wait_for(lambda: len(acme_connector.PUSHED) == 2)
    assert acme_connector.PUSHED == [(assessment_id, "invited"), (assessment_id, "started")]
