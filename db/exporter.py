"""Export: annotations as PRM800K JSONL, items with labels as ProcessBench JSON or JSONL, a `datasets` dataset, CSV."""

from __future__ import annotations

import csv
import hashlib
import json
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.errors import BadInputError, ConflictError
from core.prm800k import to_prm800k
from db.campaigns import get_campaign
from db.dataset_versions import (
    annotation_states,
    file_sha256,
    get_dataset_version,
    items_by_id,
    record_version,
)
from db.items import is_code_row, to_code_item, to_solution_item
from db.models import ANNOTATION_STATUSES, Annotation, CampaignItem, DatasetVersion, Item, User
from db.session import database_url, get_sessionmaker

EXPORT_FORMATS: tuple[str, ...] = ("prm800k", "processbench", "jsonl", "hf", "csv")
# Drafts are work in progress: they are labels only when asked for by status.
DEFAULT_LABEL_STATUSES = ("submitted", "approved")
_PAGE = 500
# Columns of the hf and csv exports (steps: list in hf, JSON string in csv; label 0-based, first_error_step 1-based).
# step_comments: the annotations' step comments, {"step": 1-based, "annotator", "comment"} each (a JSON string in csv).
# critique_rating: the annotators' majority rating of the critique they were shown (empty when nobody rated it).
FLAT_FIELDS = [
    "id",
    "problem",
    "steps",
    "label",
    "first_error_step",
    "answer",
    "source",
    "n_annotations",
    "step_comments",
    "critique_rating",
]


@dataclass(frozen=True)
class LabelledItem:
    """An item with the label to export: the annotators' majority first-error step, else the reference label."""

    item: Item
    first_error_step: int | None
    n_annotations: int
    annotations: tuple[tuple[int, int], ...] = ()
    """(annotation id, version) of every label read, oldest annotation first: what a dataset version records."""
    step_comments: tuple[dict[str, Any], ...] = ()
    """Each label's step comments: {step, annotator, comment}."""
    critique_rating: str | None = None
    """The annotators' majority rating of the critique they were shown."""


def _majority(labels: Sequence[Any]) -> Any:
    counted = Counter(label for label in labels if label is not None)
    if not counted:
        return None
    best = max(counted.values())
    # Ties go to the label given first, so the result does not depend on dict ordering.
    return next(label for label in labels if label is not None and counted[label] == best)


def _labelled(
    item: Item,
    labels: Sequence[int | None],
    refs: Sequence[tuple[int, int]],
    comments: Sequence[dict[str, Any]] = (),
    critique_ratings: Sequence[str | None] = (),
) -> LabelledItem:
    label = _majority(labels)
    first = label if label is not None else item.first_error_step
    return LabelledItem(item, first, len(labels), tuple(refs), tuple(comments), _majority(critique_ratings))


def _comment_rows(step_comments: dict[str, str] | None, username: str) -> list[dict[str, Any]]:
    """One label's step comments as export rows: {step, annotator, comment}, in step order."""
    return [
        {"step": int(step), "annotator": username, "comment": text}
        for step, text in sorted((step_comments or {}).items(), key=lambda entry: int(entry[0]))
    ]


def _annotation_filter(query: Select[Any], campaign_id: int | None, statuses: Sequence[str]) -> Select[Any]:
    query = query.where(Annotation.status.in_(list(statuses)))
    if campaign_id is not None:
        query = query.where(Annotation.campaign_id == campaign_id)
    return query


def iter_labelled_items(
    session: Session, *, campaign_id: int | None = None, statuses: Sequence[str] | None = None
) -> Iterator[LabelledItem]:
    """Items (of a campaign, or all; only those with an annotation in `statuses` when given), page by page."""
    label_statuses = tuple(statuses or DEFAULT_LABEL_STATUSES)
    query = select(Item).order_by(Item.id)
    if campaign_id is not None:
        query = query.join(CampaignItem, CampaignItem.item_id == Item.id).where(CampaignItem.campaign_id == campaign_id)
    if statuses:
        query = query.where(Item.id.in_(_annotation_filter(select(Annotation.item_id), campaign_id, label_statuses)))
    last_id = 0
    while True:
        page = list(session.scalars(query.where(Item.id > last_id).limit(_PAGE)))
        if not page:
            return
        last_id = page[-1].id
        labels: dict[int, list[int | None]] = {}
        refs: dict[int, list[tuple[int, int]]] = {}
        comments: dict[int, list[dict[str, Any]]] = {}
        critique_ratings: dict[int, list[str | None]] = {}
        columns = select(
            Annotation.item_id,
            Annotation.first_error_step,
            Annotation.id,
            Annotation.version,
            Annotation.step_comments,
            Annotation.critique_rating,
            User.username,
        )
        annotations = _annotation_filter(
            columns.join(User, User.id == Annotation.annotator_id), campaign_id, label_statuses
        ).where(Annotation.item_id.in_([item.id for item in page]))
        rows = session.execute(annotations.order_by(Annotation.id))
        for item_id, label, annotation_id, version, step_comments, critique_rating, username in rows:
            labels.setdefault(item_id, []).append(label)
            refs.setdefault(item_id, []).append((annotation_id, version))
            comments.setdefault(item_id, []).extend(_comment_rows(step_comments, username))
            critique_ratings.setdefault(item_id, []).append(critique_rating)
        for item in page:
            yield _labelled(
                item,
                labels.get(item.id, []),
                refs.get(item.id, []),
                comments.get(item.id, []),
                critique_ratings.get(item.id, []),
            )
        session.expunge_all()  # keep memory flat on large exports


def _processbench(labelled: LabelledItem) -> dict[str, Any]:
    if is_code_row(labelled.item):
        # A code item keeps its code, language and tests, so `critic import --format jsonl` reads it back whole.
        out = to_code_item(labelled.item, first_error_step=labelled.first_error_step).to_json()
        if not labelled.item.source_id:
            out["id"] = f"item-{labelled.item.id}"
        return out
    solution = to_solution_item(labelled.item).model_copy(update={"first_error_step": labelled.first_error_step})
    out = solution.to_processbench()
    if not labelled.item.source_id:
        out["id"] = f"item-{labelled.item.id}"
    return out


def _flat_row(labelled: LabelledItem) -> dict[str, Any]:
    record = _processbench(labelled)
    if is_code_row(labelled.item):  # flat tables show the code as the one step; jsonl keeps the tests
        first = labelled.first_error_step
        record = {**record, "steps": [record["code"]], "label": None if first is None else (-1 if first == -1 else 0)}
    return {
        "id": record["id"],
        "problem": record["problem"],
        "steps": record["steps"],
        "label": record["label"],
        "first_error_step": labelled.first_error_step,
        "answer": labelled.item.answer,
        "source": labelled.item.source,
        "n_annotations": labelled.n_annotations,
        "step_comments": list(labelled.step_comments),
        "critique_rating": labelled.critique_rating,
    }


def prm800k_record(item: Item, username: str, state: dict[str, Any], changed_at: datetime | None) -> dict[str, Any]:
    """One annotation in the PRM800K schema, from its state (db.annotations.snapshot keys) and when it was written."""
    record = to_prm800k(
        to_solution_item(item),
        state["ratings"],
        finish_reason=state["finish_reason"],
        labeler=username,
        timestamp=changed_at.isoformat() if changed_at else "",
        total_time_ms=state["time_spent_ms"],
        flagged_steps=state["flagged_steps"],
        is_quality_control=item.is_gold,
        step_comments=state.get("step_comments") or {},
    )
    # critique_rating: an extension field (PRM800K has none), the annotator's rating of the critique shown.
    return {**record, "critique_rating": state.get("critique_rating")}


def _prm800k_rows(
    session: Session, *, campaign_id: int | None, statuses: Sequence[str] | None
) -> Iterator[tuple[dict[str, Any], tuple[int, int]]]:
    query = (
        select(Annotation, Item, User.username)
        .join(Item, Item.id == Annotation.item_id)
        .join(User, User.id == Annotation.annotator_id)
    )
    query = _annotation_filter(query, campaign_id, tuple(statuses or DEFAULT_LABEL_STATUSES)).order_by(Annotation.id)
    for annotation, item, username in session.execute(query.execution_options(yield_per=_PAGE)):
        state = {
            key: getattr(annotation, key)
            for key in (
                "ratings",
                "finish_reason",
                "flagged_steps",
                "time_spent_ms",
                "step_comments",
                "critique_rating",
            )
        }
        yield prm800k_record(item, username, state, annotation.updated_at), (annotation.id, annotation.version)


def iter_prm800k(
    session: Session, *, campaign_id: int | None = None, statuses: Sequence[str] | None = None
) -> Iterator[dict[str, Any]]:
    """One PRM800K-schema object per annotation, attributed to the annotator's username."""
    for record, _ in _prm800k_rows(session, campaign_id=campaign_id, statuses=statuses):
        yield record


def export_row(fmt: str, labelled: LabelledItem) -> dict[str, Any]:
    """What an item-format export writes for one item (prm800k writes annotations: `prm800k_record`)."""
    if fmt in ("processbench", "jsonl"):
        return _processbench(labelled)
    row = _flat_row(labelled)
    if fmt != "csv":
        return row
    return {**row, **{key: json.dumps(row[key], ensure_ascii=False) for key in ("steps", "step_comments")}}


@dataclass
class Selection:
    """What an export read, as it read it: item ids in export order and (annotation id, version) pairs."""

    item_ids: list[int] = field(default_factory=list)
    annotations: list[tuple[int, int]] = field(default_factory=list)


def live_records(
    session: Session, fmt: str, *, campaign_id: int | None, statuses: Sequence[str] | None, seen: Selection
) -> Iterator[dict[str, Any]]:
    """The records of an export from the database as it is now, noting in `seen` what they were made of."""
    if fmt == "prm800k":
        for record, ref in _prm800k_rows(session, campaign_id=campaign_id, statuses=statuses):
            seen.annotations.append(ref)
            yield record
        return
    for labelled in iter_labelled_items(session, campaign_id=campaign_id, statuses=statuses):
        seen.item_ids.append(labelled.item.id)
        seen.annotations.extend(labelled.annotations)
        yield export_row(fmt, labelled)


def write_records(handle: TextIO, fmt: str, records: Iterable[dict[str, Any]]) -> int:
    """Write the records of a file format (not hf) to an open text handle; returns how many."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(handle, fieldnames=FLAT_FIELDS)
        writer.writeheader()
        for row in records:
            writer.writerow(row)
            count += 1
        return count
    if fmt == "processbench":
        handle.write("[")
        for record in records:
            handle.write(("\n" if count == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
            count += 1
        handle.write("\n]\n")
        return count
    for record in records:  # prm800k, jsonl, and hf's hashed form: JSON Lines
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


class HashingSink:
    """A text sink that keeps only the sha256 of the UTF-8 bytes written to it (what a file would hold)."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def write(self, text: str) -> int:
        self.digest.update(text.encode("utf-8"))
        return len(text)

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


# --- writing an export, and writing a recorded dataset version again ---------------------------------------------

_HF_FEATURES = {
    "id": "string",
    "problem": "string",
    "steps": "list",
    "label": "int64",
    "first_error_step": "int64",
    "answer": "string",
    "source": "string",
    "n_annotations": "int64",
}


@dataclass(frozen=True)
class ExportResult:
    """An export: how many records, its dataset version (recorded, or the one written again) and content hash."""

    count: int
    version_id: int
    content_hash: str


def recorded_records(session: Session, version: DatasetVersion) -> Iterator[dict[str, Any]]:
    """The records of a dataset version rebuilt from what it recorded: each annotation as the audit trail holds it
    at the recorded version, the recorded items in their recorded order."""
    states = annotation_states(session, [tuple(ref) for ref in version.annotations])
    if version.format == "prm800k":
        items = items_by_id(session, [state.item_id for state in states])
        for state in states:
            yield prm800k_record(items[state.item_id], state.username, state.state, state.changed_at)
        return
    items = items_by_id(session, version.item_ids)
    by_item: dict[int, list[Any]] = {}
    for state in states:
        by_item.setdefault(state.item_id, []).append(state)
    for item_id in version.item_ids:
        group = by_item.get(item_id, [])
        labels = [state.state["first_error_step"] for state in group]
        refs = [(state.annotation_id, state.version) for state in group]
        comments = [row for state in group for row in _comment_rows(state.state.get("step_comments"), state.username)]
        ratings = [state.state.get("critique_rating") for state in group]
        yield export_row(version.format, _labelled(items[item_id], labels, refs, comments, ratings))


def records_hash(fmt: str, records: Iterable[dict[str, Any]]) -> tuple[str, int]:
    """(sha256, count) of the bytes the records make in `fmt` (hf: as JSON Lines; its Arrow files are not stable)."""
    sink = HashingSink()
    count = write_records(sink, "jsonl" if fmt == "hf" else fmt, records)  # type: ignore[arg-type]
    return sink.hexdigest(), count


def _hf_version_rows(url: str, version_id: int) -> Iterator[dict[str, Any]]:
    with get_sessionmaker(url)() as session:
        yield from recorded_records(session, get_dataset_version(session, version_id=version_id))


def _save_hf(output: Path, url: str, version_id: int, count: int) -> None:
    from datasets import Dataset, Features, Sequence, Value

    features = Features(
        {name: Sequence(Value("string")) if kind == "list" else Value(kind) for name, kind in _HF_FEATURES.items()}
        | {
            "step_comments": [{"step": Value("int64"), "annotator": Value("string"), "comment": Value("string")}],
            "critique_rating": Value("string"),
        }
    )
    if count == 0:  # from_generator refuses a generator that yields nothing
        Dataset.from_dict({name: [] for name in features}, features=features).save_to_disk(str(output))
        return
    with tempfile.TemporaryDirectory(prefix="critic-export-") as cache:
        dataset = Dataset.from_generator(
            _hf_version_rows, features=features, cache_dir=cache, gen_kwargs={"url": url, "version_id": version_id}
        )
        dataset.save_to_disk(str(output))


def _not_reproduced(version: DatasetVersion, got: str) -> ConflictError:
    return ConflictError(
        f"dataset version {version.id} cannot be reproduced byte for byte: written again it has sha256 {got[:16]}..., "
        f"recorded {version.content_hash[:16]}... (an item or a user it names changed since); nothing was written"
    )


def _partial(output: Path) -> Path:
    """Where a file export is written before it is known to be right; it replaces `output` only then."""
    return output.with_name(output.name + ".partial")


def _write_file_atomically(output: Path, fmt: str, records: Iterable[dict[str, Any]]) -> tuple[Path, str, int]:
    partial = _partial(output)
    with open(partial, "w", encoding="utf-8", newline="") as handle:
        count = write_records(handle, fmt, records)
    return partial, file_sha256(partial), count


def export(
    output: str | Path,
    *,
    fmt: str | None = None,
    campaign: str | None = None,
    statuses: Sequence[str] | None = None,
    url: str | None = None,
    version: int | None = None,
    created_by: str = "",
) -> ExportResult:
    """Write an export and record it as a new dataset version; or, given `version`, write that version again.

    A version is written again byte for byte from what it recorded (the annotations at their recorded versions,
    from the audit trail), whatever changed since; if the bytes would differ, ConflictError and nothing is written.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        if version is not None:
            return _export_version(output, version, fmt=fmt, campaign=campaign, statuses=statuses, url=url)
        return _export_now(output, fmt, campaign=campaign, statuses=statuses, url=url, created_by=created_by)
    finally:
        _partial(output).unlink(missing_ok=True)  # a failed export leaves nothing half written


def _export_now(
    output: Path,
    fmt: str | None,
    *,
    campaign: str | None,
    statuses: Sequence[str] | None,
    url: str | None,
    created_by: str,
) -> ExportResult:
    if fmt not in EXPORT_FORMATS:
        raise BadInputError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    for status in statuses or ():
        if status not in ANNOTATION_STATUSES:
            raise BadInputError(f"status {status!r} is not one of {', '.join(ANNOTATION_STATUSES)}")
    with get_sessionmaker(url)() as session:
        campaign_id = get_campaign(session, name=campaign).id if campaign else None
        seen = Selection()
        records = live_records(session, fmt, campaign_id=campaign_id, statuses=statuses, seen=seen)
        if fmt == "hf":
            content_hash, count = records_hash(fmt, records)
        else:
            partial, content_hash, count = _write_file_atomically(output, fmt, records)
        session.commit()  # end the read: the version is written in its own transaction
        recorded = record_version(
            session,
            fmt=fmt,
            purpose="export",
            filters={"campaign": campaign, "statuses": list(statuses or [])},
            counts={"records": count, "items": len(set(seen.item_ids)), "annotations": len(seen.annotations)},
            content_hash=content_hash,
            item_ids=seen.item_ids,
            annotations=seen.annotations,
            created_by=created_by,
        )
        if fmt == "hf":
            # Written from the version just recorded, so the files hold exactly what it names.
            rebuilt, _ = records_hash(fmt, recorded_records(session, recorded))
            if rebuilt != content_hash:
                raise ConflictError("the audit trail disagrees with the stored annotations; nothing was written")
            _save_hf(output, database_url(url), recorded.id, count)
        else:
            partial.replace(output)
        return ExportResult(count=count, version_id=recorded.id, content_hash=content_hash)


def _export_version(
    output: Path,
    version_id: int,
    *,
    fmt: str | None,
    campaign: str | None,
    statuses: Sequence[str] | None,
    url: str | None,
) -> ExportResult:
    if campaign or statuses:
        raise BadInputError("a dataset version already names its filters: give --version without --campaign/--status")
    with get_sessionmaker(url)() as session:
        version = get_dataset_version(session, version_id=version_id)
        if fmt is not None and fmt != version.format:
            raise BadInputError(f"dataset version {version_id} is a {version.format} export; leave out --format")
        if version.format == "hf":
            content_hash, count = records_hash("hf", recorded_records(session, version))
            if content_hash != version.content_hash:
                raise _not_reproduced(version, content_hash)
            _save_hf(output, database_url(url), version.id, count)
        else:
            partial, content_hash, count = _write_file_atomically(
                output, version.format, recorded_records(session, version)
            )
            if content_hash != version.content_hash:
                raise _not_reproduced(version, content_hash)
            partial.replace(output)
        return ExportResult(count=count, version_id=version.id, content_hash=content_hash)


def record_annotations_version(
    session: Session,
    annotations: Sequence[tuple[int, int]],
    *,
    purpose: str,
    filters: dict[str, Any],
    counts: dict[str, int],
) -> DatasetVersion:
    """Record these (annotation id, version) pairs as a prm800k dataset version (a training snapshot's labels), its
    hash taken of the bytes `export(version=...)` writes, so the snapshot's labels can be exported later."""
    refs = sorted({(int(a), int(v)) for a, v in annotations})
    stub = DatasetVersion(format="prm800k", annotations=[list(ref) for ref in refs], item_ids=[])
    content_hash, count = records_hash("prm800k", recorded_records(session, stub))
    session.commit()
    return record_version(
        session,
        fmt="prm800k",
        purpose=purpose,
        filters=filters,
        counts={**counts, "records": count, "annotations": len(refs)},
        content_hash=content_hash,
        item_ids=[],
        annotations=refs,
    )
