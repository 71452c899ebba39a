"""initial schema."""

from alembic import op

from db.migrations.tables import (
    boolean,
    claim_columns,
    create_link_table,
    create_table,
    integer,
    json,
    queue_state,
    real,
    run_times,
    string,
    text,
    timestamp,
)

revision: str = "0001"
down_revision: str | None = None

# The audit trail is append-only in the database itself, not only in the ORM.
_AUDIT_MESSAGE = "annotation_events rows are never updated or deleted"

# In the order they are created (each refers only to tables before it); dropped in the reverse order.
_TABLES = (
    "items",
    "model_versions",
    "users",
    "campaigns",
    "critique_runs",
    "training_jobs",
    "annotations",
    "annotation_events",
    "campaign_items",
    "eval_runs",
    "training_job_logs",
    "training_metric_points",
)


def _items() -> None:
    create_table(
        "items",
        string("content_hash", 64),
        text("problem"),
        json("steps"),
        string("source", 40, index=True),
        string("source_id", 200, index=True),
        text("answer", nullable=True),
        integer("first_error_step", nullable=True),
        json("metadata"),
        boolean("is_gold"),
        timestamp("created_at"),
        unique=["content_hash"],
    )


def _model_versions() -> None:
    create_table(
        "model_versions",
        string("name", 200),
        text("path"),
        string("base_model", 300),
        integer("parent_id", nullable=True, references="model_versions"),
        string("status", 20, index=True),
        json("config"),
        json("metrics"),
        text("notes"),
        timestamp("created_at"),
        timestamp("promoted_at", nullable=True),
        unique=["name"],
    )


def _users_and_campaigns() -> None:
    create_table(
        "users",
        string("username", 200),
        string("password_hash", 255, nullable=True),
        string("role", 20),
        boolean("active"),
        timestamp("created_at"),
        unique=["username"],
    )
    create_table(
        "campaigns",
        string("name", 200),
        text("description"),
        text("guidelines"),
        integer("overlap"),
        string("status", 20),
        integer("created_by_id", nullable=True, references="users"),
        timestamp("created_at"),
        unique=["name"],
    )


def _critique_runs() -> None:
    create_table(
        "critique_runs",
        integer("item_id", index=True, references="items", ondelete="CASCADE"),
        integer("model_version_id", nullable=True, references="model_versions"),
        string("model", 300),
        string("backend", 40),
        string("mode", 20),
        integer("samples"),
        json("raw_outputs"),
        json("result"),
        integer("first_error_step", nullable=True),
        json("votes"),
        string("parse_status", 20),
        real("duration_s", nullable=True),
        integer("created_by_id", nullable=True, references="users"),
        timestamp("created_at"),
    )


def _training_jobs() -> None:
    create_table(
        "training_jobs",
        string("kind", 40),
        *queue_state(),
        json("metrics"),
        text("output_path", nullable=True),
        text("log_path", nullable=True),
        text("error", nullable=True),
        *claim_columns(),
        integer("max_attempts"),
        boolean("cancel_requested"),
        integer("base_model_version_id", nullable=True, references="model_versions"),
        integer("result_model_version_id", nullable=True, references="model_versions"),
        *run_times(),
    )


def _annotations_and_their_audit_trail() -> None:
    create_table(
        "annotations",
        integer("item_id", index=True, references="items"),
        integer("annotator_id", index=True, references="users"),
        integer("campaign_id", nullable=True, references="campaigns"),
        json("ratings"),
        integer("first_error_step", nullable=True),
        string("finish_reason", 20, nullable=True),
        json("flagged_steps"),
        text("comment"),
        integer("critique_run_id", nullable=True, references="critique_runs"),
        json("accepted_steps"),
        string("status", 20),
        integer("version"),
        integer("time_spent_ms"),
        integer("reviewer_id", nullable=True, references="users"),
        text("review_comment"),
        string("import_key", 64, nullable=True),
        timestamp("created_at"),
        timestamp("updated_at"),
        timestamp("submitted_at", nullable=True),
        timestamp("reviewed_at", nullable=True),
        unique=["import_key", ("uq_annotations_item_annotator_campaign", ["item_id", "annotator_id", "campaign_id"])],
        indexes=[("ix_annotations_campaign_status", ["campaign_id", "status"])],
    )
    create_table(
        "annotation_events",
        integer("annotation_id", index=True, references="annotations", ondelete="RESTRICT"),
        integer("actor_id", nullable=True, references="users"),
        string("action", 20),
        integer("version"),
        json("before", nullable=True),
        json("after"),
        timestamp("created_at"),
    )
    _create_audit_triggers()


def _campaign_items() -> None:
    create_link_table("campaign_items", ("campaign_id", "campaigns"), ("item_id", "items"), "added_at")


def _eval_runs() -> None:
    create_table(
        "eval_runs",
        integer("model_version_id", nullable=True, index=True, references="model_versions"),
        string("model", 300),
        string("dataset", 200),
        *queue_state(),
        integer("n_items"),
        json("metrics"),
        text("predictions_path", nullable=True),
        text("error", nullable=True),
        *claim_columns(),
        boolean("cancel_requested"),
        integer("training_job_id", nullable=True, references="training_jobs"),
        *run_times(),
    )


def _training_logs_and_metrics() -> None:
    create_table(
        "training_job_logs",
        integer("job_id", index=True, references="training_jobs", ondelete="CASCADE"),
        string("level", 10),
        text("message"),
        timestamp("created_at"),
    )
    create_table(
        "training_metric_points",
        integer("job_id", references="training_jobs", ondelete="CASCADE"),
        integer("step"),
        string("name", 100),
        real("value"),
        timestamp("created_at"),
        indexes=[("ix_training_metric_points_job_name_step", ["job_id", "name", "step"])],
    )


def upgrade() -> None:
    _items()
    _model_versions()
    _users_and_campaigns()
    _critique_runs()
    _training_jobs()
    _annotations_and_their_audit_trail()
    _campaign_items()
    _eval_runs()
    _training_logs_and_metrics()


def downgrade() -> None:
    _drop_audit_triggers()
    for table in reversed(_TABLES):  # a table's indexes go with it
        op.drop_table(table)


def _create_audit_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION annotation_events_immutable() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_AUDIT_MESSAGE}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER annotation_events_immutable BEFORE UPDATE OR DELETE ON annotation_events "
            "FOR EACH ROW EXECUTE FUNCTION annotation_events_immutable()"
        )
    else:
        for when in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER annotation_events_no_{when.lower()} BEFORE {when} ON annotation_events "
                f"BEGIN SELECT RAISE(ABORT, '{_AUDIT_MESSAGE}'); END"
            )


def _drop_audit_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS annotation_events_immutable ON annotation_events")
        op.execute("DROP FUNCTION IF EXISTS annotation_events_immutable()")
    else:
        op.execute("DROP TRIGGER IF EXISTS annotation_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS annotation_events_no_delete")
