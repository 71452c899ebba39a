"""Items (problem + steps, or code + tests): content hashing, get-or-create from core items, conversion back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.code.items import CodeItem
from core.errors import NotFoundError
from core.problem_text import normal_problem_text
from core.types import SolutionItem
from db.models import CampaignItem, Item
from db.session import begin_write


def content_hash(problem: str, steps: Sequence[str]) -> str:
    """Identity of an item: sha256 of the problem and the steps (surrounding whitespace ignored)."""
    payload = json.dumps([problem.strip(), [step.strip() for step in steps]], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def code_content_hash(item: CodeItem) -> str:
    """Identity of a code item: its problem, code and tests (two classes' identical code with other tests differ)."""
    payload = json.dumps(["code", item.problem.strip(), item.code.strip(), item.tests.model_dump()], sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def item_hash(item: SolutionItem | CodeItem) -> str:
    """The content hash of either kind of item."""
    if isinstance(item, CodeItem):
        return code_content_hash(item)
    return content_hash(item.problem, item.steps)


CODE_LABEL_STEP = {"correct": -1, "incorrect": 1}
"""A code item's verdict as the one-step first-error label every label, annotation and export uses."""


def code_verdict(first_error_step: int | None) -> str | None:
    """correct / incorrect from a code item's first-error label (None: unknown)."""
    if first_error_step is None:
        return None
    return "correct" if first_error_step == -1 else "incorrect"


def problem_key(problem: str) -> str:
    """Identity of a problem (evaluation sets, the held-out split): case, whitespace and LaTeX layout (spacing,
    `\\left`/`\\right`, `\\dfrac` for `\\frac`, ...: `core.problem_text`) do not make two differ."""
    return hashlib.sha256(normal_problem_text(problem).encode("utf-8")).hexdigest()


def item_row(item: SolutionItem | CodeItem, *, is_gold: bool | None = None) -> Item:
    """A new (unsaved) Item row for a SolutionItem or a CodeItem (stored as a one-step solution with its tests)."""
    gold = bool(item.metadata.get("is_gold", False)) if is_gold is None else is_gold
    if isinstance(item, CodeItem):
        return Item(**code_item_values(item), is_gold=gold)
    return Item(
        content_hash=content_hash(item.problem, item.steps),
        problem=item.problem,
        steps=list(item.steps),
        source=item.source,
        source_id=item.id,
        answer=item.answer,
        first_error_step=item.first_error_step,
        meta=dict(item.metadata),
        is_gold=gold,
    )


def code_item_values(item: CodeItem) -> dict[str, object]:
    """The Item columns of a code item: the code is its one step, the verdict its first-error label."""
    return {
        "content_hash": code_content_hash(item),
        "problem": item.problem,
        "steps": [item.code],
        "source": item.source,
        "source_id": item.id,
        "answer": None,
        "first_error_step": CODE_LABEL_STEP.get(item.label or ""),
        "meta": dict(item.metadata),
        "language": item.language,
        "tests": item.tests.model_dump(),
    }


def is_code_row(row: Item) -> bool:
    return row.language is not None


def to_code_item(row: Item, *, first_error_step: int | None = None) -> CodeItem:
    """The CodeItem of a stored code item; `first_error_step` overrides the stored label (e.g. a majority vote)."""
    if not is_code_row(row):
        raise NotFoundError(f"item {row.id} is not a code item")
    label = row.first_error_step if first_error_step is None else first_error_step
    tests = dict(row.tests or {})
    return CodeItem(
        id=row.source_id or str(row.id),
        problem=row.problem,
        code=str(row.steps[0]) if row.steps else "",
        language=row.language,  # type: ignore[arg-type]  # only "python" is ever stored
        test_list=list(tests.get("test_list") or []),
        test_setup_code=str(tests.get("test_setup_code") or ""),
        test=tests.get("test"),
        entry_point=tests.get("entry_point"),
        label=code_verdict(label),  # type: ignore[arg-type]
        source=row.source,
        metadata=dict(row.meta or {}),
    )


def to_item(row: Item) -> SolutionItem | CodeItem:
    """The stored item as the core type of its kind."""
    return to_code_item(row) if is_code_row(row) else to_solution_item(row)


def to_solution_item(row: Item) -> SolutionItem:
    return SolutionItem(
        id=row.source_id or str(row.id),
        problem=row.problem,
        steps=list(row.steps),
        first_error_step=row.first_error_step,
        answer=row.answer,
        source=row.source,
        metadata=dict(row.meta or {}),
    )


def add_item(
    session: Session, *, item: SolutionItem | CodeItem, campaign_id: int | None = None, is_gold: bool | None = None
) -> Item:
    """Store an item, or return the stored one with the same content; optionally add it to a campaign."""
    begin_write(session)
    row = session.scalar(select(Item).where(Item.content_hash == item_hash(item)))
    if row is None:
        row = item_row(item, is_gold=is_gold)
        session.add(row)
        try:
            session.flush()
        except IntegrityError:  # stored concurrently by someone else: use theirs
            session.rollback()
            return add_item(session, item=item, campaign_id=campaign_id, is_gold=is_gold)
    if campaign_id is not None:
        link_items(session, campaign_id=campaign_id, item_ids=[row.id])
    session.commit()
    return row


def existing_hashes(session: Session, hashes: Iterable[str]) -> dict[str, int]:
    """content hash -> item id for the hashes already stored."""
    wanted = list(set(hashes))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):  # keep the IN list well under parameter limits
        chunk = wanted[start : start + 500]
        found.update(session.execute(select(Item.content_hash, Item.id).where(Item.content_hash.in_(chunk))).all())
    return found


def link_items(session: Session, *, campaign_id: int, item_ids: Iterable[int]) -> int:
    """Add items to a campaign inside the caller's transaction (no commit); returns how many were new."""
    ids = set(item_ids)
    if not ids:
        return 0
    present = set(
        session.scalars(
            select(CampaignItem.item_id).where(CampaignItem.campaign_id == campaign_id, CampaignItem.item_id.in_(ids))
        )
    )
    new = ids - present
    session.add_all(CampaignItem(campaign_id=campaign_id, item_id=item_id) for item_id in sorted(new))
    session.flush()
    return len(new)


def get_item(session: Session, *, item_id: int) -> Item:
    row = session.get(Item, item_id)
    if row is None:
        raise NotFoundError(f"no item with id {item_id}")
    return row


def set_gold(session: Session, *, item_ids: Iterable[int], gold: bool = True) -> int:
    """Mark items as gold (quality-control items with a known label) or unmark them; returns how many changed."""
    from sqlalchemy import update

    ids = list(set(item_ids))
    begin_write(session)
    labelled = set(session.scalars(select(Item.id).where(Item.id.in_(ids), Item.first_error_step.is_not(None))))
    if gold and len(labelled) != len(ids):
        session.rollback()
        missing = sorted(set(ids) - labelled)
        raise NotFoundError(f"items {missing[:10]} do not exist or have no reference label, so cannot be gold")
    result = session.execute(update(Item).where(Item.id.in_(ids), Item.is_gold.is_not(gold)).values(is_gold=gold))
    session.commit()
    return int(result.rowcount or 0)
