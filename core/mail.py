"""Outgoing email: queued in the database, sent by the delivery worker through a backend.

The ``log`` backend (the default) writes each email to the log and leaves it in the
``emails`` table, where a developer can read the invitation link. The ``smtp`` backend
sends through the configured server with the standard library's ``smtplib``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.message
import logging
import re
import smtplib
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from .config import MailSettings
from .email_templates import (
    DEFAULT_LANGUAGE,
    KINDS,
    RenderedEmail,
    TemplateSource,
    default_template,
    format_expiry,
    render_email,
    stored_template,
)
from .models import Assessment, AssessmentType, Email, Workspace

logger = logging.getLogger(__name__)


class StoredTemplate(Protocol):
    """A workspace's own template: an ``EmailTemplate``, or a row with the same columns."""

    id: str
    subject: str
    body: str


class MailDeliveryError(Exception):
    """Sending an email failed; ``reason`` is a plain sentence fit for admins and the ATS.

    ``permanent`` is True when sending the same email again cannot succeed: the server
    rejected the recipient, the sender or the message with a 5xx reply, or the address is
    invalid. Connection errors, timeouts and 4xx replies are temporary.
    """

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class MailBackend(Protocol):
    async def send(self, message: Email) -> None:
        """Send ``message``; raise ``MailDeliveryError`` or ``OSError`` when that fails."""
        ...


class LogMailBackend:
    """Writes the email's plain-text part to the log; the row in ``emails`` keeps both parts."""

    async def send(self, message: Email) -> None:
        logger.info("email %s to %s: %s\n%s", message.id, message.recipient, message.subject, message.body_text)


class SmtpMailBackend:
    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    async def send(self, message: Email) -> None:
        await asyncio.to_thread(self._send_blocking, message)

    def _send_blocking(self, message: Email) -> None:
        settings = self.settings
        check_address(message.recipient)
        outgoing = build_message(message, settings.sender)

        try:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout) as client:
                if settings.smtp_starttls:
                    client.starttls()
                if settings.smtp_username and settings.smtp_password:
                    client.login(settings.smtp_username, settings.smtp_password)
                client.send_message(outgoing)
        except (smtplib.SMTPException, OSError) as exc:
            raise classify_smtp_error(exc, message.recipient) from exc
        logger.info("email %s sent to %s through %s:%s", message.id, message.recipient, settings.smtp_host, settings.smtp_port)


# A deliberately loose check: one "@" with text on both sides and no whitespace. The mail
# server has the final word, and its refusal is reported as a permanent failure.
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")


def check_address(address: str) -> None:
    """Raise a permanent ``MailDeliveryError`` when ``address`` cannot be an email address."""
    if not _ADDRESS.fullmatch(address or ""):
        raise MailDeliveryError(f"The address {address!r} is not a valid email address.", permanent=True)


def build_message(message: Email, sender: str) -> email.message.EmailMessage:
    """Build the outgoing message: plain text, plus an HTML alternative when the email has one."""
    outgoing = email.message.EmailMessage()
    try:
        outgoing["From"] = sender
        outgoing["To"] = message.recipient
        outgoing["Subject"] = message.subject
    except ValueError as exc:
        raise MailDeliveryError(f"The email's headers are invalid: {exc}", permanent=True) from exc
    outgoing.set_content(message.body_text)
    if message.body_html:
        outgoing.add_alternative(message.body_html, subtype="html")
    return outgoing


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return f"{code} {' '.join(text.split())}".strip()


def classify_smtp_error(exc: BaseException, recipient: str) -> MailDeliveryError:
    """Turn an ``smtplib`` or socket error into a ``MailDeliveryError`` with a plain reason.

    Replies with a 5xx code are permanent; 4xx replies, timeouts and connection errors are
    temporary. The reason quotes the server's reply and never the SMTP credentials.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = exc.recipients.get(recipient) or next(iter(exc.recipients.values()), (550, b""))
        return MailDeliveryError(
            f"The mail server refused the address {recipient}: {_reply(code, text)}", permanent=code >= 500
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return MailDeliveryError(
            f"The mail server refused the sender address {exc.sender}: {_reply(exc.smtp_code, exc.smtp_error)}",
            permanent=exc.smtp_code >= 500,
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return MailDeliveryError(
            f"The mail server rejected the SMTP username or password: {_reply(exc.smtp_code, exc.smtp_error)}",
            permanent=exc.smtp_code >= 500,
        )
    if isinstance(exc, smtplib.SMTPDataError):
        return MailDeliveryError(
            f"The mail server rejected the message: {_reply(exc.smtp_code, exc.smtp_error)}",
            permanent=exc.smtp_code >= 500,
        )
    if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 400:
        return MailDeliveryError(
            f"The mail server replied with an error: {_reply(exc.smtp_code, exc.smtp_error)}",
            permanent=exc.smtp_code >= 500,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MailDeliveryError(f"The mail server does not support a required feature: {exc}", permanent=True)
    if isinstance(exc, TimeoutError):
        return MailDeliveryError("The mail server did not reply in time.", permanent=False)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return MailDeliveryError("The mail server closed the connection unexpectedly.", permanent=False)
    if isinstance(exc, OSError):
        return MailDeliveryError(f"Could not reach the mail server: {exc.strerror or exc}", permanent=False)
    return MailDeliveryError(f"Sending failed: {type(exc).__name__}: {exc}", permanent=False)


def create_backend(settings: MailSettings) -> MailBackend:
    if settings.backend == "smtp":
        return SmtpMailBackend(settings)
    return LogMailBackend()


async def queue_candidate_email(session: AsyncSession, assessment: Assessment, kind: str, link: str) -> Email:
    """Render the candidate's invitation or reminder and queue it in the caller's transaction.

    See ``render_candidate_email`` for the choice of template.

    :param kind: ``"invitation"`` or ``"reminder"``.
    :param link: the candidate's personal link, which the email must contain.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown email kind {kind!r}; expected one of {', '.join(KINDS)}")

    language = assessment.language or DEFAULT_LANGUAGE
    variables = await candidate_variables(session, assessment, link)
    stored = await stored_template(session, assessment.workspace_id, kind, language)
    rendered = render_candidate_email(
        stored, variables, kind=kind, language=language, workspace_id=assessment.workspace_id,
        assessment_id=assessment.id,
    )
    message = Email(
        workspace_id=assessment.workspace_id,
        assessment_id=assessment.id,
        recipient=assessment.candidate_email,
        subject=rendered.subject,
        body_text=rendered.body_text,
        body_html=rendered.body_html,
        kind=kind,
    )
    session.add(message)
    assessment.invitation_status = "queued"
    assessment.invitation_error = None
    return message


def render_candidate_email(
    stored: StoredTemplate | None,
    variables: dict[str, Any],
    *,
    kind: str,
    language: str,
    workspace_id: str,
    assessment_id: str,
) -> RenderedEmail:
    """Render a candidate email from the workspace's template ``stored``, or from the built-in default.

    The built-in default for ``kind`` in ``language`` is used when the workspace has no
    template of its own. A stored template that fails with these variables, or leaves out
    the link, is logged and replaced by the default, so the candidate still gets a working email.
    """
    link = str(variables["link"])
    rendered = None
    if stored is not None:
        try:
            rendered = render_email(TemplateSource(stored.subject, stored.body), variables, language)
        except Exception as exc:
            logger.warning("email template %s (%s, %s) of workspace %s failed for assessment %s: %s: %s; "
                           "sending the built-in default", stored.id, kind, language, workspace_id,
                           assessment_id, type(exc).__name__, exc)
        # Validation only checks that the body mentions the link; a condition can still leave it out.
        if rendered is not None and link not in rendered.body_text:
            logger.warning("email template %s (%s, %s) of workspace %s left out the link for assessment %s; "
                           "sending the built-in default", stored.id, kind, language, workspace_id, assessment_id)
            rendered = None
    if rendered is None:
        rendered = render_email(default_template(kind, language), variables, language)
    return rendered


async def candidate_variables(session: AsyncSession, assessment: Assessment, link: str) -> dict[str, Any]:
    """Return the template variables for ``assessment``; the keys are ``email_templates.VARIABLES``."""
    # Loaded explicitly: the relationship is not loaded on an assessment created in this session.
    assessment_type = await session.get(AssessmentType, assessment.assessment_type_id)
    workspace = await session.get(Workspace, assessment.workspace_id)
    time_limit = assessment.time_limit_minutes
    if time_limit is None and assessment_type is not None:
        time_limit = assessment_type.time_limit_minutes
    return email_variables(
        first_name=assessment.candidate_first_name,
        name=assessment.candidate_name,
        assessment_name=assessment_type.name if assessment_type is not None else "",
        job_name=assessment.job_name,
        time_limit_minutes=time_limit,
        expires_at=assessment.expires_at,
        language=assessment.language or DEFAULT_LANGUAGE,
        link=link,
        workspace_name=workspace.name if workspace is not None else "",
    )


def email_variables(
    *,
    first_name: str,
    name: str,
    assessment_name: str,
    job_name: str | None,
    time_limit_minutes: int | None,
    expires_at: dt.datetime | None,
    language: str,
    link: str,
    workspace_name: str,
) -> dict[str, Any]:
    """Return the template variables of one candidate email; the keys are ``email_templates.VARIABLES``."""
    return {
        # A candidate without a first name is greeted by full name, else by email address.
        "candidate_first_name": first_name or name,
        "candidate_name": name,
        "assessment_name": assessment_name,
        "job_name": job_name or "",
        "time_limit_minutes": time_limit_minutes,
        "expires_at": format_expiry(expires_at, language),
        "link": link,
        "workspace_name": workspace_name,
    }
