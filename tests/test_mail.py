"""Invitations through the SMTP backend, received by a real SMTP server on loopback."""

from __future__ import annotations

import asyncio
from email import message_from_bytes, policy
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import select

from core.app import create_app
from core.config import load_settings
from core.models import Email
from core.seed import seed_demo
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, AdminClient, issued_key, langos_env
from tests.live import bind_loopback, serve, url_of, wait_for
from connectors.ashby.fake import create_fake_ashby
from tests.test_connector_ashby import basic, start_body


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's handler name
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"


async def test_invitation_is_sent_by_smtp(tmp_path: Path) -> None:
    inbox = Inbox()
    smtp_port = bind_loopback()
    port = smtp_port.getsockname()[1]
    smtp_port.close()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)

    langos_sock, ashby_sock = bind_loopback(), bind_loopback()
    settings = load_settings(langos_env(
        tmp_path,
        LANGOS_PUBLIC_URL=url_of(langos_sock),
        LANGOS_ASHBY_API_URL=url_of(ashby_sock),
        LANGOS_MAIL_BACKEND="smtp",
        LANGOS_SMTP_HOST="127.0.0.1",
        LANGOS_SMTP_PORT=str(port),
        LANGOS_MAIL_FROM="Langos <invites@langos.example>",
    ))
    app = create_app(settings)
    try:
        async with serve(create_fake_ashby(), ashby_sock), serve(app, langos_sock) as url:
            async with app.state.host.session() as session:
                await seed_demo(session, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
                await session.commit()
            async with httpx.AsyncClient(base_url=url, timeout=10) as browser:
                admin = AdminClient(browser)
                await admin.login()
                key = issued_key(await admin.connect())
                listed = await browser.post("/api/ats/webhook/assessment.list", json={}, headers=basic(key))
                body = start_body(listed.json()["results"][0]["assessment_type_id"])
                started = await browser.post("/api/ats/webhook/assessment.start", json=body, headers=basic(key))
                assert started.status_code == 200

            await wait_for(lambda: inbox.messages)

            async def sent_email() -> Email | None:
                async with app.state.host.session() as session:
                    return await session.scalar(select(Email).where(Email.status == "sent"))

            stored = await wait_for(sent_email)
    finally:
        await asyncio.to_thread(controller.stop)

    [message] = inbox.messages
    assert message["To"] == "ada@example.com"
    assert message["From"] == "Langos <invites@langos.example>"
    assert message["Subject"] == "Your assessment: Backend Python (30 min)"
    assert message.get_content_type() == "multipart/alternative"
    assert f"{url}/take/" in message.get_body(("plain",)).get_content()
    assert f'href="{url}/take/' in message.get_body(("html",)).get_content()
    assert stored.status == "sent"
