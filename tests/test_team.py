"""Settings > Team: inviting a viewer, accepting the invitation, removing a member."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from core.models import AdminUser, AuditEvent, Email
from tests.conftest import CSRF, AdminClient, Stack

LINK = re.compile(r'<code id="invitation-link">([^<]+)<')


async def invite(stack: Stack, email: str, role: str = "viewer") -> httpx.Response:
    return await stack.admin.post_form("/settings/team/invite", {"email": email, "role": role})


async def test_invited_viewer_joins_and_signs_in(stack: Stack) -> None:
    response = await invite(stack, "new.viewer@demo.example")
    assert response.status_code == 200
    link = LINK.search(response.text).group(1)
    assert link.startswith(stack.langos_url + "/invite/")
    async with stack.langos.state.host.session() as session:
        message = await session.scalar(select(Email).where(Email.recipient == "new.viewer@demo.example"))
    assert link in message.body_text

    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(link)
        assert page.status_code == 200
        token = CSRF.search(page.text).group(1)
        mismatch = await browser.post(link, data={"csrf_token": token, "password": "a-long-password", "password_again": "other"})
        assert mismatch.status_code == 400
        assert "The two passwords differ" in mismatch.text
        accepted = await browser.post(link, data={"csrf_token": token, "password": "a-long-password",
                                                  "password_again": "a-long-password"})
        assert accepted.status_code == 303
        again = await browser.get(link)
        assert again.status_code == 404

    async with httpx.AsyncClient(base_url=stack.langos_url, timeout=10) as browser:
        signed_in = await AdminClient(browser).login("new.viewer@demo.example", "a-long-password")
        assert signed_in.status_code == 303
        settings = await browser.get("/settings/integrations")
        assert "(viewer)" in settings.text
        team = await browser.get("/settings/team")
        assert team.status_code == 403

    async with stack.langos.state.host.session() as session:
        actions = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.at)))
    assert "admin_invited" in actions
    assert "invitation_accepted" in actions


async def test_invite_bad_input_names_field(stack: Stack) -> None:
    bad_email = await invite(stack, "not-an-email")
    assert bad_email.status_code == 400
    assert "is not valid" in bad_email.text
    bad_role = await invite(stack, "someone@demo.example", role="owner")
    assert bad_role.status_code == 400
    assert "The role &#39;owner&#39; is unknown" in bad_role.text
    existing = await invite(stack, "admin@demo.example")
    assert existing.status_code == 400
    assert "already a member" in existing.text


async def test_remove_member_ends_access(stack: Stack) -> None:
    from core import seed

    async with stack.langos.state.host.session() as session:
        workspace = await seed.get_workspace(session, "demo")
        member = await seed.create_admin(session, workspace, "leaver@demo.example", "leaver-password", role="admin")
        await session.commit()
    response = await stack.admin.post_form(f"/settings/team/{member.id}/remove")
    assert response.status_code == 303
    async with stack.langos.state.host.session() as session:
        assert await session.get(AdminUser, member.id) is None
    async with httpx.AsyncClient(base_url=stack.langos_url) as browser:
        signed_in = await AdminClient(browser).login("leaver@demo.example", "leaver-password")
    assert signed_in.status_code == 401
