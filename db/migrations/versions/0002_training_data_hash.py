"""training data snapshot hash on jobs and model versions."""

import sqlalchemy as sa
from alembic import op

revision: str = "0002_training_data_hash"
down_revision: str | None = "0001"


def upgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data_hash", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_model_versions_data_hash"), ["data_hash"], unique=False)
    with op.batch_alter_table("training_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("training_jobs", schema=None) as batch_op:
        batch_op.drop_column("data_hash")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_versions_data_hash"))
        batch_op.drop_column("data_hash")
