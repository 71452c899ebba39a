"""actor models: a kind on model versions and evaluation sets (critic or actor), one serving version per kind."""

import sqlalchemy as sa
from alembic import op

revision: str = "0011_actor_models"
down_revision: str | None = "0008_review_step"

_ONE_SERVING = sa.text("status = 'serving'")


def upgrade() -> None:
    op.drop_index("uq_model_versions_one_serving", table_name="model_versions")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=20), nullable=False, server_default="critic"))
        batch_op.create_index(batch_op.f("ix_model_versions_kind"), ["kind"], unique=False)
    op.create_index(
        "uq_model_versions_one_serving",
        "model_versions",
        ["kind", "status"],
        unique=True,
        sqlite_where=_ONE_SERVING,
        postgresql_where=_ONE_SERVING,
    )
    with op.batch_alter_table("eval_sets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=20), nullable=False, server_default="critic"))


def downgrade() -> None:
    with op.batch_alter_table("eval_sets", schema=None) as batch_op:
        batch_op.drop_column("kind")
    op.drop_index("uq_model_versions_one_serving", table_name="model_versions")
    # One serving version in all again: an actor that serves steps down (its row stays, its kind is dropped).
    op.execute("UPDATE model_versions SET status = 'retired' WHERE kind <> 'critic' AND status = 'serving'")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_versions_kind"))
        batch_op.drop_column("kind")
    op.create_index(
        "uq_model_versions_one_serving",
        "model_versions",
        ["status"],
        unique=True,
        sqlite_where=_ONE_SERVING,
        postgresql_where=_ONE_SERVING,
    )
