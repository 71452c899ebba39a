"""A campaign of code items: imported with their tests, critiqued from their tests, labelled correct/incorrect."""

from __future__ import annotations

import json
from pathlib import Path

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
