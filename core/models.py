"""The ORM models: workspaces, admins, integrations, keys, assessments and deliveries.

Every row that belongs to a customer carries ``workspace_id``; queries made on behalf of
a key, an admin or a candidate always filter on it.
"""

from __future__ import annotations

import datetime as dt
import uuid6
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_id() -> str:
    """Return a new row id: a UUID version 7, which starts with the time it was made.

    New ids sort after older ones, so each INSERT adds to the end of the primary key's index
    and of the indexes that hold the id, instead of to a random page of each.
    """
    return str(uuid6.uuid7())


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}; pass a timezone-aware value")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AdminUser(Base):
    __tablename__ = "admin_users"
    __table_args__ = (UniqueConstraint("workspace_id", "email"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="admin")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    workspace: Mapped[Workspace] = relationship(lazy="joined")


class Integration(Base):
    """One connector set up in one workspace."""

    __tablename__ = "integrations"
    __table_args__ = (UniqueConstraint("workspace_id", "connector"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    connector: Mapped[str] = mapped_column(String(64))
    # not_connected, connected or error
    status: Mapped[str] = mapped_column(String(20), default="not_connected")
    account_label: Mapped[str | None] = mapped_column(String(300))
    credential_encrypted: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    connected_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ApiKey(Base):
    """An issued key, stored as a keyed digest; ``prefix`` stays visible."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    integration_id: Mapped[str | None] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"), index=True)
    # "ats" keys authenticate an ATS on connector routes; "engine" keys the assessment engine API
    kind: Mapped[str] = mapped_column(String(20))
    prefix: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(320))
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    def is_active(self, now: dt.datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now


class AssessmentType(Base):
    __tablename__ = "assessment_types"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    time_limit_minutes: Mapped[int] = mapped_column(Integer, default=60)
    # the overall score, in percent, a candidate needs to pass; None means no pass mark
    pass_mark: Mapped[float | None] = mapped_column(Float)
    # days until an invitation expires, unless the order sets another value
    expiry_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    # False once retired: no longer listed to the ATS, but its assessments still finish
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, onupdate=utcnow)

    categories: Mapped[list[Category]] = relationship(
        order_by="Category.position", cascade="all, delete-orphan", lazy="selectin"
    )


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    assessment_type_id: Mapped[str] = mapped_column(ForeignKey("assessment_types.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    position: Mapped[int] = mapped_column(Integer, default=0)

    questions: Mapped[list[Question]] = relationship(
        order_by="Question.position", cascade="all, delete-orphan", lazy="selectin"
    )


class Question(Base):
    """A multiple-choice question; ``correct_option`` indexes ``options``."""

    __tablename__ = "questions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    category_id: Mapped[str] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"), index=True)
    prompt: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(JSON)
    correct_option: Mapped[int] = mapped_column(Integer)
    points: Mapped[float] = mapped_column(Float, default=1.0)
    position: Mapped[int] = mapped_column(Integer, default=0)


# An order whose assessment was cancelled or expired may be placed again.
REORDERABLE = "status NOT IN ('cancelled', 'expired')"
# The columns that identify an order: one open assessment per integration, application and type.
ORDER_KEY_COLUMNS = ("integration_id", "external_application_id", "assessment_type_id")


class Assessment(Base):
    """One assessment ordered by an ATS for one candidate."""

    __tablename__ = "assessments"
    __table_args__ = (
        # One open or finished assessment per order; a cancelled one may be ordered again.
        Index(
            "uq_assessments_open_order",
            *ORDER_KEY_COLUMNS,
            unique=True,
            sqlite_where=text(REORDERABLE),
            postgresql_where=text(REORDERABLE),
        ),
        Index("ix_assessments_workspace_created", "workspace_id", "created_at"),
        Index("ix_assessments_status_expires", "status", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    integration_id: Mapped[str | None] = mapped_column(ForeignKey("integrations.id", ondelete="SET NULL"), index=True)
    assessment_type_id: Mapped[str] = mapped_column(ForeignKey("assessment_types.id"))
    external_application_id: Mapped[str] = mapped_column(String(200))
    external_candidate_id: Mapped[str] = mapped_column(String(200))
    candidate_first_name: Mapped[str] = mapped_column(String(200))
    candidate_last_name: Mapped[str] = mapped_column(String(200))
    candidate_email: Mapped[str] = mapped_column(String(320))
    candidate_profile_url: Mapped[str | None] = mapped_column(Text)
    job_name: Mapped[str | None] = mapped_column(String(300))
    external_job_id: Mapped[str | None] = mapped_column(String(200))
    # invited, started, completed, cancelled or expired
    status: Mapped[str] = mapped_column(String(20), default="invited")
    candidate_token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float)
    category_scores: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # shown to the ATS and in the report, e.g. "Cancelled by jane@example.com in Langos"
    cancelled_reason: Mapped[str | None] = mapped_column(Text)
    # the invitation link stops working at this time unless the candidate has started
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    expired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reminder_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # the language of the candidate's emails, an ISO 639-1 code
    language: Mapped[str] = mapped_column(String(10), default="en", server_default="en")
    # copied from the assessment type at creation, so a later edit does not change a running assessment
    time_limit_minutes: Mapped[int | None] = mapped_column(Integer)
    pass_mark: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    # queued, sent or failed: the state of the latest invitation or reminder email
    invitation_status: Mapped[str] = mapped_column(String(20), default="queued", server_default="queued")
    invitation_error: Mapped[str | None] = mapped_column(Text)

    assessment_type: Mapped[AssessmentType] = relationship(lazy="joined")

    @property
    def effective_time_limit(self) -> int:
        if self.time_limit_minutes is not None:
            return self.time_limit_minutes
        return self.assessment_type.time_limit_minutes

    @property
    def candidate_name(self) -> str:
        """Return the candidate's full name, or the email address when the ATS sent no name."""
        return f"{self.candidate_first_name} {self.candidate_last_name}".strip() or self.candidate_email

    @property
    def greeting_name(self) -> str:
        """Return the name to greet the candidate with: the first name, else the full name or email address."""
        return self.candidate_first_name or self.candidate_name

    @property
    def duration_minutes(self) -> float | None:
        if self.started_at is None or self.completed_at is None:
            return None
        return round((self.completed_at - self.started_at).total_seconds() / 60, 1)


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("assessment_id", "question_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[str] = mapped_column(ForeignKey("questions.id"))
    selected_option: Mapped[int] = mapped_column(Integer)
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TimelineEvent(Base):
    __tablename__ = "timeline_events"
    __table_args__ = (UniqueConstraint("assessment_id", "external_event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"), index=True)
    # invited, opened, started, answer, focus_lost, focus_regained, submitted, completed,
    # cancelled, expired, reminder_sent, invitation_resent, invitation_failed, extended, progress
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # set for events reported through the engine API, so a repeated event is stored once
    external_event_id: Mapped[str | None] = mapped_column(String(200))


class Delivery(Base):
    """A status or result update for the ATS: the outbox row, written with the state change.

    A worker claims a row by setting ``claimed_by`` and ``claimed_until``; when the worker
    dies, another takes the row over once ``claimed_until`` has passed.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        UniqueConstraint("assessment_id", "sequence"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"), index=True)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"), index=True)
    connector: Mapped[str] = mapped_column(String(64))
    # invited, invitation_failed, started, completed, cancelled or expired
    event: Mapped[str] = mapped_column(String(40))
    # 1, 2, 3... per assessment: the order in which the ATS must receive the updates
    sequence: Mapped[int] = mapped_column(Integer)
    # pending, delivered, skipped (a newer update was delivered first) or failed (dead-lettered)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # when the retry window started: queueing, or an admin's retry of a dead letter
    queued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class DeliveryAttempt(Base):
    """One try at pushing a delivery, kept for the Deliveries page."""

    __tablename__ = "delivery_attempts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_ms: Mapped[float] = mapped_column(Float)
    # delivered, retry, paused (the integration needs attention), failed or skipped
    outcome: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    worker: Mapped[str | None] = mapped_column(String(100))


class Email(Base):
    """An outgoing email; the log backend leaves it here for a developer to read."""

    __tablename__ = "emails"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    assessment_id: Mapped[str | None] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    # invitation or reminder
    kind: Mapped[str] = mapped_column(String(20), default="invitation", server_default="invitation")
    # pending, sent or failed
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class EmailTemplate(Base):
    """A workspace's wording of one kind of candidate email in one language.

    ``subject`` and ``body`` are Jinja templates rendered in a sandbox; the body is plain
    text, and the HTML part is built from it.
    """

    __tablename__ = "email_templates"
    __table_args__ = (UniqueConstraint("workspace_id", "kind", "language"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    # invitation or reminder
    kind: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(320))


class AuditEvent(Base):
    """A security-relevant action: who did what, when, from where."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_workspace_at", "workspace_id", "at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # None for a failed sign-in with an email that belongs to no workspace
    workspace_id: Mapped[str | None] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the admin's email, "cli" or another operator name
    actor: Mapped[str] = mapped_column(String(320))
    # sign_in, sign_in_failed, admin_invited, invitation_accepted, admin_removed, connect,
    # credential_replaced, disconnect, key_issued, key_rotated, key_revoked, deliveries_resumed,
    # delivery_retried, delivery_replayed, encryption_key_rotated, assessment_type_created,
    # assessment_type_updated, assessment_type_retired, assessment_type_restored,
    # assessment_type_duplicated, email_template_updated, email_template_reset,
    # invitation_resent, invitation_extended, assessment_cancelled
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(300))
    client_address: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AdminInvitation(Base):
    """An invitation to become an admin or viewer of a workspace; the link's token is stored as a digest."""

    __tablename__ = "admin_invitations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
