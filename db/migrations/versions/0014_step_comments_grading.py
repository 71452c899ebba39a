"""step comments on annotations; a class's points and credit rule per problem, and rubric ticks per submission."""

import sqlalchemy as sa
from alembic import op

revision: str = "0014_step_comments_grading"
down_revision: str | None = "0013_webhooks"


def upgrade() -> None:
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("step_comments", sa.JSON(), server_default="{}", nullable=False))
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grading", sa.JSON(), server_default="{}", nullable=False))
    with op.batch_alter_table("class_submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rubric_ticks", sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("class_submissions", schema=None) as batch_op:
        batch_op.drop_column("rubric_ticks")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("grading")
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.drop_column("step_comments")
