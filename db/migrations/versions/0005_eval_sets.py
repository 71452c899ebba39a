"""evaluation sets, eval runs linked to them, the registry's audit trail, at most one serving model version

Revision ID: 0005_eval_sets
Revises: 0004_security
Create Date: 2026-11-28 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_eval_sets"
down_revision: str | None = "0004_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ONE_SERVING = sa.text("status = 'serving'")


def upgrade() -> None:
    op.create_table(
        "eval_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("problem_keys", sa.JSON(), nullable=False),
        sa.Column("n_items", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_eval_sets_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eval_sets")),
        sa.UniqueConstraint("name", name=op.f("uq_eval_sets_name")),
    )
    with op.batch_alter_table("eval_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("eval_set_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_eval_runs_eval_set_id"), ["eval_set_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_eval_runs_eval_set_id_eval_sets"), "eval_sets", ["eval_set_id"], ["id"]
        )
    op.create_table(
        "model_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("previous_serving_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_model_events_actor_id_users")),
        sa.ForeignKeyConstraint(
            ["model_version_id"], ["model_versions.id"], name=op.f("fk_model_events_model_version_id_model_versions")
        ),
        sa.ForeignKeyConstraint(
            ["previous_serving_id"],
            ["model_versions.id"],
            name=op.f("fk_model_events_previous_serving_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_events")),
    )
    with op.batch_alter_table("model_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_events_model_version_id"), ["model_version_id"], unique=False)
    # Two versions could be left serving by racing promotions before this revision: keep the newest one serving.
    op.execute(
        "UPDATE model_versions SET status = 'retired' WHERE status = 'serving' AND id <> "
        "(SELECT id FROM model_versions WHERE status = 'serving' ORDER BY promoted_at DESC, id DESC LIMIT 1)"
    )
    op.create_index(
        "uq_model_versions_one_serving",
        "model_versions",
        ["status"],
        unique=True,
        sqlite_where=_ONE_SERVING,
        postgresql_where=_ONE_SERVING,
    )


def downgrade() -> None:
    op.drop_index("uq_model_versions_one_serving", table_name="model_versions")
    with op.batch_alter_table("model_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_events_model_version_id"))
    op.drop_table("model_events")
    with op.batch_alter_table("eval_runs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_eval_runs_eval_set_id_eval_sets"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_eval_runs_eval_set_id"))
        batch_op.drop_column("eval_set_id")
    op.drop_table("eval_sets")
