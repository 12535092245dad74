"""Settings > Integrations over real HTTP: connect, the error messages, keys and disconnect."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import func, select

from core.app import create_app
from core.config import load_settings
from core.models import ApiKey, Integration
from core.seed import seed_demo
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, ASHBY_KEY, ASHBY_READONLY_KEY, AdminClient, Stack, issued_key, langos_env
from tests.live import bind_loopback, serve, url_of


async def stored(stack: Stack) -> tuple[int, int]:
    async with stack.langos.state.host.session() as session:
        connected = await session.scalar(
            select(func.count()).select_from(Integration).where(Integration.credential_encrypted.is_not(None))
        )
        keys = await session.scalar(select(func.count()).select_from(ApiKey))
    return connected, keys


async def test_page_lists_ashby_not_connected(stack: Stack) -> None:
    page = await stack.admin.client.get("/settings/integrations")
    assert page.status_code == 200
    assert "Ashby" in page.text
    assert 'data-status="not_connected"' in page.text


async def test_page_requires_sign_in(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.langos_url) as anonymous:
        response = await anonymous.get("/settings/integrations")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


async def test_connect_shows_key_once_and_stores_it_encrypted(stack: Stack) -> None:
    response = await stack.admin.connect()
    assert response.status_code == 200
    key = issued_key(response)
    assert f"{stack.langos_url}/api/ats/webhook" in response.text

    assert response.url.path == "/settings/integrations"
    again = await stack.admin.client.get("/settings/integrations")
    assert key not in again.text
    assert key[:14] in again.text
    assert 'data-status="connected"' in again.text

    assert key not in str(stack.admin.client.cookies.get("langos_session"))
    async with stack.langos.state.host.session() as session:
        integration = await session.scalar(select(Integration))
        record = await session.scalar(select(ApiKey))
    assert ASHBY_KEY not in integration.credential_encrypted
    assert stack.langos.state.host.vault.decrypt(integration.credential_encrypted).reveal() == ASHBY_KEY
    assert record.digest != key
    assert key not in record.digest


async def test_connect_invalid_key_stores_nothing(stack: Stack) -> None:
    response = await stack.admin.connect("not-a-key")
    assert response.status_code == 400
    assert "invalid or was deactivated" in response.text
    assert await stored(stack) == (0, 0)


async def test_connect_key_without_write_permission(stack: Stack) -> None:
    response = await stack.admin.connect(ASHBY_READONLY_KEY)
    assert response.status_code == 400
    assert "lacks the Candidates: Write permission" in response.text
    assert await stored(stack) == (0, 0)


async def test_connect_empty_key_names_field(stack: Stack) -> None:
    response = await stack.admin.connect("   ")
    assert response.status_code == 400
    assert "The API key is empty" in response.text


async def test_connect_ashby_unreachable(tmp_path: Path) -> None:
    closed = bind_loopback()
    unreachable = url_of(closed)
    closed.close()
    sock = bind_loopback()
    app = create_app(load_settings(langos_env(tmp_path, LANGOS_PUBLIC_URL=url_of(sock), LANGOS_ASHBY_API_URL=unreachable)))
    async with serve(app, sock) as url:
        async with app.state.host.session() as session:
            await seed_demo(session, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
            await session.commit()
        async with httpx.AsyncClient(base_url=url, timeout=10) as browser:
            admin = AdminClient(browser)
            await admin.login()
            response = await admin.connect(ASHBY_KEY)
        async with app.state.host.session() as session:
            keys = await session.scalar(select(func.count()).select_from(ApiKey))
    assert response.status_code == 502
    assert "could not check the key because the ATS did not respond" in response.text
    assert "could not be reached" in response.text
    assert keys == 0


async def test_replace_credential_keeps_keys(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    replaced = await stack.admin.connect(ASHBY_KEY)
    assert replaced.status_code == 200
    assert "Connected to Ashby" in replaced.text
    assert 'data-testid="issued-key"' not in replaced.text
    listed = await stack.http.post(f"{stack.webhook_url}/assessment.list", json={}, auth=(key, ""))
    assert listed.status_code == 200


async def test_revoke_key_from_page(stack: Stack) -> None:
    key = await stack.connect_and_configure()
    async with stack.langos.state.host.session() as session:
        record = await session.scalar(select(ApiKey))
    response = await stack.admin.post_form(f"/settings/integrations/ashby/keys/{record.id}/revoke")
    assert response.status_code == 303
    listed = await stack.http.post(f"{stack.webhook_url}/assessment.list", json={}, auth=(key, ""))
    assert listed.status_code == 401


async def test_disconnect_forgets_credential(stack: Stack) -> None:
    await stack.connect_and_configure()
    response = await stack.admin.post_form("/settings/integrations/ashby/disconnect")
    assert response.status_code == 303
    assert (await stored(stack))[0] == 0
    page = await stack.admin.client.get("/settings/integrations")
    assert 'data-status="not_connected"' in page.text


async def test_post_without_csrf_is_rejected(stack: Stack) -> None:
    response = await stack.admin.client.post("/settings/integrations/ashby/connect", data={"credential": ASHBY_KEY})
    assert response.status_code == 400
    assert await stored(stack) == (0, 0)


async def test_login_wrong_password(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.langos_url) as browser:
        response = await AdminClient(browser).login(password="wrong-password")
    assert response.status_code == 401
    assert "The email address or password is wrong." in response.text


async def test_viewer_sees_no_admin_actions(stack: Stack) -> None:
    from core import seed

    async with stack.langos.state.host.session() as session:
        workspace = await seed.get_workspace(session, "demo")
        await seed.create_admin(session, workspace, "viewer@demo.example", "viewer-password", role="viewer")
        await session.commit()
    await stack.connect_and_configure()

    async with httpx.AsyncClient(base_url=stack.langos_url) as browser:
        viewer = AdminClient(browser)
        await viewer.login("viewer@demo.example", "viewer-password")
        page = await browser.get("/settings/integrations")
        assert "(viewer)" in page.text
        assert "Rotate key" not in page.text
        assert "Disconnect" not in page.text
        assert "Revoke" not in page.text
        response = await viewer.post_form("/settings/integrations/ashby/rotate")
    assert response.status_code == 403
    assert "Only workspace admins can change integrations." in response.text


async def test_reload_after_connect_shows_no_key(stack: Stack) -> None:
    response = await stack.admin.connect()
    key = issued_key(response)
    reloaded = await stack.admin.client.get(response.url)
    assert key not in reloaded.text
    assert 'data-testid="issued-key"' not in reloaded.text
