"""code items: an item's language ("python" for code, null for math) and its tests (MBPP or HumanEval form)."""

import sqlalchemy as sa
from alembic import op

revision: str = "0012_code_items"
down_revision: str | None = "0011_actor_models"


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("tests", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("tests")
        batch_op.drop_column("language")
