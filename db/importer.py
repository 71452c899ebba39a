"""Bulk import (ProcessBench, MR-GSM8K, JSONL, PRM800K): streaming, one transaction per batch, re-runs add nothing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.code.items import CodeItem
from core.errors import BadInputError
from core.prm800k import LABEL_KINDS, BadLine, PRM800KRecord, label_kind, read_prm800k
from core.types import SolutionItem
from db.annotations import snapshot
from db.campaigns import get_or_create_campaign
from db.items import code_item_values, existing_hashes, item_hash, link_items
from db.models import Annotation, AnnotationEvent, Item, utcnow
from db.session import begin_write, get_sessionmaker
from db.users import labeler_user_ids

ImportFormat = Literal["processbench", "prm800k", "mr-gsm8k", "jsonl"]
IMPORT_FORMATS: tuple[str, ...] = ("processbench", "prm800k", "mr-gsm8k", "jsonl")
_SOURCES = {"processbench": "processbench", "mr-gsm8k": "mr-gsm8k", "jsonl": "upload", "prm800k": "prm800k"}
MAX_KEPT_ERRORS = 1000
UNKNOWN_LABELER = "prm800k-unknown"
# The audit snapshot of a freshly imported annotation: the same keys as db.annotations.snapshot.
_SNAPSHOT_KEYS = tuple(snapshot(Annotation(ratings=[], flagged_steps=[], accepted_steps=[])))


@dataclass
class ImportSummary:
    """What an import did, per input record (line or array element)."""

    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    new_items: int = 0
    new_annotations: int = 0
    errors: list[str] = field(default_factory=list)
    # PRM800K: stored annotations per core.prm800k.LABEL_KINDS, and how many steps were rated neutral (0), which the
    # label reads as not an error.
    labels: dict[str, int] = field(default_factory=dict)
    neutral_steps: int = 0

    def line(self) -> str:
        return (
            f"imported {self.imported}, skipped as duplicate {self.duplicates}, rejected {self.rejected} "
            f"({self.new_items} new items, {self.new_annotations} new annotations)"
        )

    def labels_line(self) -> str:
        """PRM800K only: how the stored annotations' ratings became first-error labels (empty for other formats)."""
        if not self.labels:
            return ""
        kinds = ", ".join(f"{kind} {self.labels.get(kind, 0)}" for kind in LABEL_KINDS)
        return f"labels: {kinds}; steps rated neutral (0, read as not an error): {self.neutral_steps}"


def _batches(records: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def _item_records(path: Path, fmt: str) -> Iterator[SolutionItem | CodeItem | BadInputError]:
    from core.items_io import read_items

    source = _SOURCES[fmt]
    # JSONL may hold code items (problem, code, tests); the benchmark formats are math solutions only.
    for record in read_items(path, strip_step_prefixes=fmt == "mr-gsm8k", code=fmt == "jsonl"):
        if isinstance(record, SolutionItem) and fmt != "jsonl":  # JSONL items may name their own source
            record = record.model_copy(update={"source": source})
        yield record


def _item_values(item: SolutionItem | CodeItem, digest: str, now: datetime) -> dict[str, Any]:
    # Plain column values for a Core executemany: several times faster than ORM objects on big imports.
    # Every row has the same keys (one executemany), so math rows name the code columns too.
    if isinstance(item, CodeItem):
        values = code_item_values(item)
        values["metadata"] = values.pop("meta")
        return {**values, "is_gold": bool(item.metadata.get("is_gold", False)), "created_at": now}
    return {
        "language": None,
        "tests": None,
        "content_hash": digest,
        "problem": item.problem,
        "steps": list(item.steps),
        "source": item.source,
        "source_id": item.id,
        "answer": item.answer,
        "first_error_step": item.first_error_step,
        "metadata": dict(item.metadata),
        "is_gold": bool(item.metadata.get("is_gold", False)),
        "created_at": now,
    }


def _store_items(session: Session, items: list[tuple[SolutionItem | CodeItem, str]]) -> tuple[dict[str, int], set[str]]:
    """Insert the (item, content hash) pairs not stored yet; returns hash -> id for all, and the new hashes."""
    ids = existing_hashes(session, [digest for _, digest in items])
    now = utcnow()
    rows: dict[str, dict[str, Any]] = {}
    for item, digest in items:
        if digest not in ids and digest not in rows:
            rows[digest] = _item_values(item, digest, now)
    if rows:
        table = Item.__table__
        result = session.connection().execute(
            table.insert().returning(table.c.content_hash, table.c.id), list(rows.values())
        )
        ids.update(result.all())
    return ids, set(rows)


def _import_key(record: PRM800KRecord, digest: str) -> str:
    payload = json.dumps([record.labeler, record.timestamp, digest, record.ratings, record.finish_reason])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _store_annotations(
    session: Session, records: list[tuple[PRM800KRecord, str]], item_ids: dict[str, int], campaign_id: int | None
) -> set[int]:
    """Insert one submitted annotation (+ its `import` event) per new record; returns the new records' line numbers."""
    keyed: dict[str, tuple[PRM800KRecord, int]] = {}
    for record, digest in records:
        keyed.setdefault(_import_key(record, digest), (record, item_ids[digest]))
    known = set(session.scalars(select(Annotation.import_key).where(Annotation.import_key.in_(list(keyed)))))
    labelers = labeler_user_ids(session, {record.labeler or UNKNOWN_LABELER for record, _ in keyed.values()})
    taken: set[tuple[int, int]] = set()
    if campaign_id is not None:  # one annotation per annotator, item and campaign
        query = select(Annotation.item_id, Annotation.annotator_id).where(
            Annotation.campaign_id == campaign_id, Annotation.item_id.in_({item for _, item in keyed.values()})
        )
        taken = {(item_id, annotator_id) for item_id, annotator_id in session.execute(query)}
    rows, lines = [], set()
    now = utcnow()
    for key, (record, item_id) in keyed.items():
        annotator = labelers[record.labeler or UNKNOWN_LABELER]
        if key in known or (item_id, annotator) in taken:
            continue
        taken.add((item_id, annotator))
        rows.append(
            {
                "item_id": item_id,
                "annotator_id": annotator,
                "campaign_id": campaign_id,
                "ratings": record.ratings,
                "first_error_step": record.first_error_step,
                "finish_reason": record.finish_reason,
                "flagged_steps": record.flagged_steps,
                "comment": "",
                "step_comments": record.step_comments,
                "critique_run_id": None,
                "accepted_steps": [],
                "critique_rating": record.critique_rating,
                "status": "submitted",
                "version": 1,
                "time_spent_ms": record.total_time_ms,
                "reviewer_id": None,
                "review_comment": "",
                "import_key": key,
                "created_at": now,
                "updated_at": now,
                "submitted_at": now,
            }
        )
        lines.add(record.line_number)
    if not rows:
        return lines
    table, events = Annotation.__table__, AnnotationEvent.__table__
    connection = session.connection()
    ids = dict(connection.execute(table.insert().returning(table.c.import_key, table.c.id), rows).all())
    connection.execute(
        events.insert(),
        [
            {
                "annotation_id": ids[row["import_key"]],
                "actor_id": row["annotator_id"],
                "action": "import",
                "version": 1,
                "before": None,
                "after": {key: row[key] for key in _SNAPSHOT_KEYS},
                "created_at": now,
            }
            for row in rows
        ],
    )
    return lines


def _import_batch(
    session: Session, batch: list[Any], fmt: str, campaign_id: int | None, summary: ImportSummary
) -> None:
    good = [record for record in batch if not isinstance(record, BadLine | BadInputError)]
    items = [record.item if fmt == "prm800k" else record for record in good]
    digests = [item_hash(item) for item in items]
    begin_write(session)
    item_ids, new_hashes = _store_items(session, list(zip(items, digests, strict=True)))
    kept: list[PRM800KRecord] = []
    if fmt == "prm800k":
        new_lines = _store_annotations(session, list(zip(good, digests, strict=True)), item_ids, campaign_id)
        stored = len(new_lines)
        kept = [record for record in good if record.line_number in new_lines]
    else:
        stored = len(new_hashes)
    if campaign_id is not None:
        link_items(session, campaign_id=campaign_id, item_ids=item_ids.values())
    session.commit()
    # Counted only after the commit, so a failed batch never shows up as imported.
    summary.new_items += len(new_hashes)
    summary.new_annotations += stored if fmt == "prm800k" else 0
    summary.imported += stored
    summary.duplicates += len(good) - stored
    for record in kept:
        kind = label_kind(record.ratings, record.finish_reason)
        summary.labels[kind] = summary.labels.get(kind, 0) + 1
        summary.neutral_steps += sum(rating == 0 for rating in record.ratings)


def import_file(
    path: str | Path,
    *,
    fmt: str,
    campaign: str | None = None,
    url: str | None = None,
    batch_size: int = 500,
    on_error: Callable[[str], None] | None = None,
    on_batch: Callable[[ImportSummary], None] | None = None,
) -> ImportSummary:
    """Import a file; each batch is one transaction, so an interrupted import keeps whole batches and a re-run
    skips what is stored (content hash for items, source record for annotations) and adds the rest."""
    if fmt not in IMPORT_FORMATS:
        raise BadInputError(f"unknown import format {fmt!r}; use one of {', '.join(IMPORT_FORMATS)}")
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"input file {path} does not exist")
    if batch_size < 1:
        raise BadInputError(f"batch size must be at least 1, got {batch_size}")
    factory = get_sessionmaker(url)
    campaign_id = None
    if campaign:
        with factory() as session:
            campaign_id = get_or_create_campaign(session, name=campaign).id
    records: Iterable[Any] = read_prm800k(path) if fmt == "prm800k" else _item_records(path, fmt)
    summary = ImportSummary()
    for batch in _batches(records, batch_size):
        for record in batch:
            if isinstance(record, BadLine | BadInputError):
                message = f"line {record.line_number}: {record.error}" if isinstance(record, BadLine) else str(record)
                summary.rejected += 1
                if len(summary.errors) < MAX_KEPT_ERRORS:
                    summary.errors.append(message)
                if on_error is not None:
                    on_error(message)
        with factory() as session:
            _import_batch(session, batch, fmt, campaign_id, summary)
        if on_batch is not None:
            on_batch(summary)
    return summary
