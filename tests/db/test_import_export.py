"""Import and export: ProcessBench round trip, PRM800K ratings as labeler annotations, re-imports add nothing."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.prm800k import PRM800KRecord, read_prm800k
from db.annotations import save_annotation
from db.campaigns import campaign_progress, get_campaign
from db.exporter import export
from db.importer import import_file
from db.models import Annotation, AnnotationEvent, Item, User
from db.session import session_scope
from db.users import create_user
from tests.db.prm800k_lines import phase1_line, phase2_line

CLI = [sys.executable, "-c", "from cli.main import main; main()"]


def _count(url: str, model) -> int:
    with session_scope(url) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_processbench_round_trip_gives_back_the_same_problems_steps_and_labels(
    db_url: str, processbench_dir: Path, tmp_path: Path
) -> None:
    source = processbench_dir / "gsm8k.json"
    summary = import_file(source, fmt="processbench", url=db_url, campaign="gsm8k")
    assert (summary.imported, summary.duplicates, summary.rejected) == (400, 0, 0)
    again = import_file(source, fmt="processbench", url=db_url)
    assert (again.imported, again.duplicates, again.rejected) == (0, 400, 0)
    assert _count(db_url, Item) == 400

    out = tmp_path / "export.json"
    assert export(out, fmt="processbench", campaign="gsm8k", url=db_url).count == 400
    original = {obj["id"]: obj for obj in json.loads(source.read_text())}
    exported = {obj["id"]: obj for obj in json.loads(out.read_text())}
    assert exported.keys() == original.keys()
    for key, obj in original.items():
        back = exported[key]
        assert back["problem"] == obj["problem"]
        assert back["steps"] == obj["steps"]
        assert back["label"] == obj["label"]
        assert back["generator"] == obj["generator"]
        assert back["final_answer_correct"] == obj["final_answer_correct"]


def test_prm800k_ratings_become_annotations_of_their_labelers(db_url: str, tmp_path: Path) -> None:
    lines = [
        phase2_line("P1", ("a", "b", "c"), (1, -1, None), finish_reason="found_error", labeler="lab-1"),
        phase2_line("P1", ("a", "b", "c"), (1, 1, 1), finish_reason="solution", labeler="lab-2"),
        '{"labeler": "x", "question": {}}',
        phase1_line(),
        phase2_line("P2", ("x", "y"), (0, None), finish_reason="give_up", labeler="lab-1"),
        "not json at all",
    ]
    path = tmp_path / "prm.jsonl"
    path.write_text("\n".join(lines) + "\n")
    errors: list[str] = []
    summary = import_file(path, fmt="prm800k", url=db_url, campaign="prm", batch_size=2, on_error=errors.append)
    assert (summary.imported, summary.duplicates, summary.rejected) == (4, 0, 2)
    assert (summary.new_items, summary.new_annotations) == (3, 4)
    assert [e.split(":")[0] for e in errors] == ["line 3", "line 6"]
    assert "question.problem" in errors[0]

    with session_scope(db_url) as session:
        labelers = {u.username: u for u in session.scalars(select(User))}
        assert set(labelers) == {"lab-1", "lab-2", "phase1-labeler"}
        assert all(u.role == "annotator" and not u.active and u.password_hash is None for u in labelers.values())
        rows = session.execute(
            select(User.username, Item.problem, Annotation.ratings, Annotation.first_error_step, Annotation.status)
            .join(User, User.id == Annotation.annotator_id)
            .join(Item, Item.id == Annotation.item_id)
            .order_by(Annotation.id)
        ).all()
        assert [tuple(r) for r in rows] == [
            ("lab-1", "P1", [1, -1, None], 2, "submitted"),
            ("lab-2", "P1", [1, 1, 1], -1, "submitted"),
            ("phase1-labeler", "Compute 6*7.", [1, -1], 2, "submitted"),
            ("lab-1", "P2", [0, None], None, "submitted"),
        ]
        assert get_campaign(session, name="prm").name == "prm"
        progress = campaign_progress(session, campaign_id=get_campaign(session, name="prm").id)
        assert progress.items == 3 and progress.annotations_by_status == {"submitted": 4}
    assert _count(db_url, AnnotationEvent) == 4

    again = import_file(path, fmt="prm800k", url=db_url, campaign="prm")
    assert (again.imported, again.duplicates, again.rejected) == (0, 4, 2)
    assert _count(db_url, Annotation) == 4 and _count(db_url, Item) == 3

    out = tmp_path / "export.jsonl"
    assert export(out, fmt="prm800k", campaign="prm", statuses=["submitted"], url=db_url).count == 4
    back = [r for r in read_prm800k(out) if isinstance(r, PRM800KRecord)]
    assert [(r.labeler, r.item.problem, r.ratings, r.first_error_step) for r in back] == [
        (u, p, ratings, label) for u, p, ratings, label, _ in rows
    ]


def test_mr_gsm8k_steps_lose_their_step_prefix_and_keep_the_source(sqlite_db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "mr.json"
    path.write_text(
        json.dumps(
            [{"id": "mr-1", "problem": "2*6?", "steps": ["Step 1: 2*6 = <<2*6=12>>12", "Step 2: 12"], "label": -1}]
        )
    )
    assert import_file(path, fmt="mr-gsm8k", url=sqlite_db_url).imported == 1
    with session_scope(sqlite_db_url) as session:
        item = session.scalar(select(Item))
        assert item.steps == ["2*6 = <<2*6=12>>12", "12"] and item.source == "mr-gsm8k"
        assert item.first_error_step == -1 and item.source_id == "mr-1"


def test_csv_and_hf_exports_carry_the_annotators_majority_label(sqlite_db_url: str, tmp_path: Path, make_user) -> None:
    path = tmp_path / "prm.jsonl"
    path.write_text(
        "\n".join(
            [
                phase2_line("P", ("a", "b"), (1, -1), finish_reason="found_error", labeler="l1"),
                phase2_line("P", ("a", "b"), (1, -1), finish_reason="found_error", labeler="l2"),
                phase2_line("P", ("a", "b"), (1, 1), finish_reason="solution", labeler="l3"),
                phase2_line("Q", ("c",), (1,), finish_reason="solution", labeler="l1"),
            ]
        )
    )
    import_file(path, fmt="prm800k", url=sqlite_db_url)
    out_csv = tmp_path / "out.csv"
    assert export(out_csv, fmt="csv", url=sqlite_db_url).count == 2
    rows = list(csv.DictReader(out_csv.open()))
    assert [(r["problem"], json.loads(r["steps"]), r["label"], r["n_annotations"]) for r in rows] == [
        ("P", ["a", "b"], "1", "3"),
        ("Q", ["c"], "-1", "1"),
    ]
    from datasets import load_from_disk

    out_hf = tmp_path / "hf"
    assert export(out_hf, fmt="hf", url=sqlite_db_url).count == 2
    dataset = load_from_disk(str(out_hf))
    assert dataset["problem"] == ["P", "Q"] and dataset["first_error_step"] == [2, -1] and dataset["label"] == [1, -1]
    assert export(tmp_path / "none", fmt="hf", statuses=["approved"], url=sqlite_db_url).count == 0


def test_exports_carry_the_critique_rating(sqlite_db_url: str, _sqlite_template: Path, tmp_path: Path) -> None:
    path = tmp_path / "prm.jsonl"
    lines = [phase2_line("P", ("a", "b"), (1, -1), finish_reason="found_error", labeler=f"l{i}") for i in range(3)]
    path.write_text("\n".join([*lines, phase2_line("Q", ("c",), (1,), finish_reason="solution", labeler="l1")]))
    import_file(path, fmt="prm800k", url=sqlite_db_url)
    with session_scope(sqlite_db_url) as session:
        annotations = list(session.scalars(select(Annotation).order_by(Annotation.id)))
        # Imported labelers cannot log in: an admin sets the ratings, audited like any edit, so the export's dataset
        # version can be written again from the audit trail.
        admin = create_user(session, username="admin", password="pw-admin", role="admin")
        session.commit()
        for annotation, rating in zip(annotations, ["misleading", "helpful", "misleading", None], strict=True):
            save_annotation(
                session,
                annotation_id=annotation.id,
                expected_version=annotation.version,
                actor_id=admin.id,
                critique_rating=rating,
            )
        session.commit()
    out = tmp_path / "out.jsonl"
    assert export(out, fmt="prm800k", url=sqlite_db_url).count == 4
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["critique_rating"] for r in records] == ["misleading", "helpful", "misleading", None]
    assert [r.ratings for r in read_prm800k(out) if isinstance(r, PRM800KRecord)][0] == [1, -1]  # still PRM800K
    # Read back: importing the export into another database keeps each labeler's rating of the critique.
    shutil.copyfile(_sqlite_template, tmp_path / "other.db")  # a second fresh, migrated database
    other = f"sqlite:///{tmp_path / 'other.db'}"
    import_file(out, fmt="prm800k", url=other)
    with session_scope(other) as session:
        kept = list(session.scalars(select(Annotation.critique_rating).order_by(Annotation.id)))
    assert kept == ["misleading", "helpful", "misleading", None]
    out_csv = tmp_path / "out.csv"
    export(out_csv, fmt="csv", url=sqlite_db_url)
    assert [(r["problem"], r["critique_rating"]) for r in csv.DictReader(out_csv.open())] == [
        ("P", "misleading"),
        ("Q", ""),
    ]
    from datasets import load_from_disk

    export(tmp_path / "hf", fmt="hf", url=sqlite_db_url)
    assert load_from_disk(str(tmp_path / "hf"))["critique_rating"] == ["misleading", None]


def test_kill_9_during_import_keeps_whole_batches_and_the_rerun_completes(db_url: str, tmp_path: Path) -> None:
    total, batch = 1200, 20
    path = tmp_path / "big.jsonl"
    with path.open("w") as handle:
        for i in range(total):
            handle.write(
                phase2_line(f"problem {i}", (f"step a{i}", f"step b{i}"), (1, 1), labeler=f"lab-{i % 7}") + "\n"
            )
    command = [*CLI, "import", "--format", "prm800k", str(path), "--batch-size", str(batch), "--database-url", db_url]
    env = {**os.environ, "CRITIC_DATABASE_URL": db_url}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while _count(db_url, Annotation) < 3 * batch and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stored = _count(db_url, Annotation)
    assert 0 < stored < total, "the import should have been killed mid-way"
    assert stored % batch == 0  # whole batches only
    assert _count(db_url, Item) == stored and _count(db_url, AnnotationEvent) == stored

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert (
        rerun.stdout.strip()
        .splitlines()[-1]
        .startswith(f"imported {total - stored}, skipped as duplicate {stored}, rejected 0")
    )
    assert _count(db_url, Item) == total and _count(db_url, Annotation) == total
    assert _count(db_url, AnnotationEvent) == total


def test_unknown_format_and_missing_file_are_clear_errors(sqlite_db_url: str, tmp_path: Path) -> None:
    from core.errors import BadInputError

    with pytest.raises(BadInputError, match="unknown import format 'xml'"):
        import_file(tmp_path / "x", fmt="xml", url=sqlite_db_url)
    with pytest.raises(BadInputError, match="does not exist"):
        import_file(tmp_path / "missing.jsonl", fmt="prm800k", url=sqlite_db_url)
    with pytest.raises(BadInputError, match="status 'done'"):
        export(tmp_path / "o.jsonl", fmt="prm800k", statuses=["done"], url=sqlite_db_url)


def test_prm800k_import_counts_how_ratings_became_labels(sqlite_db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "kinds.jsonl"
    lines = [
        phase2_line("P1", ("a", "b", "c"), (1, 0, -1), finish_reason="found_error", labeler="lab-1"),
        phase2_line("P2", ("a", "b"), (1, 0), finish_reason="solution", labeler="lab-1"),
        phase2_line("P3", ("a", "b"), (1, 0), finish_reason="found_error", labeler="lab-1"),
        phase2_line("P4", ("a", "b"), (1, None), finish_reason="give_up", labeler="lab-1"),
        phase2_line("P5", ("a", "b"), (0, None), finish_reason="bad_problem", labeler="lab-1"),
    ]
    path.write_text("\n".join(lines) + "\n")
    summary = import_file(path, fmt="prm800k", url=sqlite_db_url)
    assert summary.labels == {
        "first_error": 1,
        "no_error": 1,
        "found_error_without_-1": 1,
        "give_up": 1,
        "bad_problem": 1,
    }
    assert summary.neutral_steps == 4
    assert summary.labels_line() == (
        "labels: first_error 1, no_error 1, found_error_without_-1 1, give_up 1, bad_problem 1; "
        "steps rated neutral (0, read as not an error): 4"
    )
    with session_scope(sqlite_db_url) as session:
        labels = dict(session.execute(select(Item.problem, Annotation.first_error_step).join(Annotation.item)).all())
    assert labels == {"P1": 3, "P2": -1, "P3": None, "P4": None, "P5": None}
    assert import_file(path, fmt="prm800k", url=sqlite_db_url).labels == {}  # nothing new stored, nothing counted
