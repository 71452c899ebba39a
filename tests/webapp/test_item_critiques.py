"""Campaign items get critiques in the background after import: the critique_items job, queued, batched, resumable."""

from __future__ import annotations

from pathlib import Path

from core.critic import Critic
from db.critique_runs import latest_critique_run
from db.session import session_scope
from tests.core.scripted_backend import ScriptedBackend
from tests.webapp.conftest import scripted_critique
from training.config import CritiqueItemsConfig
from training.item_critiques import critique_items, uncritiqued_items
from training.progress import MemoryReporter
from training.queue import list_jobs
from webapp.handlers import admin
from webapp.handlers.annotate import accept_all, critic_verdict_ratings, next_task


def _campaign_with_items(web, campaign_file: Path) -> tuple[int, str]:
    cid = admin.new_campaign(web.ctx, web["admin"], name="import me")
    message = admin.upload_campaign_data(web.ctx, web["admin"], campaign_id=cid, path=campaign_file)
    return cid, message


def test_importing_into_a_campaign_queues_one_critique_job_shown_in_the_jobs_table(web, campaign_file: Path) -> None:
    cid, message = _campaign_with_items(web, campaign_file)
    assert "The critic labels its new items in the background (job 1 in the Training tab)." in message
    again = admin.upload_campaign_data(web.ctx, web["admin"], campaign_id=cid, path=campaign_file)
    assert "background" not in again  # the queued job will find every item when it starts: no second job
    [row] = admin.jobs_table(web.ctx, web["admin"])
    assert (row["id"], row["kind"], row["status"], row["progress"]) == (1, "critique_items", "queued", "0%")
    with session_scope(web.url) as session:
        [job] = list_jobs(session)
        config = CritiqueItemsConfig.model_validate(job.config)
    assert (config.campaign_id, config.default_model, config.backend) == (cid, "scripted", "scripted")


def test_the_job_critiques_in_batches_reports_progress_and_resumes(web, campaign_file: Path) -> None:
    cid, _ = _campaign_with_items(web, campaign_file)
    backend = ScriptedBackend(scripted_critique)
    config = CritiqueItemsConfig(campaign_id=cid, batch_size=3)
    reporter = MemoryReporter()
    with session_scope(web.url) as session:
        assert critique_items(session, config, Critic(backend), reporter) == 4
        assert uncritiqued_items(session, campaign_id=cid) == []
    assert [len(prompts) for prompts, _ in backend.calls] == [3, 1]
    assert reporter.last_progress == (4, 4)
    assert [m for _, m in reporter.logs][1:] == ["critiqued 3/4 items", "critiqued 4/4 items"]

    rerun = MemoryReporter()  # a second run (a restarted job) has nothing left to do
    with session_scope(web.url) as session:
        assert critique_items(session, config, Critic(backend), rerun) == 0
    assert len(backend.calls) == 2 and rerun.last_progress == (0, 0)


def test_a_stop_request_ends_the_job_between_batches(web, campaign_file: Path) -> None:
    cid, _ = _campaign_with_items(web, campaign_file)

    class StopAfterFirstBatch(MemoryReporter):
        def should_stop(self) -> bool:
            return self.last_progress[0] > 0

    with session_scope(web.url) as session:
        config = CritiqueItemsConfig(campaign_id=cid, batch_size=2)
        assert (
            critique_items(session, config, Critic(ScriptedBackend(scripted_critique)), StopAfterFirstBatch()) is None
        )
        assert len(uncritiqued_items(session, campaign_id=cid)) == 2  # the next run picks these up


def test_annotators_start_from_the_critics_labels(web, campaign_file: Path) -> None:
    cid, _ = _campaign_with_items(web, campaign_file)
    with session_scope(web.url) as session:
        config = CritiqueItemsConfig(campaign_id=cid)
        critique_items(session, config, Critic(ScriptedBackend(scripted_critique)), MemoryReporter())
    task = next_task(web.ctx, web["annotator"], campaign_id=cid)
    assert task is not None and task.critique is not None
    with session_scope(web.url) as session:
        assert task.critique_run_id == latest_critique_run(session, item_id=task.item_id).id
    accepted = accept_all(task)
    suggested = critic_verdict_ratings(task.critique, len(task.steps))
    assert accepted.ratings == suggested and -1 in suggested  # the scripted critic blames the last step
    assert accepted.accepted_steps == list(range(1, len(task.steps) + 1))
