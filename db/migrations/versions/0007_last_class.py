"""last class: each user's last picked teacher class, shown again after a login or reload."""

import sqlalchemy as sa
from alembic import op

revision: str = "0007_last_class"
down_revision: str | None = "0006_uncertainty_order"

FK_NAME = "fk_users_last_class_id_campaigns"


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_class_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(FK_NAME, "campaigns", ["last_class_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(FK_NAME, type_="foreignkey")
        batch_op.drop_column("last_class_id")
