"""Candidate emails: templates per language, the sandbox, Settings > Emails, and SMTP failures."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import re
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest
from aiosmtpd.controller import Controller
from jinja2.sandbox import SecurityError
from sqlalchemy import select

from connectors.ashby.fake import create_fake_ashby
from core.app import create_app
from core.cli import cmd_emails
from core.config import load_settings
from core.email_templates import (
    DEFAULTS_DIR,
    KINDS,
    TemplateSource,
    default_template,
    render_email,
    render_text,
    sample_variables,
    validate,
)
from core.engine import EMAIL_LANGUAGES
from core.exceptions import RequestValidationError
from core.mail import queue_candidate_email
from core.models import AdminUser, Assessment, AuditEvent, Delivery, Email, EmailTemplate, TimelineEvent, Workspace
from core.seed import create_admin, seed_demo
from core.types import AssessmentOrder, Candidate
from tests.browser import launch_chromium, skip_without_chromium
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, AdminClient, Stack, issued_key, langos_env
from tests.helpers_web import csrf_in, open_web, sign_in, type_id
from tests.live import bind_loopback, serve, url_of, wait_for
from tests.test_connector_ashby import basic, start_body


# A word each language's default invitation contains, so a fallback to English shows.
GREETINGS = {"en": "Hello Ada", "de": "Hallo Ada", "fr": "Bonjour Ada", "es": "Hola, Ada"}


# Rendering


@pytest.mark.parametrize("language", sorted(EMAIL_LANGUAGES))
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_default_renders_in_language(kind: str, language: str) -> None:
    assert (DEFAULTS_DIR / language / f"{kind}.txt").is_file()
    variables = sample_variables(language)

    rendered = render_email(default_template(kind, language), variables, language)

    assert GREETINGS[language] in rendered.body_text
    assert variables["link"] in rendered.body_text
    assert variables["expires_at"] in rendered.body_text
    assert "Analytical Reasoning" in rendered.subject
    assert f'<html lang="{language}">' in rendered.body_html
    assert f'href="{variables["link"]}"' in rendered.body_html


def test_unknown_language_falls_back_to_english() -> None:
    assert default_template("invitation", "it") == default_template("invitation", "en")


def test_expiry_date_is_written_per_language() -> None:
    assert sample_variables("en")["expires_at"] == "5 December 2026, 14:30 UTC"
    assert sample_variables("de")["expires_at"] == "5. Dezember 2026, 14:30 UTC"
    assert sample_variables("fr")["expires_at"] == "5 décembre 2026 à 14:30 UTC"
    assert sample_variables("es")["expires_at"] == "5 de diciembre de 2026, 14:30 UTC"


def test_html_part_escapes_text() -> None:
    variables = {**sample_variables("en"), "candidate_first_name": "<b>Ada</b> & co"}
    source = TemplateSource("Hi", "Hello {{ candidate_first_name }},\nsecond line\n\nStart here: {{ link }}\n\n{{ link }}\n")

    rendered = render_email(source, variables, "en")

    assert "<b>Ada</b>" in rendered.body_text
    assert "&lt;b&gt;Ada&lt;/b&gt; &amp; co" in rendered.body_html
    assert "<b>Ada</b>" not in rendered.body_html
    assert "co,<br>second line" in rendered.body_html
    # Once inline in a sentence, once on its own line as a button and a plain link.
    assert rendered.body_html.count(f'href="{variables["link"]}"') == 3
    assert "Open the assessment" in rendered.body_html


def test_sandbox_blocks_attribute_access() -> None:
    with pytest.raises(SecurityError):
        render_text("{{ link.__class__ }}", sample_variables("en"))
    with pytest.raises(SecurityError):
        render_text("{{ link.__class__.__mro__ }}", sample_variables("en"))


@pytest.mark.parametrize(
    ("subject", "body", "field", "message"),
    [
        ("", "{{ link }}", "subject", "Subject is missing"),
        ("x" * 301, "{{ link }}", "subject", "at most 300"),
        ("Hi {{ name }}", "{{ link }}", "subject", "Subject, line 1: unknown variable 'name'"),
        ("Hi", "", "body", "Body is missing"),
        ("Hi", "Hello,\nno link here\n", "body", "must contain {{ link }}"),
        ("Hi", "Hello\n{{ link }}\n{% if %}\n", "body", "Body, line 3: a tag is missing its condition"),
        ("Hi {{ candidate_name", "{{ link }}", "subject",
         "Subject, line 1: a {{ is not closed. Close it with }}, as in {{ link }}."),
        ("Hi", "Hello\n{{ link\n\nBye\n", "body", "Body, line 2: a {{ is not closed or holds more than one name."),
        ("Hi", "{{ link }}\n{% if job_name %}\nFor {{ job_name }}\n", "body",
         "Body, line 2: the {% if %} block is not closed. Add {% endif %}"),
        ("Hi", "{{ link }}\n{% endif %}\n", "body", "Body, line 2: {% endif %} has no matching {% if %}."),
        ("Hi", "{{ link }}\n{% when job_name %}\n", "body", "Body, line 2: {% when %} is not a tag email templates know."),
        ("Hi", "{{ link }}\n\nDear candidate_name }}\n", "body", "Body, line 3: }} has no matching {{."),
        ("Hi", "{{ link }}\n{% if job_name %}a{% endfor %}\n", "body",
         "Body, line 2: {% endfor %} does not fit here, because a {% if %} block is still open."),
        ("Hi", "{{ link }}\n{{ }}\n", "body", "Body, line 2: {{ }} is empty."),
        ("Hi", "{{ link }\n", "body", "Body, line 1: a tag ends with a single }."),
        ("Hi", "{{ link }}\n{# note\n", "body", "Body, line 2: a comment opened with {# is not closed."),
        ("Hi", "Hello\n\n{{ candidate }} {{ link }}\n", "body", "Body, line 3: unknown variable 'candidate'"),
        ("Hi", "{{ link }}\n{{ link.__class__ }}\n", "body", "Body, line 2: access to attribute '__class__'"),
        ("Hi", "{{ link }}\n{{ link.nothing }}\n", "body", "Body, line 2:"),
        ("Hi", "{{ link }} {{ 'x' * 100000 }}", "body", "more than 10000 items is not allowed"),
        ("Hi", "{{ link }} {{ '%0999999999d' % 1 }}", "body", "formatting a string with %"),
        ("Hi", "{{ link }}\n{{ link | center(1000000000) }}", "body", "Body, line 2: the filter 'center'"),
        ("Hi", "{{ link }}\n\n{{ link.upper() }}", "body", "Body, line 3: function and method calls"),
        ("Hi", "{{ link }}\n{% for i in range(9) %}{% endfor %}", "body", "Body, line 2: {% for %} loops"),
        ("Hi", "{% set a = link ~ link %}{{ a }}", "body", "Body, line 1: {% set %} assignments"),
    ],
)
def test_validation_names_field(subject: str, body: str, field: str, message: str) -> None:
    with pytest.raises(RequestValidationError) as raised:
        validate(subject, body)
    assert raised.value.field == field
    assert message in raised.value.message
    assert "Jinja" not in raised.value.message
    assert "end of print statement" not in raised.value.message


def test_validation_accepts_conditions_and_filters() -> None:
    body = "{% if job_name is defined and job_name %}{{ job_name | upper }}{% endif %}\r\n{{ link }}\r\n"
    source = validate("  Hi {{ candidate_first_name | default('there') }} ", body)
    assert source.subject == "Hi {{ candidate_first_name | default('there') }}"
    assert source.body == "{% if job_name is defined and job_name %}{{ job_name | upper }}{% endif %}\n{{ link }}\n"


# Queueing


def _order(workspace_id: str, integration_id: str, assessment_type_id: str, application: str,
           language: str | None) -> AssessmentOrder:
    return AssessmentOrder(
        workspace_id=workspace_id,
        integration_id=integration_id,
        assessment_type_id=assessment_type_id,
        external_application_id=application,
        candidate=Candidate(external_id=f"candidate-{application}", first_name="Ada", last_name="Lovelace",
                            email="ada@example.com"),
        job_name="Backend Engineer",
        options={"email_language": language} if language else {},
    )


async def test_queue_uses_workspace_template_then_default(tmp_path: Path) -> None:
    async with open_web(tmp_path) as web:
        seeded = web.seeded
        backend = await type_id(web.app, seeded.workspace_id)
        async with web.app.state.host.session() as session:
            session.add(EmailTemplate(workspace_id=seeded.workspace_id, kind="invitation", language="de",
                                      subject="Hallo {{ candidate_name }}", body="Los geht's: {{ link }}\n"))
            # Valid when saved, but it fails with this assessment's data; the default is sent.
            session.add(EmailTemplate(workspace_id=seeded.workspace_id, kind="reminder", language="de",
                                      subject="Erinnerung", body="{{ link }} {{ 10 // (time_limit_minutes - 30) }}\n"))
            # The link sits in a condition that is false for this order, so the default is sent.
            session.add(EmailTemplate(workspace_id=seeded.workspace_id, kind="invitation", language="es",
                                      subject="Hola", body="{% if job_name == 'Chef' %}{{ link }}{% endif %}\n"))
            await session.commit()

        emails: dict[str, Email] = {}
        for application, language in (("a-de", "de"), ("a-fr", "fr"), ("a-es", "es"), ("a-en", None)):
            order = _order(seeded.workspace_id, seeded.integration_id, backend, application, language)
            async with web.app.state.host.session() as session:
                started = await web.app.state.host.hooks.start_assessment(session=session, order=order)
                emails[application] = await session.scalar(select(Email).where(Email.assessment_id == started.assessment_id))
                await session.commit()

        async with web.app.state.host.session() as session:
            assessment = await session.get(Assessment, emails["a-de"].assessment_id)
            reminder = await queue_candidate_email(session, assessment, "reminder", "http://testserver/take/abc")
            await session.commit()

    german = emails["a-de"]
    assert german.subject == "Hallo Ada Lovelace"
    assert german.kind == "invitation"
    assert german.body_text.startswith("Los geht's: http://testserver/take/")
    assert german.body_html is not None and 'lang="de"' in german.body_html
    assert GREETINGS["fr"] in emails["a-fr"].body_text
    assert emails["a-fr"].subject == "Votre évaluation : Backend Python (30 min)"
    assert GREETINGS["es"] in emails["a-es"].body_text
    assert emails["a-es"].subject == "Tu evaluación: Backend Python (30 min)"
    assert GREETINGS["en"] in emails["a-en"].body_text
    assert "Backend Engineer" in emails["a-en"].body_text
    assert reminder.kind == "reminder"
    assert reminder.subject.startswith("Erinnerung: Ihr Assessment")
    assert "http://testserver/take/abc" in reminder.body_text


async def test_queue_rejects_unknown_kind(tmp_path: Path) -> None:
    async with open_web(tmp_path) as web:
        async with web.app.state.host.session() as session:
            with pytest.raises(ValueError, match="unknown email kind 'welcome'"):
                await queue_candidate_email(session, Assessment(), "welcome", "http://x/take/1")


# Settings > Emails


async def _add_viewer(app: Any, workspace_id: str, email: str) -> None:
    async with app.state.host.session() as session:
        workspace = await session.get(Workspace, workspace_id)
        await create_admin(session, workspace, email, ADMIN_PASSWORD, role="viewer")
        await session.commit()


async def test_settings_page_preview_save_reset(tmp_path: Path) -> None:
    async with open_web(tmp_path) as web:
        client, seeded = web.client, web.seeded
        await sign_in(client, seeded.admin_email)

        page = await client.get("/settings/emails", params={"kind": "reminder", "language": "fr"})
        assert page.status_code == 200
        assert "Rappel : votre évaluation Analytical Reasoning" in page.text
        assert "<iframe sandbox" in page.text
        token = csrf_in(page.text)
        form = {"csrf_token": token, "kind": "reminder", "language": "fr",
                "subject": "Rappel pour {{ candidate_first_name }}", "body": "N'oubliez pas :\n\n{{ link }}\n"}

        missing_csrf = await client.post("/settings/emails", data={**form, "csrf_token": "wrong", "action": "save"})
        assert missing_csrf.status_code == 400

        preview = await client.post("/settings/emails", data={**form, "action": "preview"})
        assert preview.status_code == 200
        assert 'data-testid="preview-subject">Rappel pour Ada<' in preview.text
        assert "N&#39;oubliez pas :" in preview.text
        srcdoc = re.search(r'srcdoc="([^"]*)"', preview.text).group(1)
        assert "&lt;a href=&#34;http://testserver/take/example-link&#34;" in srcdoc
        assert "<script" not in html.unescape(srcdoc)

        invalid = await client.post("/settings/emails", data={**form, "body": "{{ link }}\n{{ nom }}", "action": "save"})
        assert invalid.status_code == 400
        assert 'data-field="body"' in invalid.text
        assert "Body, line 2: unknown variable &#39;nom&#39;" in invalid.text

        unclosed = await client.post("/settings/emails", data={**form, "body": "Bonjour\n{% if job_name %}\n{{ link }}\n",
                                                                "action": "preview"})
        assert unclosed.status_code == 400
        assert 'data-field="body"' in unclosed.text
        assert ("Body, line 2: the {% if %} block is not closed. Add {% endif %} after the text it should contain."
                in html.unescape(unclosed.text))

        saved = await client.post("/settings/emails", data={**form, "action": "save"})
        assert saved.status_code == 303
        shown = await client.get(saved.headers["location"])
        assert 'data-custom="yes"' in shown.text
        assert "Custom wording, last saved by admin@demo.example" in shown.text

        again = await client.post("/settings/emails", data={**form, "subject": "Rappel", "action": "save"})
        assert again.status_code == 303
        async with web.app.state.host.session() as session:
            stored = list(await session.scalars(select(EmailTemplate)))
        assert [(row.kind, row.language, row.subject) for row in stored] == [("reminder", "fr", "Rappel")]

        reset = await client.post("/settings/emails/reset", data={"csrf_token": token, "kind": "reminder", "language": "fr"})
        assert reset.status_code == 303
        async with web.app.state.host.session() as session:
            assert await session.scalar(select(EmailTemplate)) is None
            actions = list(await session.scalars(
                select(AuditEvent.action).where(AuditEvent.action.like("email_template_%")).order_by(AuditEvent.at)
            ))
        assert actions == ["email_template_updated", "email_template_updated", "email_template_reset"]

        unknown = await client.post("/settings/emails", data={**form, "language": "it", "action": "save"})
        assert unknown.status_code == 400
        assert "language &#39;it&#39; is unknown" in unknown.text


async def test_settings_page_viewer_reads_only(tmp_path: Path) -> None:
    async with open_web(tmp_path) as web:
        await _add_viewer(web.app, web.seeded.workspace_id, "viewer@demo.example")
        await sign_in(web.client, "viewer@demo.example")

        page = await web.client.get("/settings/emails")
        assert page.status_code == 200
        assert "readonly" in page.text
        assert 'value="save"' not in page.text
        token = csrf_in(page.text)
        form = {"csrf_token": token, "kind": "invitation", "language": "en", "subject": "Hi", "body": "{{ link }}"}

        saved = await web.client.post("/settings/emails", data={**form, "action": "save"})
        reset = await web.client.post("/settings/emails/reset", data=form)
        assert saved.status_code == 403
        assert reset.status_code == 403
        async with web.app.state.host.session() as session:
            assert await session.scalar(select(EmailTemplate)) is None
            viewer = await session.scalar(select(AdminUser).where(AdminUser.email == "viewer@demo.example"))
        assert viewer.role == "viewer"


# SMTP delivery and failures


class SmtpServer:
    """An aiosmtpd handler that refuses or delays recipients by the local part of their address.

    ``refused@...`` gets a permanent 550, ``busy@...`` a temporary 451 on its first
    attempt; every other address is accepted.
    """

    def __init__(self) -> None:
        self.messages: list = []
        self.busy_attempts = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's name
        local = address.split("@", 1)[0]
        if local == "refused":
            return "550 5.1.1 No such user"
        if local == "busy":
            self.busy_attempts += 1
            if self.busy_attempts == 1:
                return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's handler name
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"


@contextlib.asynccontextmanager
async def smtp_stack(tmp_path: Path) -> AsyncIterator[tuple[Stack, SmtpServer, str]]:
    """Run an SMTP server, the fake Ashby and Langos sending through SMTP; yield them and Langos' ATS key."""
    inbox = SmtpServer()
    smtp_sock = bind_loopback()
    smtp_port = smtp_sock.getsockname()[1]
    smtp_sock.close()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    await asyncio.to_thread(controller.start)

    langos_sock, ashby_sock = bind_loopback(), bind_loopback()
    settings = load_settings(langos_env(
        tmp_path,
        LANGOS_PUBLIC_URL=url_of(langos_sock),
        LANGOS_ASHBY_API_URL=url_of(ashby_sock),
        LANGOS_MAIL_BACKEND="smtp",
        LANGOS_SMTP_HOST="127.0.0.1",
        LANGOS_SMTP_PORT=str(smtp_port),
        LANGOS_MAIL_FROM="Langos <invites@langos.example>",
    ))
    app, ashby = create_app(settings), create_fake_ashby()
    try:
        async with serve(ashby, ashby_sock), serve(app, langos_sock) as url:
            async with app.state.host.session() as session:
                await seed_demo(session, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
                await session.commit()
            async with httpx.AsyncClient(base_url=url, timeout=10) as browser, httpx.AsyncClient(timeout=10) as http:
                admin = AdminClient(browser)
                await admin.login()
                stack = Stack(url, url_of(ashby_sock), app, ashby, admin, http)
                key = issued_key(await admin.connect())
                yield stack, inbox, key
    finally:
        await asyncio.to_thread(controller.stop)


async def _start(stack: Stack, key: str, email: str) -> str:
    headers = basic(key)
    listed = await stack.http.post(f"{stack.webhook_url}/assessment.list", json={}, headers=headers)
    type_id_ = listed.json()["results"][0]["assessment_type_id"]
    candidate = {**start_body(type_id_)["candidate"], "email": email}
    started = await stack.http.post(f"{stack.webhook_url}/assessment.start", json=start_body(type_id_, candidate=candidate),
                                    headers=headers)
    assert started.status_code == 200, started.text
    return started.json()["results"]["assessment_id"]


async def _assessment(stack: Stack, assessment_id: str) -> Assessment:
    async with stack.langos.state.host.session() as session:
        return await session.get(Assessment, assessment_id)


async def _timeline(stack: Stack, assessment_id: str) -> list[TimelineEvent]:
    async with stack.langos.state.host.session() as session:
        return list(await session.scalars(
            select(TimelineEvent).where(TimelineEvent.assessment_id == assessment_id).order_by(TimelineEvent.id)
        ))


async def _deliveries(stack: Stack, assessment_id: str) -> list[Delivery]:
    async with stack.langos.state.host.session() as session:
        return list(await session.scalars(
            select(Delivery).where(Delivery.assessment_id == assessment_id).order_by(Delivery.sequence)
        ))


def _ashby_statuses(stack: Stack, assessment_id: str) -> list[dict]:
    return [u.body for u in stack.ashby.state.fake.updates if u.assessment_id == assessment_id and u.accepted]


async def test_smtp_delivery_outcomes(tmp_path: Path) -> None:
    async with smtp_stack(tmp_path) as (stack, inbox, key):
        sent_id = await _start(stack, key, "ada@example.com")
        refused_id = await _start(stack, key, "refused@example.com")
        busy_id = await _start(stack, key, "busy@example.com")

        async def settled() -> bool:
            states = [(await _assessment(stack, item)).invitation_status for item in (sent_id, refused_id, busy_id)]
            return states == ["sent", "failed", "sent"]

        await wait_for(settled)
        await wait_for(lambda: len(_ashby_statuses(stack, sent_id)) == 1 and len(_ashby_statuses(stack, refused_id)) == 1)
        sent, refused, busy = [await _assessment(stack, item) for item in (sent_id, refused_id, busy_id)]
        refused_timeline = await _timeline(stack, refused_id)
        sent_timeline = await _timeline(stack, sent_id)
        refused_deliveries = await _deliveries(stack, refused_id)
        sent_deliveries = await _deliveries(stack, sent_id)
        async with stack.langos.state.host.session() as session:
            busy_email = await session.scalar(select(Email).where(Email.assessment_id == busy_id))
            refused_email = await session.scalar(select(Email).where(Email.assessment_id == refused_id))
        report = await stack.admin.client.get(f"/reports/{refused_id}")

    # The accepted invitation: both parts, a timeline event and the "invited" update.
    received = {message["To"]: message for message in inbox.messages}
    assert sorted(received) == ["ada@example.com", "busy@example.com"]
    message = received["ada@example.com"]
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",)).get_content()
    markup = message.get_body(("html",)).get_content()
    assert "Hello Ada," in plain
    assert f"{stack.langos_url}/take/" in plain
    assert f'href="{stack.langos_url}/take/' in markup
    assert sent.invitation_error is None
    assert "invitation_sent" in [event.kind for event in sent_timeline]
    assert [row.event for row in sent_deliveries] == ["invited"]

    # The refused address: failed at once, on the timeline and in Ashby.
    assert refused.invitation_status == "failed"
    assert refused.invitation_error == "The mail server refused the address refused@example.com: 550 5.1.1 No such user"
    assert refused_email.status == "failed"
    assert refused_email.attempts == 1
    [failed_event] = [event for event in refused_timeline if event.kind == "invitation_failed"]
    assert failed_event.detail["reason"] == refused.invitation_error
    assert [row.event for row in refused_deliveries] == ["invitation_failed"]
    [body] = _ashby_statuses(stack, refused_id)
    assert body["assessment_status"]["value"] == "Invitation not delivered"
    assert "550 5.1.1 No such user" in str(body["metadata"])
    assert report.status_code == 200

    # The busy mailbox: a 451 is retried, and the second attempt is delivered.
    assert busy.invitation_status == "sent"
    assert busy_email.status == "sent"
    assert busy_email.attempts == 2
    assert inbox.busy_attempts == 2


async def test_smtp_unreachable_fails_after_retries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    closed = bind_loopback()
    port = closed.getsockname()[1]
    closed.close()
    async with smtp_stack(tmp_path) as (stack, _inbox, key):
        # Point the backend at a closed port: every attempt is a refused connection.
        object.__setattr__(stack.langos.state.host.mail.settings, "smtp_port", port)
        assessment_id = await _start(stack, key, "ada@example.com")

        async def failed() -> Assessment | None:
            assessment = await _assessment(stack, assessment_id)
            return assessment if assessment.invitation_status == "failed" else None

        assessment = await wait_for(failed)
        async with stack.langos.state.host.session() as session:
            email_row = await session.scalar(select(Email).where(Email.assessment_id == assessment_id))
        await cmd_emails(stack.langos.state.settings, argparse.Namespace(workspace="demo", limit=5))

    assert email_row.attempts == 5
    assert assessment.invitation_error.startswith("Could not reach the mail server")
    assert "invites@langos.example" not in assessment.invitation_error
    listed = capsys.readouterr().out
    assert "invitation to ada@example.com  [failed]" in listed
    assert f"Last error: {assessment.invitation_error}" in listed


@skip_without_chromium()
async def test_preview_iframe_renders_under_csp(stack: Stack) -> None:
    from playwright.async_api import expect

    async with launch_chromium() as browser:
        page = await browser.new_page()
        violations: list[str] = []
        page.on("console", lambda entry: violations.append(entry.text))
        await page.goto(stack.langos_url + "/login")
        await page.fill("input[name=email]", ADMIN_EMAIL)
        await page.fill("input[name=password]", ADMIN_PASSWORD)
        await page.click("button[type=submit]")

        await page.goto(stack.langos_url + "/settings/emails?kind=invitation&language=de")
        await page.fill("textarea[name=body]", "Hallo {{ candidate_first_name }}<script>window.ran=1</script>\n\n{{ link }}\n")
        await page.click("button[value=preview]")
        frame = page.frame_locator("iframe[data-testid=preview-html]")
        await expect(frame.get_by_role("link", name="Assessment öffnen")).to_have_count(1)
        await expect(frame.get_by_text("Hallo Ada<script>window.ran=1</script>")).to_have_count(1)
        await expect(page.get_by_test_id("preview-subject")).to_have_text("Ihr Assessment: Analytical Reasoning")

    assert violations == []
