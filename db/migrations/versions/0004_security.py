"""security: class owners, session versions (revoking web sessions), login attempts (throttling)

Revision ID: 0004_security
Revises: 0003_assignments_classes
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_security"
down_revision: str | None = "0003_assignments_classes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_version", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_campaigns_owner_id"), ["owner_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_campaigns_owner_id_users"), "users", ["owner_id"], ["id"])
    # A class belongs to the teacher who uploaded it; one with no known uploader stays visible to admins only.
    op.execute("UPDATE campaigns SET owner_id = created_by_id WHERE name LIKE 'class: %'")
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=100), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_login_attempts_username_created_at", ["username", "created_at"], unique=False)
        batch_op.create_index("ix_login_attempts_address_created_at", ["address", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempts_address_created_at")
        batch_op.drop_index("ix_login_attempts_username_created_at")
    op.drop_table("login_attempts")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_campaigns_owner_id_users"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_campaigns_owner_id"))
        batch_op.drop_column("owner_id")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_version")
