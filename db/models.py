"""SQLAlchemy 2.x typed declarative models: every table of the annotation database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from core.errors import PermissionDeniedError

# Stable constraint names, so alembic migrations can refer to them on SQLite (batch mode) and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("admin", "reviewer", "annotator", "teacher", "viewer")
CAMPAIGN_STATUSES = ("active", "paused", "closed")
ANNOTATION_STATUSES = ("draft", "submitted", "approved", "rejected")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    """A person (or an imported PRM800K labeler: inactive, no password) with one role."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="annotator")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on a password change or deactivation: web sessions opened at an older value are logged out.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The class a teacher picked last, shown again after a login or reload; use_alter: campaigns refer to users too.
    last_class_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL", use_alter=True), default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def __repr__(self) -> str:
        return f"User(id={self.id}, username={self.username!r}, role={self.role!r})"


class Campaign(Base):
    """A labelling campaign: a set of items, guidelines, and how many annotators each item needs."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    guidelines: Mapped[str] = mapped_column(Text, default="")
    overlap: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="active")
    # "progress": items closest to their overlap first; "uncertainty": the critic's least confident critique first.
    item_order: Mapped[str] = mapped_column(String(20), default="progress", server_default="progress")
    # Whether its submitted labels wait for a reviewer's approval before they train the critic (four eyes).
    needs_review: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Teacher classes only: the one user (besides admins) who may see, correct and export it; None = admins only.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Teacher classes only: db.items.problem_key -> core.grading.GradingScheme JSON (points, credit rule per problem).
    grading: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])


class Item(Base):
    """A problem and a solution split into steps, or a code solution with its tests; `content_hash` is unique."""

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    problem: Mapped[str] = mapped_column(Text)
    steps: Mapped[list[Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(40), default="upload", index=True)
    source_id: Mapped[str] = mapped_column(String(200), default="", index=True)
    answer: Mapped[str | None] = mapped_column(Text)
    # Reference label, 1-based; -1 = no error; None = unknown (core.types.SolutionItem.first_error_step).
    first_error_step: Mapped[int | None] = mapped_column(Integer)
    # "metadata" is reserved by the declarative base, hence the attribute name.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    is_gold: Mapped[bool] = mapped_column(Boolean, default=False)
    # Code items (db.items.to_code_item): "python", the code is the item's one step and `tests` holds its tests
    # (core.sandbox.TestSpec JSON); first_error_step -1 = correct, 1 = incorrect. None for math solutions.
    language: Mapped[str | None] = mapped_column(String(20), default=None)
    tests: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CampaignItem(Base):
    """Membership of an item in a campaign."""

    __tablename__ = "campaign_items"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CampaignAssignment(Base):
    """An annotator assigned to a campaign; a campaign with no assignments is open to every annotator."""

    __tablename__ = "campaign_assignments"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ClassSubmission(Base):
    """One student's solution in a teacher's class (a campaign): identical solutions stay separate rows."""

    __tablename__ = "class_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    student: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Names of the rubric criteria the teacher ticked for this solution (core.grading, the rubric rule).
    rubric_ticks: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LoginAttempt(Base):
    """One web login attempt (username as typed, client address, outcome), for throttling and the audit log."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_created_at", "username", "created_at"),
        Index("ix_login_attempts_address_created_at", "address", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(100))
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelVersion(Base):
    """A model checkpoint (a critic or an actor): where it is, what it was trained from, and how it scored."""

    __tablename__ = "model_versions"
    # At most one version of each kind serves: a second promotion racing the first fails here instead of leaving two.
    __table_args__ = (
        Index(
            "uq_model_versions_one_serving",
            "kind",
            "status",
            unique=True,
            sqlite_where=text("status = 'serving'"),
            postgresql_where=text("status = 'serving'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # "critic" (critiques solutions) or "actor" (solves problems): each kind is served, promoted and gated apart.
    kind: Mapped[str] = mapped_column(String(20), default="critic", server_default="critic", index=True)
    path: Mapped[str] = mapped_column(Text)
    base_model: Mapped[str] = mapped_column(String(300), default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    # The job that produced it is training_jobs.result_model_version_id (one direction, no FK cycle).
    status: Mapped[str] = mapped_column(String(20), default="candidate", index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notes: Mapped[str] = mapped_column(Text, default="")
    # Hash of the training data snapshot (training.data), so a version traces to the annotations it learned from.
    data_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    parent: Mapped[ModelVersion | None] = relationship(remote_side=[id], foreign_keys=[parent_id])


class QueuedWork:
    """The columns of work that waits in a queue until a worker claims it: state, progress, heartbeat, timing."""

    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    worker_id: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TrainingJob(QueuedWork, Base):
    """A queued/running/finished job (SFT, GRPO, dataset build, eval...) claimed by one worker at a time."""

    __tablename__ = "training_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    output_path: Mapped[str | None] = mapped_column(Text)
    log_path: Mapped[str | None] = mapped_column(Text)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    data_hash: Mapped[str | None] = mapped_column(String(64))
    base_model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    result_model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))


class TrainingJobLog(Base):
    """One log line of a job, for the app's log view."""

    __tablename__ = "training_job_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("training_jobs.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(10), default="info")
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TrainingMetricPoint(Base):
    """One metric value at one training step (loss, reward...), so the app can plot curves."""

    __tablename__ = "training_metric_points"
    __table_args__ = (Index("ix_training_metric_points_job_name_step", "job_id", "name", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("training_jobs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvalRun(QueuedWork, Base):
    """An evaluation of one model version on one dataset (ProcessBench subset...), with metrics."""

    __tablename__ = "eval_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"), index=True)
    model: Mapped[str] = mapped_column(String(300), default="")
    dataset: Mapped[str] = mapped_column(String(200))
    n_items: Mapped[int] = mapped_column(Integer, default=0)
    predictions_path: Mapped[str | None] = mapped_column(Text)
    training_job_id: Mapped[int | None] = mapped_column(ForeignKey("training_jobs.id"))
    # Set when the run scored a registered evaluation set (the registry's versions x sets table reads these).
    eval_set_id: Mapped[int | None] = mapped_column(ForeignKey("eval_sets.id"), index=True)


class EvalSet(Base):
    """A registered evaluation set: fixed labelled items every model version is scored on, never trained on."""

    __tablename__ = "eval_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # "critic" (labelled solutions the critic is scored on) or "actor" (problems with answers the actor solves).
    kind: Mapped[str] = mapped_column(String(20), default="critic", server_default="critic")
    # The items as core.types.SolutionItem JSON, frozen at registration so every version sees the same set.
    items: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Where the items came from, e.g. "processbench:gsm8k", "prm800k:FILE", "campaign:NAME (gold)".
    source: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    # db.items.problem_key of every item's problem: training snapshots drop solutions of these problems.
    problem_keys: Mapped[list[Any]] = mapped_column(JSON, default=list)
    n_items: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelEvent(Base):
    """Audit trail of the registry: who promoted, rolled back or gated which version, and why. Never changed."""

    __tablename__ = "model_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    # A user when a person acted (web app), else a description such as "cli:alice" or "gate (job 7)".
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    # The version that served just before this event (the rollback target of a promotion).
    previous_serving_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CritiqueRun(Base):
    """One critique of an item by a model: its result (core.types.CritiqueResult JSON) kept as suggestions."""

    __tablename__ = "critique_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    model: Mapped[str] = mapped_column(String(300))
    backend: Mapped[str] = mapped_column(String(40))
    mode: Mapped[str] = mapped_column(String(20), default="single")
    samples: Mapped[int] = mapped_column(Integer, default=1)
    raw_outputs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    first_error_step: Mapped[int | None] = mapped_column(Integer)
    votes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    parse_status: Mapped[str] = mapped_column(String(20), default="ok")
    # How sure the critic is of its answer (core.confidence.verdict_confidence, its weakest step): low = unsure.
    confidence: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[float | None] = mapped_column(Float)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    item: Mapped[Item] = relationship()


class Annotation(Base):
    """One person's step labels for one item (PRM800K-style ratings); `version` guards against lost updates."""

    __tablename__ = "annotations"
    __table_args__ = (
        UniqueConstraint("item_id", "annotator_id", "campaign_id", name="uq_annotations_item_annotator_campaign"),
        Index("ix_annotations_campaign_status", "campaign_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    # One entry per step: 1 good, 0 neutral, -1 bad, None unrated (PRM800K sense).
    ratings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Derived from ratings + finish_reason (core.prm800k.first_error_from_ratings); never set directly.
    first_error_step: Mapped[int | None] = mapped_column(Integer)
    finish_reason: Mapped[str | None] = mapped_column(String(20))
    flagged_steps: Mapped[list[Any]] = mapped_column(JSON, default=list)
    comment: Mapped[str] = mapped_column(Text, default="")
    # Short notes on single steps, {"3": "text"} keyed by the 1-based step (core.step_comments).
    step_comments: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    critique_run_id: Mapped[int | None] = mapped_column(ForeignKey("critique_runs.id"))
    # 1-based steps whose critic verdict the annotator accepted unchanged.
    accepted_steps: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The annotator's rating of the critique they were shown (core.types.CritiqueRating); None = not rated.
    critique_rating: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    time_spent_ms: Mapped[int] = mapped_column(Integer, default=0)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    review_comment: Mapped[str] = mapped_column(Text, default="")
    # Identifies an imported source record (e.g. a PRM800K line) so re-imports add nothing.
    import_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    item: Mapped[Item] = relationship(foreign_keys=[item_id])
    annotator: Mapped[User] = relationship(foreign_keys=[annotator_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])
    campaign: Mapped[Campaign | None] = relationship()

    # The ORM adds "WHERE version = <loaded>" to every UPDATE and bumps it: no silent overwrite.
    __mapper_args__ = {"version_id_col": version}


class AnnotationEvent(Base):
    """Audit trail: one row per create/change/review of an annotation. Never updated or deleted."""

    __tablename__ = "annotation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    annotation_id: Mapped[int] = mapped_column(ForeignKey("annotations.id", ondelete="RESTRICT"), index=True)
    version: Mapped[int] = mapped_column(Integer, doc="The annotation's version after this change.")
    action: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SavedView(Base):
    """A user's named filter of the Review list (db.review_filters.ReviewFilter as JSON), re-applied from a picker."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_saved_views_user_id_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@event.listens_for(AnnotationEvent, "before_update")
@event.listens_for(AnnotationEvent, "before_delete")
def _audit_rows_are_immutable(mapper: Any, connection: Any, target: AnnotationEvent) -> None:
    raise PermissionDeniedError("annotation_events rows are never updated or deleted")


class WebhookSubscription(Base):
    """An admin's webhook: a URL, the events it receives, and the secret its deliveries are signed with."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    # The event types it receives (core.webhooks.EVENT_TYPES).
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # "whsec_" + base64: signs every delivery (Standard Webhooks); shown to the admin once, when registered.
    secret: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookEvent(Base):
    """The outbox: one event, written in the transaction of the change it reports; a dispatcher fans it out."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The Standard Webhooks message id (webhook-id header): the same for every attempt and replay.
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set when the dispatcher made its deliveries (one per subscription to its type); None = not yet.
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class WebhookDelivery(Base):
    """One event sent to one subscription: its state, attempts, last error and response code."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True)
    # pending (waits for next_attempt_at), sending (claimed until next_attempt_at), succeeded, failed (gave up).
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    response_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DatasetVersion(Base):
    """What one export (or training snapshot) contained, so the same dataset can be written again byte for byte."""

    __tablename__ = "dataset_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The export format (db.exporter.EXPORT_FORMATS) the content hash is of.
    format: Mapped[str] = mapped_column(String(20))
    # "export" (critic data export) or "training job N" (a job's snapshot).
    purpose: Mapped[str] = mapped_column(String(100), default="export")
    # The filters as given (campaign, statuses) and counts (records, items, annotations).
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # sha256 of the exported bytes (hf: of its records as JSON Lines, the Arrow files are not byte-stable).
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    # Item ids in export order, and [annotation id, version] pairs of every annotation it read.
    item_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    annotations: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
