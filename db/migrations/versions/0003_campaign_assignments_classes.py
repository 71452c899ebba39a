"""campaign assignments and class submissions (web app)."""

from alembic import op

from db.migrations.tables import create_link_table, create_table, integer, string, timestamp

revision: str = "0003_assignments_classes"
down_revision: str | None = "0002_training_data_hash"


def upgrade() -> None:
    create_link_table("campaign_assignments", ("campaign_id", "campaigns"), ("user_id", "users"), "assigned_at")
    create_table(
        "class_submissions",
        integer("campaign_id", index=True, references="campaigns", ondelete="CASCADE"),
        integer("item_id", references="items", ondelete="CASCADE"),
        string("student", 200),
        integer("position"),
        timestamp("created_at"),
    )


def downgrade() -> None:
    op.drop_table("class_submissions")  # a table's indexes go with it
    op.drop_table("campaign_assignments")
