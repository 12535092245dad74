"""Settings > Team: inviting, re-inviting, accepting invitations, closed links, removing a member."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest
from sqlalchemy import select

from core import seed
from core.crypto import hash_token, new_token
from core.exceptions import RequestValidationError
from core.models import AdminInvitation, AdminUser, AuditEvent, Email, utcnow
from tests.conftest import CSRF, AdminClient, Stack

LINK = re.compile(r'<code id="invitation-link">([^<]+)<')
PASSWORD_FORM = 'name="password_again"'


async def invite(stack: Stack, email: str, role: str = "viewer") -> httpx.Response:
    return await stack.admin.post_form("/settings/team/invite", {"email": email, "role": role})


async def choose_password(browser: httpx.AsyncClient, link: str, csrf_token: str) -> httpx.Response:
    """Submit the invitation's password form with a valid password, typed twice."""
    return await browser.post(link, data={"csrf_token": csrf_token, "password": "a-long-password",
                                          "password_again": "a-long-password"})


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
        short = await browser.post(link, data={"csrf_token": token, "password": "short", "password_again": "short"})
        assert short.status_code == 400
        assert "The password must have at least 10 characters." in short.text
        accepted = await choose_password(browser, link, token)
        assert accepted.status_code == 303

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
    assert 'data-field="role"' in bad_role.text


async def test_invite_long_address_rejected(stack: Stack) -> None:
    too_long = await invite(stack, "a" * 300 + "@demo.example")
    assert too_long.status_code == 400
    assert "The email address has 313 characters, more than the maximum of 254." in too_long.text
    assert 'data-field="email"' in too_long.text
    assert 'aria-invalid="true"' in too_long.text
    long_local = await invite(stack, "b" * 65 + "@demo.example")
    assert long_local.status_code == 400
    assert "before the @ has 65 characters, more than the maximum of 64" in long_local.text
    no_domain = await invite(stack, "someone@localhost")
    assert no_domain.status_code == 400
    assert "The domain &#39;localhost&#39; of the email address is not valid" in no_domain.text
    async with stack.langos.state.host.session() as session:
        invitations = list(await session.scalars(select(AdminInvitation)))
    assert invitations == []


@pytest.mark.parametrize("address, error", [
    ("", "is missing"),
    ("no-at-sign.example", "is not valid"),
    ("two@@demo.example", "is not valid"),
    ("with space@demo.example", "is not valid"),
    ("x" * 65 + "@demo.example", "before the @ has 65 characters"),
    ("x@" + "d" * 250 + ".example", "more than the maximum of 254"),
    ("x@-dash.example", "domain"),
    ("x@demo..example", "domain"),
    ("x@10.0.0.1", "domain"),
])
def test_validate_email_rejects(address: str, error: str) -> None:
    with pytest.raises(RequestValidationError) as raised:
        seed.validate_email(address)
    assert raised.value.field == "email"
    assert error in raised.value.message
    assert raised.value.message[0].isupper()


def test_validate_email_normalises() -> None:
    assert seed.validate_email("  Ada.Lovelace@Example.COM ") == "ada.lovelace@example.com"
    assert seed.validate_email("x" * 64 + "@m\u00fcnchen.de") == "x" * 64 + "@m\u00fcnchen.de"


async def test_invite_member_rejected(stack: Stack) -> None:
    existing = await invite(stack, "Admin@Demo.example")
    assert existing.status_code == 400
    assert "admin@demo.example is already an admin of this workspace" in existing.text
    assert "remove them first and then invite them again" in existing.text
    assert 'data-field="email"' in existing.text
    async with stack.langos.state.host.session() as session:
        invitations = list(await session.scalars(select(AdminInvitation)))
    assert invitations == []


async def test_team_hides_invitation_of_member(stack: Stack) -> None:
    await add_invitation(stack, "cli.member@demo.example", created_days_ago=0, expires_in_days=7)
    team = await stack.admin.client.get("/settings/team")
    assert 'data-testid="pending-invitation" data-email="cli.member@demo.example"' in team.text
    async with stack.langos.state.host.session() as session:
        workspace = await seed.get_workspace(session, "demo")
        await seed.create_admin(session, workspace, "cli.member@demo.example", "a-long-password", role="viewer")
        await session.commit()
    team = await stack.admin.client.get("/settings/team")
    assert 'data-testid="pending-invitation"' not in team.text


async def test_reinvite_replaces_pending_invitation(stack: Stack) -> None:
    first = await invite(stack, "twice@demo.example")
    assert "invitation-replaced" not in first.text
    old_link = LINK.search(first.text).group(1)
    second = await invite(stack, "twice@demo.example", role="admin")
    assert second.status_code == 200
    assert "A new invitation replaced the earlier one to <strong>twice@demo.example</strong>" in second.text
    new_link = LINK.search(second.text).group(1)
    assert new_link != old_link
    assert second.text.count('data-testid="pending-invitation" data-email="twice@demo.example"') == 1
    assert "twice@demo.example as admin" in second.text

    async with httpx.AsyncClient(timeout=10) as browser:
        old_page = await browser.get(old_link)
        assert old_page.status_code == 410
        assert 'data-reason="superseded"' in old_page.text
        assert "Open the link in the newest invitation email" in old_page.text
        assert PASSWORD_FORM not in old_page.text
        new_page = await browser.get(new_link)
        assert new_page.status_code == 200
        assert PASSWORD_FORM in new_page.text
        token = CSRF.search(new_page.text).group(1)
        old_post = await choose_password(browser, old_link, token)
        assert old_post.status_code == 410
        assert 'data-reason="superseded"' in old_post.text

    async with stack.langos.state.host.session() as session:
        assert await session.scalar(select(AdminUser).where(AdminUser.email == "twice@demo.example")) is None
        invited = list(await session.scalars(
            select(AuditEvent).where(AuditEvent.action == "admin_invited", AuditEvent.target == "twice@demo.example")
            .order_by(AuditEvent.at)
        ))
    assert len(invited) == 2
    assert "invitation_superseded" not in invited[0].detail
    assert len(invited[1].detail["invitation_superseded"]) == 1


async def add_invitation(stack: Stack, email: str, *, created_days_ago: float, expires_in_days: float) -> str:
    """Store an invitation directly, as one sent before the newest rules or by a concurrent request; return its link."""
    token = new_token()
    now = utcnow()
    async with stack.langos.state.host.session() as session:
        workspace = await seed.get_workspace(session, "demo")
        session.add(AdminInvitation(
            workspace_id=workspace.id, email=email, role="viewer", token_digest=hash_token(token),
            invited_by="admin@demo.example", created_at=now - dt.timedelta(days=created_days_ago),
            expires_at=now + dt.timedelta(days=expires_in_days),
        ))
        await session.commit()
    return f"{stack.langos_url}/invite/{token}"


async def test_accept_closes_other_invitations(stack: Stack) -> None:
    sent = await invite(stack, "joiner@demo.example")
    link = LINK.search(sent.text).group(1)
    older_link = await add_invitation(stack, "joiner@demo.example", created_days_ago=1, expires_in_days=6)
    team = await stack.admin.client.get("/settings/team")
    assert team.text.count('data-testid="pending-invitation" data-email="joiner@demo.example"') == 2

    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(link)
        assert "You are invited to <strong>Demo Company</strong>" in page.text
        token = CSRF.search(page.text).group(1)
        accepted = await choose_password(browser, link, token)
        assert accepted.status_code == 303

        used = await browser.get(link)
        assert used.status_code == 410
        assert 'data-reason="accepted"' in used.text
        assert "This invitation was already accepted on" in used.text
        assert 'href="/login"' in used.text
        assert PASSWORD_FORM not in used.text
        used_post = await choose_password(browser, link, token)
        assert used_post.status_code == 410
        assert 'data-reason="accepted"' in used_post.text

        older = await browser.get(older_link)
        assert older.status_code == 410
        assert 'data-reason="member"' in older.text
        assert "joiner@demo.example is already a viewer of Demo Company. Sign in with that address." in older.text
        assert 'href="/login"' in older.text
        assert "workspace &#39;demo&#39;" not in older.text
        assert PASSWORD_FORM not in older.text
        older_post = await choose_password(browser, older_link, token)
        assert older_post.status_code == 410
        assert "joiner@demo.example is already a viewer of Demo Company" in older_post.text
        assert 'href="/login"' in older_post.text

    team = await stack.admin.client.get("/settings/team")
    assert 'data-testid="pending-invitation"' not in team.text
    assert "Invitations not yet accepted" not in team.text
    async with stack.langos.state.host.session() as session:
        invitations = list(await session.scalars(
            select(AdminInvitation).where(AdminInvitation.email == "joiner@demo.example")
        ))
    assert len(invitations) == 2
    assert sum(invitation.accepted_at is not None for invitation in invitations) == 1
    assert all(invitation.expires_at <= utcnow() for invitation in invitations if invitation.accepted_at is None)


async def test_expired_link_explains_next_step(stack: Stack) -> None:
    link = await add_invitation(stack, "late@demo.example", created_days_ago=8, expires_in_days=-1)
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(link)
        assert page.status_code == 410
        assert 'data-reason="expired"' in page.text
        assert "This invitation expired on" in page.text
        assert "Ask admin@demo.example or another admin of Demo Company to send a new invitation." in page.text
        assert PASSWORD_FORM not in page.text
        login = await browser.get(f"{stack.langos_url}/login")
        token = CSRF.search(login.text).group(1)
        submitted = await choose_password(browser, link, token)
        assert submitted.status_code == 410
        assert 'data-reason="expired"' in submitted.text
        unknown = await browser.get(f"{stack.langos_url}/invite/not-a-token")
        assert unknown.status_code == 404
    async with stack.langos.state.host.session() as session:
        assert await session.scalar(select(AdminUser).where(AdminUser.email == "late@demo.example")) is None


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
