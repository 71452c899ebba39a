"""saved views: a user's named filters of the Review list, re-applied from a picker."""

from alembic import op

from db.migrations.tables import create_table, integer, json, string, timestamp

revision: str = "0015_saved_views"
down_revision: str | None = "0014_step_comments_grading"


def upgrade() -> None:
    create_table(
        "saved_views",
        integer("user_id", index=True, references="users", ondelete="CASCADE"),
        string("name", 100),
        json("filters"),
        timestamp("created_at"),
        timestamp("updated_at"),
        unique=[("uq_saved_views_user_id_name", ["user_id", "name"])],
    )


def downgrade() -> None:
    op.drop_table("saved_views")
