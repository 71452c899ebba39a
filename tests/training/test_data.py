"""Training data: annotations + PRM800K mixed, deduplicated, split by problem, hashed; SFT target paths counted."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from core.errors import BadInputError
from core.parsing import parse_critique
from db.annotations import review_annotation, save_annotation
from db.eval_sets import create_eval_set
from db.items import problem_key
from db.models import Annotation
from db.users import create_user
from tests.core.scripted_backend import ScriptedBackend
from tests.training.helpers import add_labelled_items, arithmetic_item, write_prm800k
from training.config import load_config
from training.data import build_snapshot, held_out_side, mix, record_dataset_version, split_by_problem
from training.targets import LabelledItem, build_sft_targets, template_critique


def _item(i: int, label: int, source: str = "annotation") -> LabelledItem:
    return LabelledItem(problem=f"P{i}", steps=("a", "b", "c"), first_error_step=label, source=source, source_id=str(i))


def test_snapshot_mixes_dedups_and_holds_out_whole_problems(sqlite_session: Session, tmp_path: Path) -> None:
    add_labelled_items(sqlite_session, 6)
    prm = write_prm800k(tmp_path / "phase2_train.jsonl", 4)
    config = load_config("sft", None, {"prm800k": str(prm), "prm800k_ratio": 0.4, "validation_fraction": 0.4})
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


def test_a_snapshot_names_a_dataset_version_that_exports_its_labels_as_they_were(
    sqlite_db_url: str, sqlite_session: Session, tmp_path: Path
) -> None:
    import json

    from db.exporter import export

    ids = add_labelled_items(sqlite_session, 4)
    snapshot = build_snapshot(sqlite_session, load_config("sft", None, {"validation_fraction": 0.0}))
    version_id = record_dataset_version(sqlite_session, snapshot, purpose="training job 7")
    assert snapshot.manifest()["dataset_version_id"] == version_id is not None
    annotation = sqlite_session.get(Annotation, ids[0])
    save_annotation(  # relabelled after the snapshot was taken
        sqlite_session,
        annotation_id=annotation.id,
        expected_version=annotation.version,
        actor_id=annotation.annotator_id,
        ratings=[1, -1],
        finish_reason="found_error",
    )
    result = export(tmp_path / "snapshot.jsonl", version=version_id, url=sqlite_db_url)
    lines = [json.loads(line) for line in (tmp_path / "snapshot.jsonl").read_text().splitlines()]
    assert result.count == len(lines) == 4
    # The relabelled annotation is exported as the snapshot trained on it: both steps good, finished.
    assert [step["completions"][0]["rating"] for step in lines[0]["label"]["steps"]] == [1, 1]
    assert lines[0]["label"]["finish_reason"] == "solution"


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
                    return template_critique(item).replace("the mistake remains", "the error remains")
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


def test_held_out_problems_keep_their_side_as_data_grows() -> None:
    before = [_item(i, -1) for i in range(87)]
    grown = before + [_item(i, 2) for i in range(87, 123)]
    _, held_before = split_by_problem(before, fraction=0.15)
    train_after, held_after = split_by_problem(list(reversed(grown)), fraction=0.15)
    old = {i.problem for i in before}
    assert {i.problem for i in held_before} == {i.problem for i in held_after} & old
    assert not {i.problem for i in train_after} & {i.problem for i in held_after}
    assert 0.05 < len(held_after) / len(grown) < 0.3
    # The same problem written with other case or spacing lands on the same side.
    twin = LabelledItem(problem="  p3 ", steps=("x",), first_error_step=-1, source="annotation", source_id="t")
    assert held_out_side(twin.problem, 0.15) == held_out_side("P3", 0.15)


def test_use_annotations_off_trains_on_prm800k_alone(sqlite_session: Session, tmp_path: Path) -> None:
    add_labelled_items(sqlite_session, 6)
    prm = write_prm800k(tmp_path / "phase2_train.jsonl", 4)
    snapshot = build_snapshot(sqlite_session, load_config("sft", None, {"use_annotations": False, "prm800k": str(prm)}))
    assert snapshot.counts["annotations"] == 0
    assert {i.source for i in snapshot.train + snapshot.validation} == {"prm800k"}


def test_data_switches_choose_what_is_trained_on(sqlite_session: Session, tmp_path: Path) -> None:
    ids = add_labelled_items(sqlite_session, 6)
    prm = str(write_prm800k(tmp_path / "phase2_train.jsonl", 4))

    def snapshot(**values) -> object:
        return build_snapshot(sqlite_session, load_config("sft", None, {"validation_fraction": 0.0, **values}))

    assert {i.source for i in snapshot(prm800k=prm, prm800k_ratio=0.0).train} == {"annotation"}
    assert {i.source for i in snapshot(prm800k=prm, prm800k_ratio=1.0).train} == {"prm800k"}
    assert snapshot(prm800k=prm, max_train_items=3).counts["train"] == 3
    with pytest.raises(BadInputError, match="no training data"):  # nothing approved yet
        snapshot(annotation_statuses=["approved"])
    reviewer = create_user(sqlite_session, username="rita", password="pw", role="reviewer")
    review_annotation(sqlite_session, annotation_id=ids[0], expected_version=1, reviewer_id=reviewer.id, approve=True)
    approved = snapshot(annotation_statuses=["approved"])
    assert [i.provenance["annotation_id"] for i in approved.train] == [ids[0]]


def test_evaluation_set_problems_never_reach_a_snapshot(sqlite_session: Session, tmp_path: Path) -> None:
    add_labelled_items(sqlite_session, 6)
    prm = write_prm800k(tmp_path / "phase2_train.jsonl", 4, offset=3)  # shares problems 3, 4, 5 with annotations
    config = load_config("sft", None, {"prm800k": str(prm), "prm800k_ratio": 0.5, "validation_fraction": 0.3})
    before = build_snapshot(sqlite_session, config)
    # Registered with other spacing and case ("WHAT IS 6+10 ?" for "What is 6 + 10?"): the same problems all the same.
    held = [arithmetic_item(i, wrong=False) for i in (3, 4)]
    held = [
        h.model_copy(update={"problem": "  " + h.problem.upper().replace(" + ", "+").replace("?", " ?")}) for h in held
    ]
    create_eval_set(sqlite_session, name="held", items=held, source="test")
    after = build_snapshot(sqlite_session, config)
    keys = {problem_key(h.problem) for h in held}
    assert not keys & {problem_key(i.problem) for i in after.train + after.validation}
    assert after.counts["eval_set_excluded"] == 4  # problems 3 and 4: one annotation and one PRM800K row each
    assert before.counts["eval_set_excluded"] == 0 and after.data_hash != before.data_hash


@pytest.mark.parametrize("budget", [512, 1024])
def test_template_targets_are_what_the_constrained_critic_may_write(budget: int) -> None:
    from core.grammar import critique_constraint

    cases = [
        (["In May she sold 48 / 2 = 24 clips.", "Altogether 48 + 24 = 72 clips."], -1, ""),
        (["She has 20 pens.", "She gives 12 away: 20 - 12 = 9 pens are left.", "The answer is 9."], 2, ""),
        ([f"Step text {n} with $x^{n}$ and \\frac{{1}}{{2}}." for n in range(1, 31)], 17, "Wrong sign! See *this*."),
        (["A long step."] * 4, 1, "x" * 400),
    ]
    for steps, first_error, comment in cases:
        item = LabelledItem("p", tuple(steps), first_error, "annotation", "1", comment=comment)
        text = template_critique(item)
        assert critique_constraint(len(steps), budget).matches(text), text
        parsed = parse_critique(text, len(steps))
        assert parsed.parse_status == "ok" and parsed.first_error_step == first_error
    pens = template_critique(LabelledItem("p", tuple(cases[1][0]), 2, "annotation", "2"))
    assert "claims 20 - 12 = 9 is false (20 - 12 = 8)." in pens  # the checker's proof explains the wrong step
    noted = template_critique(
        LabelledItem("p", tuple(cases[2][0]), 17, "annotation", "3", comment="Wrong sign! See *this*.")
    )
    assert "This step is wrong: Wrong sign, See this." in noted
