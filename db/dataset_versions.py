"""Dataset versions: what an export contained (filters, counts, content hash, annotation versions), kept to redo it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from core.errors import ConflictError, NotFoundError
from db.models import Annotation, AnnotationEvent, DatasetVersion, Item, User
from db.session import begin_write

_CHUNK = 500


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_version(
    session: Session,
    *,
    fmt: str,
    purpose: str,
    filters: dict[str, Any],
    counts: dict[str, int],
    content_hash: str,
    item_ids: Sequence[int],
    annotations: Sequence[tuple[int, int]],
    created_by: str = "",
) -> DatasetVersion:
    """Store what a dataset contained; returns the row (its id is the version number users see)."""
    begin_write(session)
    version = DatasetVersion(
        format=fmt,
        purpose=purpose,
        filters=filters,
        counts=counts,
        content_hash=content_hash,
        item_ids=list(item_ids),
        annotations=[[int(a), int(v)] for a, v in annotations],
        created_by=created_by,
    )
    session.add(version)
    session.commit()
    return version


def get_dataset_version(session: Session, *, version_id: int) -> DatasetVersion:
    version = session.get(DatasetVersion, version_id)
    if version is None:
        raise NotFoundError(f"no dataset version {version_id}; `critic data versions` lists them")
    return version


def list_dataset_versions(session: Session, *, limit: int = 50) -> list[DatasetVersion]:
    """The newest first."""
    versions = list(session.scalars(select(DatasetVersion).order_by(DatasetVersion.id.desc()).limit(limit)))
    session.commit()
    return versions


@dataclass(frozen=True)
class AnnotationState:
    """An annotation as it stood at one version: its fixed columns, and its audit snapshot at that version."""

    annotation_id: int
    version: int
    item_id: int
    username: str
    state: dict[str, Any]
    """The audit event's `after` snapshot (db.annotations.snapshot) of that version."""
    changed_at: datetime
    """When that version was written (the annotation's updated_at then)."""


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def annotation_states(session: Session, refs: Sequence[tuple[int, int]]) -> list[AnnotationState]:
    """Each (annotation id, version) rebuilt from the audit trail, in the given order; a missing one is a conflict."""
    found: dict[tuple[int, int], AnnotationState] = {}
    for chunk in _chunks([(int(a), int(v)) for a, v in refs]):
        query = (
            select(AnnotationEvent, Annotation.item_id, User.username)
            .join(Annotation, Annotation.id == AnnotationEvent.annotation_id)
            .join(User, User.id == Annotation.annotator_id)
            .where(tuple_(AnnotationEvent.annotation_id, AnnotationEvent.version).in_(list(chunk)))
        )
        for event, item_id, username in session.execute(query):
            found[(event.annotation_id, event.version)] = AnnotationState(
                annotation_id=event.annotation_id,
                version=event.version,
                item_id=item_id,
                username=username,
                state=dict(event.after),
                changed_at=event.created_at,
            )
    missing = [ref for ref in ((int(a), int(v)) for a, v in refs) if ref not in found]
    if missing:
        annotation_id, version = missing[0]
        raise ConflictError(
            f"this dataset version cannot be reproduced: the audit trail has no record of annotation {annotation_id} "
            f"at version {version} ({len(missing)} such annotation version(s) in all)"
        )
    return [found[(int(a), int(v))] for a, v in refs]


def items_by_id(session: Session, item_ids: Sequence[int]) -> dict[int, Item]:
    """The items with these ids; a missing one is a conflict (the dataset cannot be written again)."""
    items: dict[int, Item] = {}
    for chunk in _chunks(sorted(set(item_ids))):
        items.update({item.id: item for item in session.scalars(select(Item).where(Item.id.in_(list(chunk))))})
    missing = sorted(set(item_ids) - set(items))
    if missing:
        raise ConflictError(
            f"this dataset version cannot be reproduced: item {missing[0]} no longer exists ({len(missing)} in all)"
        )
    return items
