"""A campaign of code items: imported with their tests, critiqued from their tests, labelled correct/incorrect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.code.tasks import load_code_tasks
from db.exporter import export
from db.session import session_scope
from training.config import CritiqueItemsConfig
from training.item_critiques import critique_items
from training.progress import MemoryReporter
from webapp.handlers import admin, annotate


def test_an_annotator_labels_a_critiqued_code_item_and_the_export_keeps_its_tests(web, tmp_path: Path) -> None:
    wrong = next(item for item in load_code_tasks() if item.label == "incorrect")
    source = tmp_path / "code.jsonl"
    source.write_text(json.dumps(wrong.model_copy(update={"label": None}).to_json()) + "\n")
    cid = admin.new_campaign(web.ctx, web["admin"], name="py", guidelines="", overlap=1)
    admin.upload_campaign_data(web.ctx, web["admin"], campaign_id=cid, path=source, fmt="jsonl")
    critic = web.ctx.critic(web.ctx.serving().model)
    with session_scope(web.url) as session:
        assert critique_items(session, CritiqueItemsConfig(campaign_id=cid), critic, MemoryReporter()) == 1

    task = annotate.next_task(web.ctx, web["annotator"], campaign_id=cid)
    assert task is not None and task.steps == [wrong.code]  # the code is the item's one step
    step = task.critique.steps[0]
    assert step.verdict == "incorrect" and step.verdict_source == "checker"  # failing tests decided
    assert "**Analysis**" in step.critique and "The test `assert" in step.critique
    outcome = annotate.save(web.ctx, web["annotator"], item_id=task.item_id, campaign_id=cid, ratings=[-1], submit=True)
    assert outcome.saved is not None and outcome.saved["first_error_step"] == 1

    out = tmp_path / "labelled.jsonl"
    assert export(out, fmt="jsonl", campaign="py", url=web.url).count == 1
    record = json.loads(out.read_text())
    assert record["label"] == "incorrect" and record["test_list"] == wrong.test_list and record["code"] == wrong.code


def test_the_annotator_rates_the_critique_and_the_reviewer_reads_the_rating(web, tmp_path: Path) -> None:
    from core.errors import BadInputError
    from webapp.handlers import review

    wrong = next(item for item in load_code_tasks() if item.label == "incorrect")
    source = tmp_path / "code.jsonl"
    source.write_text(json.dumps(wrong.model_copy(update={"label": None}).to_json()) + "\n")
    cid = admin.new_campaign(web.ctx, web["admin"], name="py", guidelines="", overlap=1)
    admin.upload_campaign_data(web.ctx, web["admin"], campaign_id=cid, path=source, fmt="jsonl")
    task = annotate.next_task(web.ctx, web["annotator"], campaign_id=cid)
    with pytest.raises(BadInputError, match="no critique to rate"):  # not critiqued yet
        annotate.rate_critique(task, "helpful")
    critic = web.ctx.critic(web.ctx.serving().model)
    with session_scope(web.url) as session:
        critique_items(session, CritiqueItemsConfig(campaign_id=cid), critic, MemoryReporter())
    task = annotate.load_task(web.ctx, web["annotator"], item_id=task.item_id, campaign_id=cid)
    annotate.rate_critique(task, "misleading")
    annotate.rate_critique(task, "misleading")  # the same rating again clears it
    assert task.critique_rating is None
    annotate.rate_critique(task, "helpful")
    with pytest.raises(BadInputError, match="helpful, partly, misleading"):
        annotate.rate_critique(task, "5 stars")
    annotate.rate_step(task, 1, -1)
    saved = annotate.save_task(web.ctx, web["annotator"], task, finish_reason=None, comment="", submit=True).saved
    assert saved is not None and saved["critique_rating"] == "helpful" and saved["first_error_step"] == 1
    reopened = annotate.load_task(web.ctx, web["annotator"], item_id=task.item_id, campaign_id=cid)
    assert reopened.critique_rating == "helpful"  # a reopened label keeps its rating
    view = review.review_view(web.ctx, web["reviewer"], annotation_id=saved["annotation_id"])
    assert view.annotation["critique_rating"] == "helpful"
    assert [r["critique_rating"] for r in review.pending_reviews(web.ctx, web["reviewer"])] == ["helpful"]
