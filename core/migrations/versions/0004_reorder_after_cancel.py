"""Let an order be placed again after its assessment was cancelled.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NOT_CANCELLED = sa.text("status != 'cancelled'")


def upgrade() -> None:
    with op.batch_alter_table("assessments") as batch:
        batch.drop_constraint(op.f("uq_assessments_integration_id_external_application_id_assessment_type_id"), type_="unique")
    op.create_index(
        "uq_assessments_open_order",
        "assessments",
        ["integration_id", "external_application_id", "assessment_type_id"],
        unique=True,
        sqlite_where=NOT_CANCELLED,
        postgresql_where=NOT_CANCELLED,
    )


def downgrade() -> None:
    op.drop_index("uq_assessments_open_order", table_name="assessments")
    with op.batch_alter_table("assessments") as batch:
        batch.create_unique_constraint(
            op.f("uq_assessments_integration_id_external_application_id_assessment_type_id"), ["integration_id", "external_application_id", "assessment_type_id"]
        )
