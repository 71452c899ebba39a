"""The critique_items job: critique a campaign's items that have no critique yet, in batches, resumably."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.code.critique import CodeCritiqueResult, critique_code
from core.code.items import CodeItem
from core.types import CritiqueResult, SolutionItem
from db.campaigns import get_campaign
from db.critique_runs import save_critique_run
from db.items import to_item
from db.models import CampaignItem, CritiqueRun, Item, TrainingJob
from training.config import CritiqueItemsConfig
from training.progress import Reporter
from training.queue import end_read, enqueue_job

CRITIQUE_ITEMS = "critique_items"


def critique_any(
    critic: Any, items: list[SolutionItem | CodeItem], *, samples: int = 1
) -> list[CritiqueResult | CodeCritiqueResult]:
    """Critique math solutions with the critic's step critique and code with its tests run first (CTRL), in order."""
    results: list[CritiqueResult | CodeCritiqueResult | None] = [None] * len(items)
    math = [(i, item) for i, item in enumerate(items) if isinstance(item, SolutionItem)]
    code = [(i, item) for i, item in enumerate(items) if isinstance(item, CodeItem)]
    if math:
        for (i, _), result in zip(math, critic.critique_many([item for _, item in math], samples=samples), strict=True):
            results[i] = result
    if code:
        for (i, _), result in zip(code, critique_code(critic.backend, [item for _, item in code]), strict=True):
            results[i] = result
    return [result for result in results if result is not None]


def uncritiqued_items(session: Session, *, campaign_id: int) -> list[tuple[int, SolutionItem | CodeItem]]:
    """(item id, item) for the campaign's items without any critique run, in item order."""
    critiqued = select(CritiqueRun.item_id)
    query = (
        select(Item)
        .join(CampaignItem, CampaignItem.item_id == Item.id)
        .where(CampaignItem.campaign_id == campaign_id, Item.id.not_in(critiqued))
        .order_by(Item.id)
    )
    return [(row.id, to_item(row)) for row in session.scalars(query)]


def queue_item_critiques(
    session: Session,
    *,
    campaign_id: int,
    created_by_id: int | None = None,
    default_model: str | None = None,
    backend: str | None = None,
) -> TrainingJob | None:
    """Queue a critique_items job for the campaign; None when every item has a critique or one such job is still
    queued (it will find the new items when it starts)."""

    get_campaign(session, campaign_id=campaign_id)  # raises NotFoundError naming the id
    if not uncritiqued_items(session, campaign_id=campaign_id):
        return None
    waiting = session.scalars(
        select(TrainingJob).where(TrainingJob.kind == CRITIQUE_ITEMS, TrainingJob.status == "queued")
    ).all()
    if any(job.config.get("campaign_id") == campaign_id for job in waiting):
        return None
    config = CritiqueItemsConfig(campaign_id=campaign_id, default_model=default_model, backend=backend)
    return enqueue_job(session, config=config, created_by_id=created_by_id)


def critique_items(
    session: Session,
    config: CritiqueItemsConfig,
    critic: Any,
    reporter: Reporter,
    *,
    model_version_id: int | None = None,
) -> int | None:
    """Critique and store the campaign's uncritiqued items batch by batch (each batch stored before the next starts,
    so a stopped job resumes where it was); returns how many were done, None when asked to stop."""
    todo = uncritiqued_items(session, campaign_id=config.campaign_id)
    # No read left open while the critic works: the progress reports write meanwhile, and on SQLite a stale read
    # transaction cannot become the write that stores the batch.
    end_read(session)
    total = len(todo)
    reporter.progress(0, total)
    reporter.log(f"critiquing {total} item(s) of campaign {config.campaign_id} with {critic.model_name}")
    done = 0
    for start in range(0, total, config.batch_size):
        if reporter.should_stop():
            return None
        chunk = todo[start : start + config.batch_size]
        results = critique_any(critic, [item for _, item in chunk], samples=config.samples)
        failed = 0
        for (item_id, _), result in zip(chunk, results, strict=True):
            if (
                isinstance(result, CritiqueResult) and result.error
            ):  # not stored: the next run of this job tries the item again
                failed += 1
                continue
            save_critique_run(session, item_id=item_id, result=result, model_version_id=model_version_id)
        done += len(chunk)
        reporter.progress(done, total)
        reporter.log(f"critiqued {done}/{total} items" + (f" ({failed} failed, left for a rerun)" if failed else ""))
    return done


def run_critique_job(session: Session, job: TrainingJob, reporter: Reporter) -> bool:
    """Run a claimed critique_items job with the serving model; False when it stopped because cancel was asked."""
    from core.critic import Critic
    from core.settings import get_settings
    from training.registry import active_model

    config = CritiqueItemsConfig.model_validate(job.config)
    settings = get_settings()
    serving = active_model(session)
    model = config.model or (serving.path if serving is not None else config.default_model or settings.model)
    # Runs by the promoted version are attributed to it, as the Critique tab's are.
    version_id = serving.id if serving is not None and serving.path == model else None
    critic = Critic.create(model=model, backend=config.backend or settings.backend)
    try:
        return critique_items(session, config, critic, reporter, model_version_id=version_id) is not None
    finally:
        critic.close()
