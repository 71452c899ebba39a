"""critique rating: an annotator's rating of the critique shown with the item (helpful, partly, misleading)."""

import sqlalchemy as sa
from alembic import op

revision: str = "0016_critique_rating"
down_revision: str | None = "0015_saved_views"


def upgrade() -> None:
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("critique_rating", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.drop_column("critique_rating")
