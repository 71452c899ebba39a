"""evaluation sets, eval runs linked to them, the registry's audit trail, at most one serving model version."""

import sqlalchemy as sa
from alembic import op

from db.migrations.tables import create_table, integer, json, string, text, timestamp

revision: str = "0005_eval_sets"
down_revision: str | None = "0004_security"

_ONE_SERVING = sa.text("status = 'serving'")


def upgrade() -> None:
    create_table(
        "eval_sets",
        string("name", 200),
        text("source"),
        text("description"),
        json("items"),
        json("problem_keys"),
        integer("n_items"),
        integer("created_by_id", nullable=True, references="users"),
        timestamp("created_at"),
        unique=["name"],
    )
    with op.batch_alter_table("eval_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("eval_set_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_eval_runs_eval_set_id"), ["eval_set_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_eval_runs_eval_set_id_eval_sets"), "eval_sets", ["eval_set_id"], ["id"]
        )
    create_table(
        "model_events",
        integer("model_version_id", nullable=True, index=True, references="model_versions"),
        string("action", 20),
        integer("actor_id", nullable=True, references="users"),
        string("actor", 200),
        text("reason"),
        integer("previous_serving_id", nullable=True, references="model_versions"),
        timestamp("created_at"),
    )
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
    op.drop_table("model_events")  # its index goes with it
    with op.batch_alter_table("eval_runs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_eval_runs_eval_set_id_eval_sets"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_eval_runs_eval_set_id"))
        batch_op.drop_column("eval_set_id")
    op.drop_table("eval_sets")
