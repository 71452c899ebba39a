"""security: class owners, session versions (revoking web sessions), login attempts (throttling)

Revision ID: 0004_security
Revises: 0003_assignments_classes
Create Date: 2026-12-02 10:00:00
"""

import sqlalchemy as sa
from alembic import op

from db.migrations.tables import IndexSpec, boolean, create_table, drop_table, string, timestamp

revision: str = "0004_security"
down_revision: str | None = "0003_assignments_classes"

_LOGIN_ATTEMPT_INDEXES: list[IndexSpec] = [
    ("ix_login_attempts_username_created_at", ["username", "created_at"]),
    ("ix_login_attempts_address_created_at", ["address", "created_at"]),
]


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_version", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_campaigns_owner_id"), ["owner_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_campaigns_owner_id_users"), "users", ["owner_id"], ["id"])
    # A class belongs to the teacher who uploaded it; one with no known uploader stays visible to admins only.
    op.execute("UPDATE campaigns SET owner_id = created_by_id WHERE name LIKE 'class: %'")
    create_table(
        "login_attempts",
        string("username", 200),
        string("address", 100),
        boolean("succeeded"),
        timestamp("created_at"),
        indexes=_LOGIN_ATTEMPT_INDEXES,
    )


def downgrade() -> None:
    drop_table("login_attempts", indexes=_LOGIN_ATTEMPT_INDEXES)
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_campaigns_owner_id_users"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_campaigns_owner_id"))
        batch_op.drop_column("owner_id")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_version")
