"""The critique_items job through the queue and a worker process, with the tiny model: progress, runs, the log."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from db.campaigns import create_campaign
from db.critique_runs import list_critique_runs
from db.items import add_item
from tests.training.helpers import arithmetic_item
from training import queue
from training.item_critiques import queue_item_critiques, uncritiqued_items
from training.worker import Worker, WorkerOptions


def test_a_worker_critiques_a_campaigns_items_and_reports_progress(
    sqlite_session: Session, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRITIC_MAX_NEW_TOKENS", "160")
    campaign = create_campaign(sqlite_session, name="fresh import")
    items = [add_item(sqlite_session, item=arithmetic_item(i, wrong=i == 1), campaign_id=campaign.id) for i in range(3)]
    job = queue_item_critiques(
        sqlite_session, campaign_id=campaign.id, default_model=str(tiny_model_dir), backend="transformers"
    )
    assert job is not None and job.kind == "critique_items"
    assert Worker(WorkerOptions(exit_when_idle=True, poll_interval_s=0.1)).run() == 1

    done = queue.get_job(sqlite_session, job_id=job.id)
    logs = [line.message for line in queue.job_logs(sqlite_session, job_id=job.id)]
    assert done.status == "succeeded", f"{done.error}\n{logs}"
    assert done.progress == 1.0 and "critiqued 3/3 items" in logs
    assert uncritiqued_items(sqlite_session, campaign_id=campaign.id) == []
    for item in items:
        [run] = list_critique_runs(sqlite_session, item_id=item.id)
        assert run.model == str(tiny_model_dir) and run.backend == "transformers"
    # Nothing left to critique: importing again queues nothing.
    assert queue_item_critiques(sqlite_session, campaign_id=campaign.id) is None
