"""webhooks (subscriptions, the event outbox, deliveries) and dataset versions (what each export contained)."""

from alembic import op

from db.migrations.tables import boolean, create_table, integer, json, string, text, timestamp

revision: str = "0013_webhooks"
down_revision: str | None = "0012_code_items"


def upgrade() -> None:
    create_table(
        "webhook_subscriptions",
        text("url"),
        json("events"),
        string("secret", 100),
        text("description"),
        boolean("active"),
        integer("created_by_id", nullable=True, references="users"),
        timestamp("created_at"),
    )
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_subscriptions_active"), ["active"], unique=False)
    create_table(
        "webhook_events",
        string("message_id", 64),
        string("type", 40),
        json("payload"),
        timestamp("created_at"),
        timestamp("dispatched_at", nullable=True, index=True),
        unique=["message_id"],
    )
    create_table(
        "webhook_deliveries",
        integer("subscription_id", index=True, references="webhook_subscriptions", ondelete="CASCADE"),
        integer("event_id", index=True, references="webhook_events", ondelete="CASCADE"),
        string("status", 20),
        integer("attempts"),
        timestamp("next_attempt_at", nullable=True),
        timestamp("last_attempt_at", nullable=True),
        integer("response_code", nullable=True),
        text("last_error"),
        timestamp("created_at"),
        indexes=[("ix_webhook_deliveries_status_next_attempt_at", ["status", "next_attempt_at"])],
    )
    create_table(
        "dataset_versions",
        string("format", 20),
        string("purpose", 100),
        json("filters"),
        json("counts"),
        string("content_hash", 64, index=True),
        json("item_ids"),
        json("annotations"),
        string("created_by", 200),
        timestamp("created_at"),
    )


def downgrade() -> None:
    op.drop_table("dataset_versions")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_events")
    op.drop_table("webhook_subscriptions")
