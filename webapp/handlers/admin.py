"""Admin handlers: users, campaigns (data, overlap, progress), training jobs, evaluation sets, model versions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import BadInputError
from db.campaigns import campaign_progress, create_campaign, list_campaigns, update_campaign
from db.classes import is_class, may_see_class
from db.session import session_scope
from db.users import create_user, list_users, set_password, set_role
from webapp.context import AppContext
from webapp.permissions import Action, Actor, require
from webapp.render import text_progress


def _columns(row: Any, *names: str, **computed: Any) -> dict[str, Any]:
    """A table row: the named attributes of a stored row, then the computed columns."""
    return {**{name: getattr(row, name) for name in names}, **computed}


# ---- users ---------------------------------------------------------------------------------------------------


def users_table(ctx: AppContext, actor: Actor | None) -> list[dict[str, Any]]:
    require(actor, Action.MANAGE_USERS)
    with session_scope(ctx.database_url) as session:
        return [
            _columns(u, "id", "username", "role", "active", can_log_in=bool(u.password_hash))
            for u in list_users(session)
        ]


def add_user(ctx: AppContext, actor: Actor | None, *, username: str, password: str, role: str) -> str:
    require(actor, Action.MANAGE_USERS)
    if not password:
        raise BadInputError("give the new user a password")
    with session_scope(ctx.database_url) as session:
        user = create_user(session, username=username, password=password, role=role)
        return f"Created {user.username} ({user.role})."


def change_user(
    ctx: AppContext,
    actor: Actor | None,
    *,
    username: str,
    role: str,
    active: bool = True,
    password: str = "",
) -> str:
    actor = require(actor, Action.MANAGE_USERS)
    if username == actor.username and (role != "admin" or not active):
        raise BadInputError("you cannot remove your own admin role or deactivate yourself")
    with session_scope(ctx.database_url) as session:
        user = set_role(session, username=username, role=role, active=active)
        if password:
            set_password(session, username=username, password=password)
        return f"Updated {user.username}: role {user.role}, {'active' if user.active else 'inactive'}."


# ---- campaigns -----------------------------------------------------------------------------------------------


def campaigns_table(ctx: AppContext, actor: Actor | None) -> list[dict[str, Any]]:
    """Every campaign with its progress (any logged-in role may list them to pick one); of the teachers'
    classes, only the user's own (an admin: all)."""
    actor = require(actor, Action.VIEW_DASHBOARD)
    with session_scope(ctx.database_url) as session:
        rows = []
        for c in list_campaigns(session):
            if is_class(c) and not may_see_class(c, user_id=actor.id, role=actor.role):
                continue
            progress = campaign_progress(session, campaign_id=c.id)
            rows.append(
                _columns(
                    c,
                    "id",
                    "name",
                    "status",
                    "overlap",
                    "guidelines",
                    items=progress.items,
                    complete=progress.items_fully_covered,
                    submitted=progress.annotations_by_status.get("submitted", 0)
                    + progress.annotations_by_status.get("approved", 0),
                    drafts=progress.annotations_by_status.get("draft", 0),
                )
            )
        return rows


def new_campaign(
    ctx: AppContext,
    actor: Actor | None,
    *,
    name: str,
    guidelines: str = "",
    overlap: int = 1,
    description: str = "",
    item_order: str = "progress",
    needs_review: bool = True,
) -> int:
    """A new campaign; with `needs_review` its submitted labels train only once a reviewer approves them."""
    actor = require(actor, Action.MANAGE_CAMPAIGNS)
    with session_scope(ctx.database_url) as session:
        campaign = create_campaign(
            session,
            name=name,
            description=description,
            guidelines=guidelines,
            overlap=int(overlap),
            created_by_id=actor.id,
            item_order=item_order,
            needs_review=bool(needs_review),
        )
        return campaign.id


def edit_campaign(
    ctx: AppContext,
    actor: Actor | None,
    *,
    campaign_id: int,
    guidelines: str | None = None,
    overlap: int | None = None,
    status: str | None = None,
) -> str:
    require(actor, Action.MANAGE_CAMPAIGNS)
    with session_scope(ctx.database_url) as session:
        campaign = update_campaign(
            session,
            campaign_id=campaign_id,
            guidelines=guidelines,
            overlap=int(overlap) if overlap is not None else None,
            status=status,
        )
        return f"Saved campaign {campaign.name}."


def upload_campaign_data(
    ctx: AppContext, actor: Actor | None, *, campaign_id: int, path: str | Path, fmt: str = "processbench"
) -> str:
    """Import a file into a campaign through the database importer (duplicates are skipped, bad lines listed), then
    queue the critiques of its uncritiqued items so annotators start from the critic's labels."""
    from db.campaigns import get_campaign
    from db.importer import import_file
    from training.item_critiques import queue_item_critiques

    actor = require(actor, Action.MANAGE_CAMPAIGNS)
    with session_scope(ctx.database_url) as session:
        name = get_campaign(session, campaign_id=campaign_id).name
    summary = import_file(path, fmt=fmt, campaign=name, url=ctx.database_url)
    with session_scope(ctx.database_url) as session:
        job = queue_item_critiques(
            session,
            campaign_id=campaign_id,
            created_by_id=actor.id,
            default_model=ctx.default_model,
            backend=ctx.default_backend,
        )
        job_id = job.id if job is not None else None
    lines = [f"Imported {summary.imported} record(s) into {name}: {summary.new_items} new item(s)."]
    if job_id is not None:
        lines.append(f"The critic labels its new items in the background (job {job_id} in the Training tab).")
    if summary.duplicates:
        lines.append(f"{summary.duplicates} already stored.")
    if summary.rejected:
        lines.append(f"{summary.rejected} rejected:")
        lines.extend(summary.errors)
    return "\n".join(lines)


def campaign_details(ctx: AppContext, actor: Actor | None, *, campaign_id: int) -> dict[str, Any]:
    """What the campaign form shows for one campaign: guidelines, overlap, status and assigned usernames."""
    from db.annotation_queue import assigned_user_ids
    from db.campaigns import get_campaign
    from db.models import User

    require(actor, Action.MANAGE_CAMPAIGNS)
    with session_scope(ctx.database_url) as session:
        campaign = get_campaign(session, campaign_id=campaign_id)
        ids = assigned_user_ids(session, campaign_id=campaign_id)
        names = [session.get(User, uid).username for uid in ids]
        return {
            "name": campaign.name,
            "guidelines": campaign.guidelines or "",
            "overlap": campaign.overlap,
            "status": campaign.status,
            "annotators": names,
        }


def annotator_names(ctx: AppContext, actor: Actor | None) -> list[str]:
    """Usernames that may be assigned to a campaign: active users who annotate (annotators, reviewers, admins)."""
    require(actor, Action.MANAGE_CAMPAIGNS)
    with session_scope(ctx.database_url) as session:
        return [u.username for u in list_users(session) if u.active and u.role in {"annotator", "reviewer", "admin"}]


def assign_annotators(ctx: AppContext, actor: Actor | None, *, campaign_id: int, usernames: list[str]) -> str:
    """Replace the campaign's assigned annotators (an empty list opens it to every annotator)."""
    from db.annotation_queue import set_assignments
    from db.users import get_user

    require(actor, Action.MANAGE_CAMPAIGNS)
    with session_scope(ctx.database_url) as session:
        ids = [get_user(session, username=name.strip()).id for name in usernames if name.strip()]
        set_assignments(session, campaign_id=campaign_id, user_ids=ids)
    if not ids:
        return "Campaign is open to every annotator."
    return f"Assigned {len(ids)} annotator(s): {', '.join(n.strip() for n in usernames if n.strip())}."


# ---- training and models -------------------------------------------------------------------------------------


def start_training(ctx: AppContext, actor: Actor | None, *, kind: str, values: dict[str, Any]) -> int:
    """Validate a job config (SFT, GRPO or actor) and queue it for the worker; returns the job id."""
    from training.config import build_config
    from training.queue import enqueue_job

    actor = require(actor, Action.START_TRAINING)
    config = build_config(kind, {k: v for k, v in values.items() if v not in (None, "")})
    with session_scope(ctx.database_url) as session:
        return enqueue_job(session, config=config, created_by_id=actor.id).id


def cancel_training(ctx: AppContext, actor: Actor | None, *, job_id: int) -> str:
    from training.queue import request_cancel

    require(actor, Action.START_TRAINING)
    with session_scope(ctx.database_url) as session:
        job = request_cancel(session, job_id=job_id)
        return f"Job {job.id}: {job.status}" + (" (cancel requested)" if job.cancel_requested else "")


def jobs_table(ctx: AppContext, actor: Actor | None) -> list[dict[str, Any]]:
    from training.queue import list_jobs

    require(actor, Action.VIEW_DASHBOARD)
    with session_scope(ctx.database_url) as session:
        return [
            _columns(
                j,
                "id",
                "kind",
                "status",
                progress=job_progress(j),
                latest=_latest_log(session, j.id) if j.status in {"queued", "running"} else "",
                error=(j.error or "")[:200],
                created_at=str(j.created_at)[:19],
            )
            for j in list_jobs(session, limit=50)
        ]


def job_progress(job: Any, *, now: datetime | None = None) -> str:
    """The job's optimiser steps as a text bar with counts and, while it runs, the time left at its pace so far."""
    total = int((job.config or {}).get("max_steps") or 0)
    share = min(max(float(job.progress or 0.0), 0.0), 1.0)
    done = round(share * total)
    left = None
    if job.status == "running" and job.started_at is not None and share > 0:
        started = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=UTC)
        elapsed = ((now or datetime.now(UTC)) - started).total_seconds()
        left = elapsed / share * (1.0 - share)
    if not total:  # a job without a step budget: the share alone
        return f"{share:.0%}"
    return text_progress(done, total, unit="steps", seconds_left=left)


def _latest_log(session: Any, job_id: int) -> str:
    from db.queries_dashboard import latest_job_log

    return latest_job_log(session, job_id=job_id)[:160]


NEVER_SCORED = "-"


def version_f1(newest_eval: tuple[float, str] | None, metrics: dict[str, Any] | None) -> str:
    """The F1 cell of a version, in percent: its newest evaluation (and on what), else the gate's pooled score."""
    if newest_eval is not None:
        f1, dataset = newest_eval
        return f"{100 * f1:.1f} on {dataset}"
    gate_f1 = ((metrics or {}).get("gate") or {}).get("candidate")
    return NEVER_SCORED if gate_f1 is None else f"{100 * float(gate_f1):.1f} (gate)"


def models_table(ctx: AppContext, actor: Actor | None) -> list[dict[str, Any]]:
    from db.evals import newest_f1_per_version
    from training.registry import list_versions

    require(actor, Action.VIEW_DASHBOARD)
    with session_scope(ctx.database_url) as session:
        scored = newest_f1_per_version(session)
        return [
            {
                "id": v.id,
                "name": v.name,
                "status": v.status,
                "f1": version_f1(scored.get(v.id), v.metrics),
                "path": v.path,
                "promoted_at": str(v.promoted_at)[:19] if v.promoted_at else "",
                "notes": v.notes,
                "kind": v.kind,  # critic or actor: each kind serves one version
            }
            for v in list_versions(session)
        ]


def promote_model(ctx: AppContext, actor: Actor | None, *, version_id: int) -> str:
    from training.registry import promote

    actor = require(actor, Action.PROMOTE_MODEL)
    with session_scope(ctx.database_url) as session:
        version = promote(
            session,
            version_id=version_id,
            reason=f"promoted by hand by {actor.username}",
            actor=actor.username,
            actor_id=actor.id,
        )
        message = f"Model version {version.id} ({version.name}) now serves."
    ctx.serving()  # this app switches its engine now, not at the next critique
    return message


def rollback_model(ctx: AppContext, actor: Actor | None) -> str:
    from training.registry import rollback

    actor = require(actor, Action.PROMOTE_MODEL)
    with session_scope(ctx.database_url) as session:
        previous = rollback(session, reason=f"rolled back by {actor.username}", actor=actor.username, actor_id=actor.id)
        if previous is None:
            message = "Rolled back: the default model serves again."
        else:
            message = f"Rolled back: model version {previous.id} ({previous.name}) serves again."
    ctx.serving()  # this app switches its engine now, not at the next critique
    return message


# ---- evaluation sets and the versions x sets table ----------------------------------------------------------

SET_METRICS = (("F1", "f1"), ("err", "error_acc"), ("corr", "correct_acc"), ("AUROC", "step_auroc"))


def eval_sets_table(ctx: AppContext, actor: Actor | None) -> list[dict[str, Any]]:
    from db.eval_sets import list_eval_sets

    require(actor, Action.VIEW_DASHBOARD)
    with session_scope(ctx.database_url) as session:
        return [
            {"id": s.id, "name": s.name, "items": s.n_items, "problems": len(s.problem_keys), "source": s.source}
            for s in list_eval_sets(session)
        ]


def add_eval_set(
    ctx: AppContext,
    actor: Actor | None,
    *,
    name: str,
    path: str | Path | None = None,
    campaign: str = "",
    limit: int | None = None,
) -> str:
    """Register an evaluation set from a ProcessBench-format file or a campaign's gold items."""
    from db.eval_sets import register_eval_set

    actor = require(actor, Action.START_TRAINING)
    if bool(path) == bool(campaign.strip()):
        raise BadInputError("choose a ProcessBench-format file or name a campaign (one of the two)")
    with session_scope(ctx.database_url) as session:
        eval_set = register_eval_set(
            session,
            name=name,
            benchmark=str(path) if path else None,
            campaign=campaign.strip() or None,
            limit=int(limit) if limit else None,
            created_by_id=actor.id,
        )
        return (
            f"Registered evaluation set {eval_set.name}: {eval_set.n_items} items from {len(eval_set.problem_keys)} "
            "problems; training jobs leave these problems out and the gate scores on them."
        )


def registry_scores(ctx: AppContext, actor: Actor | None) -> tuple[list[str], list[list[Any]]]:
    """The registry view: one row per model version, F1 / error acc / correct acc / step AUROC per evaluation set
    (percent, rounded; None where not scored or where the critic gives no step confidence)."""
    from db.eval_sets import versions_by_sets

    require(actor, Action.VIEW_DASHBOARD)
    with session_scope(ctx.database_url) as session:
        set_names, rows = versions_by_sets(session)
    columns = ["version", "status", *(f"{name} {label}" for name in set_names for label, _ in SET_METRICS)]
    table = []
    for row in rows:
        cells: list[Any] = [row["name"], row["status"]]
        for name in set_names:
            scores = row["scores"].get(name) or {}
            cells += [None if scores.get(k) is None else round(100 * scores[k], 1) for _, k in SET_METRICS]
        table.append(cells)
    return columns, table
