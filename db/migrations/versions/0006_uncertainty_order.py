"""uncertainty order: campaigns can hand out the items the critic is least sure of first (active learning)."""

import sqlalchemy as sa
from alembic import op

revision: str = "0006_uncertainty_order"
down_revision: str | None = "0005_eval_sets"


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("item_order", sa.String(length=20), server_default="progress", nullable=False))
    with op.batch_alter_table("critique_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confidence", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("critique_runs", schema=None) as batch_op:
        batch_op.drop_column("confidence")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("item_order")
