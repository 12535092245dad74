"""Store an engine event id at most once per assessment.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("timeline_events") as batch:
        batch.create_unique_constraint("uq_timeline_events_assessment_id_external_event_id", ["assessment_id", "external_event_id"])


def downgrade() -> None:
    with op.batch_alter_table("timeline_events") as batch:
        batch.drop_constraint("uq_timeline_events_assessment_id_external_event_id", type_="unique")
