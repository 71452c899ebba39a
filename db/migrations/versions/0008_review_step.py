"""review step: a campaign says whether its submitted labels wait for a reviewer's approval before they train."""

import sqlalchemy as sa
from alembic import op

revision: str = "0008_review_step"
down_revision: str | None = "0007_last_class"


def upgrade() -> None:
    # Existing campaigns get the review step: their submitted labels train once a reviewer approves them.
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("needs_review", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("needs_review")
