"""Training data: annotations + PRM800K mixed, deduplicated, split by problem, hashed; SFT target paths counted."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from core.parsing import parse_critique
from db.annotations import save_annotation
from db.models import Annotation
from tests.core.scripted_backend import ScriptedBackend
from tests.training.helpers import add_labelled_items, write_prm800k
from training.config import load_config
from training.data import build_snapshot, mix, problem_key
from training.targets import LabelledItem, build_sft_targets, template_critique


def _item(i: int, label: int, source: str = "annotation") -> LabelledItem:
    return LabelledItem(problem=f"P{i}", steps=("a", "b", "c"), first_error_step=label, source=source, source_id=str(i))


def test_snapshot_mixes_dedups_and_holds_out_whole_problems(sqlite_session: Session, tmp_path: Path) -> None:
    add_labelled_items(sqlite_session, 6)
    prm = write_prm800k(tmp_path / "phase2_train.jsonl", 4)
    config = load_config("sft", None, {"prm800k": str(prm), "prm800k_ratio": 0.4, "validation_fraction": 0.2})
    snapshot = build_snapshot(sqlite_session, config)
    assert snapshot.counts["annotations"] == 6 and snapshot.counts["prm800k"] == 4  # the give_up row has no label
    train_problems = {problem_key(i.problem) for i in snapshot.train}
    assert snapshot.validation and not train_problems & {problem_key(i.problem) for i in snapshot.validation}
    share = snapshot.counts["train_prm800k"] / snapshot.counts["train"]
    assert abs(share - 0.4) < 0.2
    assert snapshot.manifest()["train"][0]["content_hash"]

    # PRM800K rows that repeat annotated solutions are dropped: each solution is kept once, with the human label.
    overlap = write_prm800k(tmp_path / "overlap.jsonl", 4, offset=1)
    again = build_snapshot(sqlite_session, load_config("sft", None, {"prm800k": str(overlap), "prm800k_ratio": 0.5}))
    assert again.counts["duplicates_dropped"] == 4
    assert {i.source for i in again.train + again.validation} == {"annotation"}
    assert again.data_hash != snapshot.data_hash


def test_hash_changes_when_an_annotation_changes(sqlite_session: Session) -> None:
    ids = add_labelled_items(sqlite_session, 4)
    config = load_config("sft", None, {"validation_fraction": 0.0})
    first = build_snapshot(sqlite_session, config)
    assert build_snapshot(sqlite_session, config).data_hash == first.data_hash
    annotation = sqlite_session.get(Annotation, ids[0])
    save_annotation(
        sqlite_session,
        annotation_id=annotation.id,
        expected_version=annotation.version,
        actor_id=annotation.annotator_id,
        ratings=[1, -1],
        finish_reason="found_error",
    )
    assert build_snapshot(sqlite_session, config).data_hash != first.data_hash


def test_mix_ratio_subsamples_the_larger_source() -> None:
    annotations = [_item(i, -1) for i in range(10)]
    prm = [_item(100 + i, 2, "prm800k") for i in range(100)]
    mixed = mix(annotations, prm, prm800k_ratio=0.75, max_items=None, seed=0)
    assert sum(i.source == "annotation" for i in mixed) == 10
    assert sum(i.source == "prm800k" for i in mixed) == 30
    assert len(mix(annotations, prm, prm800k_ratio=0.75, max_items=8, seed=0)) == 8


def test_three_target_paths_are_counted_and_all_agree_with_labels(sqlite_session: Session) -> None:
    add_labelled_items(sqlite_session, 6, accepted=2)
    snapshot = build_snapshot(sqlite_session, load_config("sft", None, {"validation_fraction": 0.0}))
    by_problem = {i.problem: i for i in snapshot.train}

    def teacher_script(prompt: str, sample: int) -> str:
        # A teacher that gets the odd-numbered problems right only on its second sample, and never the rest.
        for problem, item in by_problem.items():
            if problem in prompt:
                if item.first_error_step == 1 and sample == 1:
                    return template_critique(item).replace("contains an error", "is wrong")
                return "**Critique of Step 1**: fine.\n**Judgement**: \\boxed{1}\n**Answer**: \\boxed{3}"
        return ""

    teacher = ScriptedBackend(teacher_script)
    targets = build_sft_targets(snapshot.train, teacher=teacher, samples=2)
    assert targets.counts == {"stored": 2, "generated": 2, "template": 2}
    assert len(teacher.calls) == 1  # every item needing a teacher went in one batched call
    for example, item in zip(targets.examples, snapshot.train, strict=True):
        parsed = parse_critique(example["completion"], len(item.steps))
        assert parsed.first_error_step == item.first_error_step
        assert example["prompt"][-1]["role"] == "user"
