"""The audit log: what is recorded, who may read it, and the CSV export."""

from __future__ import annotations

import csv
import io

import httpx

from tests.conftest import ADMIN_EMAIL, ASHBY_KEY, AdminClient, Stack


async def test_audit_records_sign_in_and_integration_changes(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.langos_url) as other:
        await AdminClient(other).login(password="wrong-password")
    await stack.connect_and_configure()
    await stack.admin.connect(ASHBY_KEY)
    await stack.admin.post_form("/settings/integrations/ashby/rotate")
    await stack.admin.post_form("/settings/integrations/ashby/disconnect")

    page = await stack.admin.client.get("/settings/audit")
    assert page.status_code == 200
    for action in ("sign_in", "sign_in_failed", "connect", "credential_replaced", "key_rotated", "disconnect"):
        assert f'data-action="{action}"' in page.text, action

    export = await stack.admin.client.get("/settings/audit.csv")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    actions = [row["action"] for row in rows]
    assert actions.index("connect") < actions.index("disconnect")
    assert all(row["actor"] == ADMIN_EMAIL for row in rows)
    assert all(row["client_address"] == "127.0.0.1" for row in rows)
    assert ASHBY_KEY not in export.text
    assert "lgs_ats_" in export.text


async def test_audit_needs_admin(stack: Stack) -> None:
    from core import seed

    async with stack.langos.state.host.session() as session:
        workspace = await seed.get_workspace(session, "demo")
        await seed.create_admin(session, workspace, "viewer@demo.example", "viewer-password", role="viewer")
        await session.commit()
    async with httpx.AsyncClient(base_url=stack.langos_url) as browser:
        await AdminClient(browser).login("viewer@demo.example", "viewer-password")
        page = await browser.get("/settings/audit")
        export = await browser.get("/settings/audit.csv")
    assert page.status_code == 403
    assert export.status_code == 403


async def test_audit_of_other_workspace_is_hidden(stack: Stack) -> None:
    from tests.test_connector_ashby import other_workspace_key

    await other_workspace_key(stack)
    async with stack.langos.state.host.session() as session:
        from core import audit, seed

        other = await seed.get_workspace(session, "other")
        audit.record(session, workspace_id=other.id, actor="someone@other.example", action="connect", target="ashby")
        await session.commit()
    export = await stack.admin.client.get("/settings/audit.csv")
    assert "someone@other.example" not in export.text
