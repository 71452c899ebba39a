"""campaign assignments and class submissions (web app)

Revision ID: 0003_assignments_classes
Revises: 0002_training_data_hash
Create Date: 2026-11-27 13:30:00
"""

from db.migrations.tables import create_table, drop_table, integer, string, timestamp

revision: str = "0003_assignments_classes"
down_revision: str | None = "0002_training_data_hash"


def upgrade() -> None:
    create_table(
        "campaign_assignments",
        integer("campaign_id"),
        integer("user_id"),
        timestamp("assigned_at"),
        foreign_keys=[("campaign_id", "campaigns", "CASCADE"), ("user_id", "users", "CASCADE")],
        primary_key=("campaign_id", "user_id"),
        indexes=["user_id"],
    )
    create_table(
        "class_submissions",
        integer("campaign_id"),
        integer("item_id"),
        string("student", 200),
        integer("position"),
        timestamp("created_at"),
        foreign_keys=[("campaign_id", "campaigns", "CASCADE"), ("item_id", "items", "CASCADE")],
        indexes=["campaign_id"],
    )


def downgrade() -> None:
    drop_table("class_submissions", indexes=["campaign_id"])
    drop_table("campaign_assignments", indexes=["user_id"])
