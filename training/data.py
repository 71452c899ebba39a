"""Training data snapshots: annotations + PRM800K minus evaluation-set problems, mixed, deduplicated, split, hashed."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import BadInputError, ConfigError
from core.parsing import parse_critique
from core.prm800k import BadLine, PRM800KRecord, parse_record, read_prm800k
from core.types import NO_ERROR
from db.eval_sets import held_out_problem_keys
from db.items import content_hash, problem_key
from db.models import Annotation, CritiqueRun
from db.training_labels import training_labels
from training.config import GRPOJobConfig, SFTJobConfig
from training.targets import LabelledItem


@dataclass
class DataSnapshot:
    """The exact data a job trains and validates on, with its hash and how it was assembled."""

    train: list[LabelledItem]
    validation: list[LabelledItem]
    data_hash: str
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    dataset_version_id: int | None = None
    """The dataset version recording its annotations (`record_dataset_version`), once recorded."""

    def manifest(self) -> dict[str, Any]:
        """Everything needed to trace a model back to its data (written next to the model)."""
        return {
            "data_hash": self.data_hash,
            "dataset_version_id": self.dataset_version_id,
            "counts": self.counts,
            "warnings": self.warnings,
            "train": [_entry(item) for item in self.train],
            "validation": [_entry(item) for item in self.validation],
        }


def _entry(item: LabelledItem) -> dict[str, Any]:
    return {
        "content_hash": content_hash(item.problem, item.steps),
        "first_error_step": item.first_error_step,
        "source": item.source,
        "source_id": item.source_id,
        **item.provenance,
    }


# --- annotations -------------------------------------------------------------------------------------------------


def _render_result(result: dict[str, Any], first_error: int) -> str:
    """A stored critique result (CritiqueResult JSON) back in the critic's output format."""
    blocks = []
    last = len(result.get("steps", [])) if first_error == NO_ERROR else first_error
    for step in result.get("steps", [])[:last]:
        body = " ".join(part for part in (step.get("critique", ""), step.get("meta_critique", "")) if part).strip()
        value = -1 if step.get("verdict") == "incorrect" else 1
        blocks.append(
            f"**Critique of Step {step['index']}**: {body}\n"
            f"**Judgement**: The correctness of Step {step['index']} is: \\boxed{{{value}}}"
        )
    blocks.append(f"**Answer**: \\boxed{{{first_error}}}")
    return "\n\n".join(blocks)


def accepted_critique(annotation: Annotation, run: CritiqueRun | None, num_steps: int) -> str | None:
    """The stored critique when the human accepted the critic's verdicts unchanged, else None.

    Accepted means: the run's first error equals the human label and every step the critique covers (up to the
    first error, or all steps) is in the annotation's accepted_steps.
    """
    label = annotation.first_error_step
    if run is None or label is None or run.first_error_step != label:
        return None
    covered = range(1, (num_steps if label == NO_ERROR else label) + 1)
    if not set(covered) <= {int(s) for s in annotation.accepted_steps or []}:
        return None
    for raw in run.raw_outputs or []:
        if isinstance(raw, str) and parse_critique(raw, num_steps).first_error_step == label:
            return raw.strip()
    return _render_result(run.result or {}, label) if run.result else None


def annotation_items(
    session: Session, *, statuses: Sequence[str] = ("approved", "submitted"), use_class_labels: bool = False
) -> tuple[list[LabelledItem], dict[str, int]]:
    """One labelled item per annotated solution, chosen by `db.training_labels.training_labels` (the job's rules),
    and how many labels of each source were chosen or left out."""
    chosen = training_labels(session, statuses=statuses, use_class_labels=use_class_labels)
    run_ids = [label.annotation.critique_run_id for label in chosen.labels if label.annotation.critique_run_id]
    runs = {r.id: r for r in session.scalars(select(CritiqueRun).where(CritiqueRun.id.in_(run_ids)))} if run_ids else {}
    out = []
    for label in chosen.labels:
        annotation, item = label.annotation, label.item
        steps = tuple(item.steps)
        out.append(
            LabelledItem(
                problem=item.problem,
                steps=steps,
                first_error_step=int(annotation.first_error_step),
                source="annotation",
                source_id=f"annotation:{annotation.id}",
                stored_critique=accepted_critique(annotation, runs.get(annotation.critique_run_id), len(steps)),
                comment=annotation.comment or "",
                provenance={
                    "annotation_id": annotation.id,
                    "annotation_version": annotation.version,
                    "label_source": label.source,
                },
                answer=item.answer,
            )
        )
    counts = {f"labels_{source}": n for source, n in chosen.chosen.items()}
    counts["labels_awaiting_review"] = chosen.awaiting_review
    counts["labels_class_left_out"] = chosen.class_left_out
    return out, counts


# --- PRM800K -----------------------------------------------------------------------------------------------------


def _prm800k_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    files = sorted(source.glob("**/*train*.jsonl")) or sorted(source.glob("**/*.jsonl"))
    if not files:
        raise ConfigError(f"prm800k directory {source} holds no .jsonl files (expected phase*_train.jsonl)")
    return files


def _prm800k_records(source: str, *, offline: bool) -> Iterable[tuple[str, PRM800KRecord | BadLine]]:
    path = Path(source).expanduser()
    if path.exists():
        for file in _prm800k_files(path):
            for record in read_prm800k(file):
                yield file.name, record
        return
    # A dataset id: read from the local datasets cache (no download unless offline is off).
    import os

    from datasets import load_dataset

    if offline:
        os.environ["HF_DATASETS_OFFLINE"] = "1"
    try:
        dataset = load_dataset(source, split="train")
    except Exception as exc:
        raise ConfigError(
            f"prm800k dataset {source!r} could not be read ({exc.__class__.__name__}: {exc}); give a local path "
            "to the official phase*_train.jsonl files"
        ) from None
    for index, row in enumerate(dataset, start=1):
        try:
            yield source, parse_record(dict(row), line_number=index)
        except (BadInputError, ValueError) as exc:
            yield source, BadLine(index, str(exc))


def prm800k_items(source: str, *, offline: bool = True) -> tuple[list[LabelledItem], list[str]]:
    """Labelled items from PRM800K (first error = first step rated -1, -1 for finished solutions).

    Rows without a usable label (give_up, bad_problem) and quality-control questions are skipped.
    Returns the items and warnings for unreadable lines (at most 20 listed).
    """
    items: list[LabelledItem] = []
    warnings: list[str] = []
    bad = 0
    for name, record in _prm800k_records(source, offline=offline):
        if isinstance(record, BadLine):
            bad += 1
            if len(warnings) < 20:
                warnings.append(f"prm800k {name} line {record.line_number}: {record.error}")
            continue
        label = record.first_error_step
        if label is None or record.is_quality_control or not record.item.steps:
            continue
        items.append(
            LabelledItem(
                problem=record.item.problem,
                steps=tuple(record.item.steps),
                first_error_step=label,
                source="prm800k",
                source_id=f"{name}:{record.line_number}",
                provenance={"labeler": record.labeler},
                answer=record.item.answer,
            )
        )
    if bad > len(warnings):
        warnings.append(f"prm800k: {bad} unreadable lines in all")
    return items, warnings


# --- mixing, dedup, split, hash ------------------------------------------------------------------------------------


def deduplicate(items: Iterable[LabelledItem]) -> tuple[list[LabelledItem], int]:
    """Keep the first item per (problem, steps); callers list annotations first so human labels win."""
    seen: set[str] = set()
    kept: list[LabelledItem] = []
    count = 0
    for item in items:
        count += 1
        key = content_hash(item.problem, item.steps)
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept, count - len(kept)


def held_out_side(problem: str, fraction: float) -> bool:
    """Whether a problem is held out: its hash, read as a number in [0, 1), is below `fraction`.

    Depends on the problem text alone, so a problem's side never changes as data is added or removed.
    """
    return int(problem_key(problem)[:15], 16) / 16**15 < fraction


def split_by_problem(
    items: Sequence[LabelledItem], *, fraction: float
) -> tuple[list[LabelledItem], list[LabelledItem]]:
    """Hold out about `fraction` of the problems, whole (no problem in both parts), by a threshold on their hash."""
    if fraction <= 0:
        return list(items), []
    train = [item for item in items if not held_out_side(item.problem, fraction)]
    validation = [item for item in items if held_out_side(item.problem, fraction)]
    return train, validation


def mix(
    annotations: Sequence[LabelledItem],
    prm800k: Sequence[LabelledItem],
    *,
    prm800k_ratio: float,
    max_items: int | None,
    seed: int,
) -> list[LabelledItem]:
    """Subsample the larger source so PRM800K makes up `prm800k_ratio` of the result (when both exist)."""
    rng = random.Random(seed)
    if not prm800k or prm800k_ratio == 0:
        n_ann, n_prm = len(annotations), 0
    elif not annotations or prm800k_ratio == 1:
        n_ann, n_prm = 0, len(prm800k)
    else:
        total = min(len(annotations) / (1 - prm800k_ratio), len(prm800k) / prm800k_ratio)
        n_ann = min(len(annotations), round(total * (1 - prm800k_ratio)))
        n_prm = min(len(prm800k), round(total * prm800k_ratio))
    if max_items is not None and n_ann + n_prm > max_items:
        scale = max_items / (n_ann + n_prm)
        n_ann, n_prm = round(n_ann * scale), max_items - round(n_ann * scale)
    chosen = rng.sample(list(annotations), n_ann) + rng.sample(list(prm800k), n_prm)
    rng.shuffle(chosen)
    return chosen


def snapshot_hash(train: Sequence[LabelledItem], validation: Sequence[LabelledItem], settings: dict[str, Any]) -> str:
    """sha256 over every item's identity, label and provenance (annotation id + version) and the mix settings."""
    payload = {
        "train": sorted(json.dumps(_entry(i), sort_keys=True) for i in train),
        "validation": sorted(json.dumps(_entry(i), sort_keys=True) for i in validation),
        "settings": settings,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


def build_snapshot(
    session: Session | None,
    config: SFTJobConfig | GRPOJobConfig,
    *,
    offline: bool = True,
) -> DataSnapshot:
    """Assemble the job's data: read sources, drop evaluation-set problems, dedup (annotations first), split by
    problem, mix the train part."""
    warnings: list[str] = []
    if config.use_annotations and session is None:
        raise ConfigError("use_annotations needs a database session")
    annotations: list[LabelledItem] = []
    label_counts: dict[str, int] = {}
    if config.use_annotations:
        annotations, label_counts = annotation_items(
            session, statuses=config.statuses, use_class_labels=config.use_class_labels
        )
    prm: list[LabelledItem] = []
    if config.prm800k:
        prm, prm_warnings = prm800k_items(config.prm800k, offline=offline)
        warnings.extend(prm_warnings)
    held_out = held_out_problem_keys(session) if session is not None else set()
    kept = [i for i in [*annotations, *prm] if problem_key(i.problem) not in held_out]
    excluded = len(annotations) + len(prm) - len(kept)
    unique, duplicates = deduplicate(kept)
    annotation_problems = {problem_key(i.problem) for i in unique if i.source == "annotation"}
    train_all, validation = split_by_problem(unique, fraction=config.validation_fraction)
    train = mix(
        [i for i in train_all if i.source == "annotation"],
        [i for i in train_all if i.source != "annotation"],
        prm800k_ratio=config.prm800k_ratio if config.prm800k else 0.0,
        max_items=config.max_train_items,
        seed=config.seed,
    )
    leaked = sum(problem_key(i.problem) in held_out for i in [*train, *validation])
    if leaked:  # a bug, not bad input: training on an evaluation set would make every gate decision meaningless
        raise RuntimeError(f"{leaked} snapshot items belong to registered evaluation sets")
    # GRPO's revision reward also trains on code tasks (training.revision_reward): annotations are optional there.
    if not train and getattr(config, "reward", None) != "revision":
        raise BadInputError(
            "no training data: no approved labels (or submitted ones where no review is due) with a first-error label"
            + (" and no usable PRM800K rows" if config.prm800k else "; add annotations or set prm800k")
        )
    counts = {
        "annotations": len(annotations),
        **label_counts,
        "prm800k": len(prm),
        "eval_set_excluded": excluded,
        "duplicates_dropped": duplicates,
        "train": len(train),
        "train_annotations": sum(1 for i in train if i.source == "annotation"),
        "train_prm800k": sum(1 for i in train if i.source == "prm800k"),
        "validation": len(validation),
        "annotation_problems": len(annotation_problems),
    }
    settings = {
        "use_annotations": config.use_annotations,
        "statuses": sorted(config.statuses),
        "use_class_labels": config.use_class_labels,
        "prm800k": config.prm800k,
        "prm800k_ratio": config.prm800k_ratio,
        "validation_fraction": config.validation_fraction,
        "max_train_items": config.max_train_items,
        "seed": config.seed,
    }
    return DataSnapshot(
        train=train,
        validation=validation,
        data_hash=snapshot_hash(train, validation, settings),
        counts=counts,
        warnings=warnings,
        settings=settings,
    )


def record_dataset_version(session: Session, snapshot: DataSnapshot, *, purpose: str) -> int | None:
    """Record the snapshot's human labels (train and validation, each annotation at the version it trains on) as a
    dataset version, so `critic export --version N` writes them later; None when it holds no annotations."""
    from db.exporter import record_annotations_version

    refs = [
        (int(item.provenance["annotation_id"]), int(item.provenance["annotation_version"]))
        for item in (*snapshot.train, *snapshot.validation)
        if item.source == "annotation"
    ]
    if not refs:
        return None
    version = record_annotations_version(
        session,
        refs,
        purpose=purpose,
        filters={**snapshot.settings, "data_hash": snapshot.data_hash},
        counts={k: snapshot.counts[k] for k in ("train", "train_annotations", "validation") if k in snapshot.counts},
    )
    snapshot.dataset_version_id = version.id
    return version.id
