"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 13:03:49.260601
"""

from alembic import op

from db.migrations.tables import (
    IndexSpec,
    boolean,
    create_table,
    drop_table,
    integer,
    json,
    real,
    string,
    text,
    timestamp,
)

revision: str = "0001"
down_revision: str | None = None

# The audit trail is append-only in the database itself, not only in the ORM.
_AUDIT_MESSAGE = "annotation_events rows are never updated or deleted"

# Each table's indexes, for creating and dropping them.
_INDEXES: dict[str, list[IndexSpec]] = {
    "items": ["source", "source_id"],
    "model_versions": ["status"],
    "users": [],
    "campaigns": [],
    "critique_runs": ["item_id"],
    "training_jobs": ["status"],
    "annotations": ["annotator_id", ("ix_annotations_campaign_status", ["campaign_id", "status"]), "item_id"],
    "campaign_items": ["item_id"],
    "eval_runs": ["model_version_id", "status"],
    "training_job_logs": ["job_id"],
    "training_metric_points": [("ix_training_metric_points_job_name_step", ["job_id", "name", "step"])],
    "annotation_events": ["annotation_id"],
}


def _items() -> None:
    create_table(
        "items",
        string("content_hash", 64),
        text("problem"),
        json("steps"),
        string("source", 40),
        string("source_id", 200),
        text("answer", nullable=True),
        integer("first_error_step", nullable=True),
        json("metadata"),
        boolean("is_gold"),
        timestamp("created_at"),
        unique=["content_hash"],
        indexes=_INDEXES["items"],
    )


def _model_versions() -> None:
    create_table(
        "model_versions",
        string("name", 200),
        text("path"),
        string("base_model", 300),
        integer("parent_id", nullable=True),
        string("status", 20),
        json("config"),
        json("metrics"),
        text("notes"),
        timestamp("created_at"),
        timestamp("promoted_at", nullable=True),
        foreign_keys=[("parent_id", "model_versions")],
        unique=["name"],
        indexes=_INDEXES["model_versions"],
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
        integer("created_by_id", nullable=True),
        timestamp("created_at"),
        foreign_keys=[("created_by_id", "users")],
        unique=["name"],
    )


def _critique_runs() -> None:
    create_table(
        "critique_runs",
        integer("item_id"),
        integer("model_version_id", nullable=True),
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
        integer("created_by_id", nullable=True),
        timestamp("created_at"),
        foreign_keys=[
            ("created_by_id", "users"),
            ("item_id", "items", "CASCADE"),
            ("model_version_id", "model_versions"),
        ],
        indexes=_INDEXES["critique_runs"],
    )


def _training_jobs() -> None:
    create_table(
        "training_jobs",
        string("kind", 40),
        string("status", 20),
        json("config"),
        real("progress"),
        json("metrics"),
        text("output_path", nullable=True),
        text("log_path", nullable=True),
        text("error", nullable=True),
        string("worker_id", 200, nullable=True),
        timestamp("heartbeat_at", nullable=True),
        integer("attempts"),
        integer("max_attempts"),
        boolean("cancel_requested"),
        integer("base_model_version_id", nullable=True),
        integer("result_model_version_id", nullable=True),
        integer("created_by_id", nullable=True),
        timestamp("created_at"),
        timestamp("started_at", nullable=True),
        timestamp("finished_at", nullable=True),
        foreign_keys=[
            ("base_model_version_id", "model_versions"),
            ("created_by_id", "users"),
            ("result_model_version_id", "model_versions"),
        ],
        indexes=_INDEXES["training_jobs"],
    )


def _annotations() -> None:
    create_table(
        "annotations",
        integer("item_id"),
        integer("annotator_id"),
        integer("campaign_id", nullable=True),
        json("ratings"),
        integer("first_error_step", nullable=True),
        string("finish_reason", 20, nullable=True),
        json("flagged_steps"),
        text("comment"),
        integer("critique_run_id", nullable=True),
        json("accepted_steps"),
        string("status", 20),
        integer("version"),
        integer("time_spent_ms"),
        integer("reviewer_id", nullable=True),
        text("review_comment"),
        string("import_key", 64, nullable=True),
        timestamp("created_at"),
        timestamp("updated_at"),
        timestamp("submitted_at", nullable=True),
        timestamp("reviewed_at", nullable=True),
        foreign_keys=[
            ("annotator_id", "users"),
            ("campaign_id", "campaigns"),
            ("critique_run_id", "critique_runs"),
            ("item_id", "items"),
            ("reviewer_id", "users"),
        ],
        unique=["import_key", ("uq_annotations_item_annotator_campaign", ["item_id", "annotator_id", "campaign_id"])],
        indexes=_INDEXES["annotations"],
    )


def _campaign_items() -> None:
    create_table(
        "campaign_items",
        integer("campaign_id"),
        integer("item_id"),
        timestamp("added_at"),
        foreign_keys=[("campaign_id", "campaigns", "CASCADE"), ("item_id", "items", "CASCADE")],
        primary_key=("campaign_id", "item_id"),
        indexes=_INDEXES["campaign_items"],
    )


def _eval_runs() -> None:
    create_table(
        "eval_runs",
        integer("model_version_id", nullable=True),
        string("model", 300),
        string("dataset", 200),
        string("status", 20),
        json("config"),
        real("progress"),
        integer("n_items"),
        json("metrics"),
        text("predictions_path", nullable=True),
        text("error", nullable=True),
        string("worker_id", 200, nullable=True),
        timestamp("heartbeat_at", nullable=True),
        integer("attempts"),
        boolean("cancel_requested"),
        integer("training_job_id", nullable=True),
        integer("created_by_id", nullable=True),
        timestamp("created_at"),
        timestamp("started_at", nullable=True),
        timestamp("finished_at", nullable=True),
        foreign_keys=[
            ("created_by_id", "users"),
            ("model_version_id", "model_versions"),
            ("training_job_id", "training_jobs"),
        ],
        indexes=_INDEXES["eval_runs"],
    )


def _training_logs_and_metrics() -> None:
    create_table(
        "training_job_logs",
        integer("job_id"),
        string("level", 10),
        text("message"),
        timestamp("created_at"),
        foreign_keys=[("job_id", "training_jobs", "CASCADE")],
        indexes=_INDEXES["training_job_logs"],
    )
    create_table(
        "training_metric_points",
        integer("job_id"),
        integer("step"),
        string("name", 100),
        real("value"),
        timestamp("created_at"),
        foreign_keys=[("job_id", "training_jobs", "CASCADE")],
        indexes=_INDEXES["training_metric_points"],
    )


def _annotation_events() -> None:
    create_table(
        "annotation_events",
        integer("annotation_id"),
        integer("actor_id", nullable=True),
        string("action", 20),
        integer("version"),
        json("before", nullable=True),
        json("after"),
        timestamp("created_at"),
        foreign_keys=[("actor_id", "users"), ("annotation_id", "annotations", "RESTRICT")],
        indexes=_INDEXES["annotation_events"],
    )
    _create_audit_triggers()


def upgrade() -> None:
    _items()
    _model_versions()
    _users_and_campaigns()
    _critique_runs()
    _training_jobs()
    _annotations()
    _campaign_items()
    _eval_runs()
    _training_logs_and_metrics()
    _annotation_events()


def downgrade() -> None:
    _drop_audit_triggers()
    for table in reversed(_INDEXES):  # the tables in the reverse order of their creation
        drop_table(table, indexes=_INDEXES[table])


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
