"""Outgoing email: queued in the database, sent by the delivery worker through a backend.

The ``log`` backend (the default) writes each email to the log and leaves it in the
``emails`` table, where a developer can read the invitation link. The ``smtp`` backend
sends through the configured server with the standard library's ``smtplib``.
"""

from __future__ import annotations

import asyncio
import email.message
import logging
import smtplib
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from .config import MailSettings
from .models import Assessment, AssessmentType, Email

logger = logging.getLogger(__name__)


class MailBackend(Protocol):
    async def send(self, message: Email) -> None: ...


class LogMailBackend:
    """Writes the email to the log; the row in ``emails`` keeps the full text."""

    async def send(self, message: Email) -> None:
        logger.info("email %s to %s: %s\n%s", message.id, message.recipient, message.subject, message.body_text)


class SmtpMailBackend:
    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    async def send(self, message: Email) -> None:
        await asyncio.to_thread(self._send_blocking, message)

    def _send_blocking(self, message: Email) -> None:
        settings = self.settings
        outgoing = email.message.EmailMessage()
        outgoing["From"] = settings.sender
        outgoing["To"] = message.recipient
        outgoing["Subject"] = message.subject
        outgoing.set_content(message.body_text)

        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout) as client:
            if settings.smtp_starttls:
                client.starttls()
            if settings.smtp_username and settings.smtp_password:
                client.login(settings.smtp_username, settings.smtp_password)
            client.send_message(outgoing)
        logger.info("email %s sent to %s through %s:%s", message.id, message.recipient, settings.smtp_host, settings.smtp_port)


def create_backend(settings: MailSettings) -> MailBackend:
    if settings.backend == "smtp":
        return SmtpMailBackend(settings)
    return LogMailBackend()


def queue_invitation(session: AsyncSession, assessment: Assessment, assessment_type: AssessmentType, link: str) -> Email:
    """Queue the candidate's invitation in the caller's transaction."""
    job = f" for the {assessment.job_name} role" if assessment.job_name else ""
    body = (
        f"Hello {assessment.candidate_first_name},\n\n"
        f"You have been invited to take the Langos assessment \"{assessment_type.name}\"{job}.\n"
        f"It takes about {assessment_type.time_limit_minutes} minutes. Open this link to begin:\n\n"
        f"{link}\n\n"
        "The link is personal; please do not share it.\n\n"
        "Good luck,\nLangos\n"
    )
    message = Email(
        workspace_id=assessment.workspace_id,
        assessment_id=assessment.id,
        recipient=assessment.candidate_email,
        subject=f"Your assessment: {assessment_type.name}",
        body_text=body,
    )
    session.add(message)
    return message
