"""security: class owners, session versions (revoking web sessions), login attempts (throttling)."""

import sqlalchemy as sa
from alembic import op

from db.migrations.tables import boolean, create_table, string, timestamp

revision: str = "0004_security"
down_revision: str | None = "0003_assignments_classes"


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
        indexes=[
            ("ix_login_attempts_username_created_at", ["username", "created_at"]),
            ("ix_login_attempts_address_created_at", ["address", "created_at"]),
        ],
    )


def downgrade() -> None:
    op.drop_table("login_attempts")  # its indexes go with it
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_campaigns_owner_id_users"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_campaigns_owner_id"))
        batch_op.drop_column("owner_id")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_version")
