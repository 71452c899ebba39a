"""Export: annotations as PRM800K JSONL, items with labels as ProcessBench JSON or JSONL, a `datasets` dataset, CSV."""

from __future__ import annotations

import csv
import json
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.errors import BadInputError
from core.prm800k import to_prm800k
from db.campaigns import get_campaign
from db.items import is_code_row, to_code_item, to_solution_item
from db.models import ANNOTATION_STATUSES, Annotation, CampaignItem, Item, User
from db.session import database_url, get_sessionmaker

EXPORT_FORMATS: tuple[str, ...] = ("prm800k", "processbench", "jsonl", "hf", "csv")
# Drafts are work in progress: they are labels only when asked for by status.
DEFAULT_LABEL_STATUSES = ("submitted", "approved")
_PAGE = 500
# Columns of the hf and csv exports (steps: list in hf, JSON string in csv; label 0-based, first_error_step 1-based).
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
    "critique_rating",
]


@dataclass(frozen=True)
class LabelledItem:
    """An item with the label to export: the annotators' majority first-error step, else the reference label."""

    item: Item
    first_error_step: int | None
    n_annotations: int
    critique_rating: str | None = None


def _majority(labels: Sequence[Any]) -> Any:
    counted = Counter(label for label in labels if label is not None)
    if not counted:
        return None
    best = max(counted.values())
    # Ties go to the label given first, so the result does not depend on dict ordering.
    return next(label for label in labels if label is not None and counted[label] == best)


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
        critique_ratings: dict[int, list[str | None]] = {}
        annotations = _annotation_filter(
            select(Annotation.item_id, Annotation.first_error_step, Annotation.critique_rating),
            campaign_id,
            label_statuses,
        ).where(Annotation.item_id.in_([item.id for item in page]))
        for item_id, label, critique_rating in session.execute(annotations.order_by(Annotation.id)):
            labels.setdefault(item_id, []).append(label)
            critique_ratings.setdefault(item_id, []).append(critique_rating)
        for item in page:
            given = labels.get(item.id, [])
            label = _majority(given)
            first_error = label if label is not None else item.first_error_step
            yield LabelledItem(item, first_error, len(given), _majority(critique_ratings.get(item.id, [])))
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
        "critique_rating": labelled.critique_rating,
    }


def iter_prm800k(
    session: Session, *, campaign_id: int | None = None, statuses: Sequence[str] | None = None
) -> Iterator[dict[str, Any]]:
    """One PRM800K-schema object per annotation, attributed to the annotator's username."""
    query = (
        select(Annotation, Item, User.username)
        .join(Item, Item.id == Annotation.item_id)
        .join(User, User.id == Annotation.annotator_id)
    )
    query = _annotation_filter(query, campaign_id, tuple(statuses or DEFAULT_LABEL_STATUSES)).order_by(Annotation.id)
    for annotation, item, username in session.execute(query.execution_options(yield_per=_PAGE)):
        # critique_rating: an extension field (PRM800K has none), the annotator's rating of the critique shown.
        record = to_prm800k(
            to_solution_item(item),
            annotation.ratings,
            finish_reason=annotation.finish_reason,
            labeler=username,
            timestamp=annotation.updated_at.isoformat() if annotation.updated_at else "",
            total_time_ms=annotation.time_spent_ms,
            flagged_steps=annotation.flagged_steps,
            is_quality_control=item.is_gold,
        )
        yield {**record, "critique_rating": annotation.critique_rating}


def _hf_rows(url: str, campaign_id: int | None, statuses: list[str] | None) -> Iterator[dict[str, Any]]:
    with get_sessionmaker(url)() as session:
        for labelled in iter_labelled_items(session, campaign_id=campaign_id, statuses=statuses):
            yield _flat_row(labelled)


def _save_hf(output: Path, url: str, campaign_id: int | None, statuses: list[str] | None) -> int:
    from datasets import Dataset, Features, Sequence, Value

    features = Features(
        {
            "id": Value("string"),
            "problem": Value("string"),
            "steps": Sequence(Value("string")),
            "label": Value("int64"),
            "first_error_step": Value("int64"),
            "answer": Value("string"),
            "source": Value("string"),
            "n_annotations": Value("int64"),
            "critique_rating": Value("string"),
        }
    )
    with get_sessionmaker(url)() as session:
        empty = next(iter_labelled_items(session, campaign_id=campaign_id, statuses=statuses), None) is None
    if empty:  # from_generator refuses a generator that yields nothing
        dataset = Dataset.from_dict({name: [] for name in features}, features=features)
        dataset.save_to_disk(str(output))
        return 0
    with tempfile.TemporaryDirectory(prefix="critic-export-") as cache:
        dataset = Dataset.from_generator(
            _hf_rows,
            features=features,
            cache_dir=cache,
            gen_kwargs={"url": url, "campaign_id": campaign_id, "statuses": statuses},
        )
        dataset.save_to_disk(str(output))
        return len(dataset)


def export(
    output: str | Path,
    *,
    fmt: str,
    campaign: str | None = None,
    statuses: Sequence[str] | None = None,
    url: str | None = None,
) -> int:
    """Write the export; returns the number of records (annotations for prm800k, items otherwise)."""
    if fmt not in EXPORT_FORMATS:
        raise BadInputError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    for status in statuses or ():
        if status not in ANNOTATION_STATUSES:
            raise BadInputError(f"status {status!r} is not one of {', '.join(ANNOTATION_STATUSES)}")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    factory = get_sessionmaker(url)
    with factory() as session:
        campaign_id = get_campaign(session, name=campaign).id if campaign else None
        if fmt == "hf":
            return _save_hf(output, database_url(url), campaign_id, list(statuses or []))
        count = 0
        with open(output, "w", encoding="utf-8", newline="") as handle:
            if fmt == "prm800k":
                for record in iter_prm800k(session, campaign_id=campaign_id, statuses=statuses):
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                    count += 1
            elif fmt == "jsonl":
                for labelled in iter_labelled_items(session, campaign_id=campaign_id, statuses=statuses):
                    handle.write(json.dumps(_processbench(labelled), ensure_ascii=False) + "\n")
                    count += 1
            elif fmt == "processbench":
                handle.write("[")
                for labelled in iter_labelled_items(session, campaign_id=campaign_id, statuses=statuses):
                    handle.write(
                        ("\n" if count == 0 else ",\n") + json.dumps(_processbench(labelled), ensure_ascii=False)
                    )
                    count += 1
                handle.write("\n]\n")
            else:
                writer = csv.DictWriter(handle, fieldnames=FLAT_FIELDS)
                writer.writeheader()
                for labelled in iter_labelled_items(session, campaign_id=campaign_id, statuses=statuses):
                    row = _flat_row(labelled)
                    writer.writerow({**row, "steps": json.dumps(row["steps"], ensure_ascii=False)})
                    count += 1
        return count
