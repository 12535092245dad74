"""Pass marks, invitation expiry and languages, email templates, and re-ordering after expiry.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NOT_CANCELLED = sa.text("status != 'cancelled'")
REORDERABLE = sa.text("status NOT IN ('cancelled', 'expired')")
ORDER_COLUMNS = ["integration_id", "external_application_id", "assessment_type_id"]


def upgrade() -> None:
    with op.batch_alter_table("assessment_types") as batch:
        batch.add_column(sa.Column("pass_mark", sa.Float(), nullable=True))
        batch.add_column(sa.Column("expiry_days", sa.Integer(), nullable=False, server_default="7"))
        batch.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("cancelled_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reminder_sent_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("language", sa.String(length=10), nullable=False, server_default="en"))
        batch.add_column(sa.Column("time_limit_minutes", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("pass_mark", sa.Float(), nullable=True))
        batch.add_column(sa.Column("passed", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("invitation_status", sa.String(length=20), nullable=False, server_default="queued"))
        batch.add_column(sa.Column("invitation_error", sa.Text(), nullable=True))
    # Invitations of assessments that existed before this revision were queued and sent by then.
    op.execute("UPDATE assessments SET invitation_status = 'sent'")
    op.create_index("ix_assessments_status_expires", "assessments", ["status", "expires_at"])

    op.drop_index("uq_assessments_open_order", table_name="assessments")
    op.create_index("uq_assessments_open_order", "assessments", ORDER_COLUMNS, unique=True,
                    sqlite_where=REORDERABLE, postgresql_where=REORDERABLE)

    with op.batch_alter_table("emails") as batch:
        batch.add_column(sa.Column("body_html", sa.Text(), nullable=True))
        batch.add_column(sa.Column("kind", sa.String(length=20), nullable=False, server_default="invitation"))

    op.create_table(
        "email_templates",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=320), nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name="fk_email_templates_workspace_id_workspaces",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_email_templates"),
        sa.UniqueConstraint("workspace_id", "kind", "language", name="uq_email_templates_workspace_id_kind_language"),
    )
    op.create_index("ix_email_templates_workspace_id", "email_templates", ["workspace_id"])


def downgrade() -> None:
    op.drop_index("ix_email_templates_workspace_id", table_name="email_templates")
    op.drop_table("email_templates")
    with op.batch_alter_table("emails") as batch:
        batch.drop_column("kind")
        batch.drop_column("body_html")

    op.drop_index("uq_assessments_open_order", table_name="assessments")
    op.create_index("uq_assessments_open_order", "assessments", ORDER_COLUMNS, unique=True,
                    sqlite_where=NOT_CANCELLED, postgresql_where=NOT_CANCELLED)
    op.drop_index("ix_assessments_status_expires", table_name="assessments")
    with op.batch_alter_table("assessments") as batch:
        for column in ("invitation_error", "invitation_status", "passed", "pass_mark", "time_limit_minutes",
                       "language", "reminder_sent_at", "expired_at", "expires_at", "cancelled_reason"):
            batch.drop_column(column)
    with op.batch_alter_table("assessment_types") as batch:
        for column in ("updated_at", "retired_at", "expiry_days", "pass_mark"):
            batch.drop_column(column)
