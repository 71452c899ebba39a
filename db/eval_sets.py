"""Evaluation sets: fixed labelled items every model version is scored on and no training snapshot may contain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import BadInputError, NotFoundError
from core.types import SolutionItem
from db.evals import EVAL_FINISHED
from db.items import problem_key
from db.models import CampaignItem, EvalRun, EvalSet, Item, ModelVersion
from db.session import begin_write, commit_unique

EVAL_SET_KINDS = ("critic", "actor")
"""Who an evaluation set scores: the critic (labelled solutions) or the actor (problems with answers)."""


def create_eval_set(
    session: Session,
    *,
    name: str,
    items: Sequence[SolutionItem],
    source: str,
    description: str = "",
    created_by_id: int | None = None,
    kind: str = "critic",
) -> EvalSet:
    """Register labelled items as a named evaluation set; their problems leave every later training snapshot.

    `kind` says who is scored on it: "critic" (labelled solutions) or "actor" (problems with an `answer`).
    """
    name = name.strip()
    if kind not in EVAL_SET_KINDS:
        raise BadInputError(f"evaluation set kind {kind!r}: choose {' or '.join(EVAL_SET_KINDS)}")
    if kind == "actor":
        unanswered = [item.id or str(n) for n, item in enumerate(items, start=1) if not item.answer]
        if unanswered:
            raise BadInputError(
                f"{len(unanswered)} item(s) have no ground-truth 'answer' (e.g. {', '.join(unanswered[:5])}); an actor "
                "evaluation set needs problems with answers (`critic generate problems`)"
            )
    if not name:
        raise BadInputError("give the evaluation set a name")
    unlabelled = [item.id or str(n) for n, item in enumerate(items, start=1) if item.first_error_step is None]
    if unlabelled:
        raise BadInputError(
            f"{len(unlabelled)} item(s) have no first-error label (e.g. {', '.join(unlabelled[:5])}); "
            "an evaluation set needs labelled items"
        )
    if not items:
        raise BadInputError(f"evaluation set {name!r} would be empty: the source gave no labelled items")
    # Scores are keyed by item id, so ids must be unique within the set.
    from core.benchmarks import unique_ids

    stored = unique_ids(list(items), name)
    begin_write(session)
    eval_set = EvalSet(
        name=name,
        kind=kind,
        source=source,
        description=description,
        items=[item.model_dump(mode="json") for item in stored],
        problem_keys=sorted({problem_key(item.problem) for item in stored}),
        n_items=len(stored),
        created_by_id=created_by_id,
    )
    session.add(eval_set)
    commit_unique(session, f"an evaluation set named {name!r} already exists; choose another name")
    return eval_set


def register_eval_set(
    session: Session,
    *,
    name: str,
    benchmark: str | None = None,
    campaign: str | None = None,
    limit: int | None = None,
    description: str = "",
    created_by_id: int | None = None,
    kind: str = "critic",
) -> EvalSet:
    """Register an evaluation set (of `kind`, see create_eval_set) from a benchmark spec (a ProcessBench-format
    file, `processbench:gsm8k`,
    `prm800k:FILE` ...; `limit` items per subset, spread evenly) or from a campaign's gold items."""
    from core.benchmarks import BENCHMARK_HELP, load_benchmark

    if (benchmark is None) == (campaign is None):
        raise BadInputError(f"give either a benchmark ({BENCHMARK_HELP}) or a campaign, not both or neither")
    if campaign is not None:
        items = campaign_gold_items(session, campaign=campaign)
        items = items[:limit] if limit else items
        source = f"campaign:{campaign} (gold items)"
    else:
        loaded = load_benchmark(str(benchmark), limit=limit)
        items = [item.model_copy(update={"id": f"{subset}/{item.id}"}) for subset, item in loaded.items()]
        source = str(benchmark) + (f" (limit {limit} per subset)" if limit else "")
    if kind == "actor":
        from core.answers import with_known_answers

        items = with_known_answers(items)
    return create_eval_set(
        session,
        name=name,
        items=items,
        source=source,
        description=description,
        created_by_id=created_by_id,
        kind=kind,
    )


def campaign_gold_items(session: Session, *, campaign: str) -> list[SolutionItem]:
    """The labelled gold items of a campaign (by name), as solution items."""
    from db.campaigns import get_campaign
    from db.items import to_solution_item

    campaign_id = get_campaign(session, name=campaign).id
    rows = session.scalars(
        select(Item)
        .join(CampaignItem, CampaignItem.item_id == Item.id)
        .where(CampaignItem.campaign_id == campaign_id, Item.is_gold.is_(True), Item.first_error_step.is_not(None))
        .order_by(Item.id)
    ).all()
    if not rows:
        raise BadInputError(f"campaign {campaign!r} has no gold items with a reference label; mark some gold first")
    return [to_solution_item(row) for row in rows]


def list_eval_sets(session: Session, kind: str | None = "critic") -> list[EvalSet]:
    """The sets of `kind` (None: every kind), oldest first, so the registry table's columns keep their order."""
    query = select(EvalSet).order_by(EvalSet.id)
    if kind is not None:
        query = query.where(EvalSet.kind == kind)
    return list(session.scalars(query))


def get_eval_set(session: Session, *, name: str) -> EvalSet:
    eval_set = session.scalar(select(EvalSet).where(EvalSet.name == name))
    if eval_set is None:
        known = ", ".join(s.name for s in list_eval_sets(session, None)) or "none registered"
        raise NotFoundError(f"no evaluation set named {name!r} (known: {known})")
    return eval_set


def eval_set_items(eval_set: EvalSet) -> list[SolutionItem]:
    return [SolutionItem.model_validate(item) for item in eval_set.items or []]


def held_out_problem_keys(session: Session) -> set[str]:
    """Problem keys of every registered evaluation set: solutions of these problems are never trained on."""
    keys: set[str] = set()
    for problem_keys, items in session.execute(select(EvalSet.problem_keys, EvalSet.items)):
        keys.update(problem_keys or [])
        # Recomputed from the stored problems too: a set registered before problem matching learned a new
        # equivalence (e.g. LaTeX spacing) still excludes every way of writing its problems.
        keys.update(problem_key(str(item.get("problem", ""))) for item in items or [])
    return keys


def latest_set_runs(session: Session) -> list[EvalRun]:
    """The newest finished run per (model version or model name, evaluation set), newest versions first."""
    runs = session.scalars(
        select(EvalRun)
        .where(EvalRun.eval_set_id.is_not(None), EvalRun.status == EVAL_FINISHED)
        .order_by(EvalRun.id.desc())
    ).all()
    latest: dict[tuple[Any, int], EvalRun] = {}
    for run in runs:
        who = ("version", run.model_version_id) if run.model_version_id is not None else ("model", run.model)
        latest.setdefault((who, int(run.eval_set_id or 0)), run)
    return list(latest.values())


def set_scores(run: EvalRun) -> dict[str, Any]:
    """F1, error and correct accuracy, step AUROC and item count of one run on its (single-subset) set."""
    metrics = run.metrics or {}
    average = metrics.get("average") or {}
    return {
        "f1": average.get("f1"),
        "error_acc": average.get("error_acc"),
        "correct_acc": average.get("correct_acc"),
        "step_auroc": metrics.get("step_auroc"),
        "n": run.n_items,
    }


def versions_by_sets(session: Session) -> tuple[list[str], list[dict[str, Any]]]:
    """The registry's table: set names, and one row per model version (or unversioned model) with its scores per set.

    A row is {"version_id", "name", "status", "scores": {set name: set_scores}}; versions never scored on any set
    are listed too, with no scores.
    """
    sets = {s.id: s.name for s in list_eval_sets(session)}
    versions = {v.id: v for v in session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc()))}
    rows: dict[Any, dict[str, Any]] = {
        ("version", vid): {"version_id": vid, "name": v.name, "status": v.status, "scores": {}}
        for vid, v in versions.items()
    }
    for run in latest_set_runs(session):
        if run.eval_set_id not in sets:
            continue
        key = ("version", run.model_version_id) if run.model_version_id is not None else ("model", run.model)
        row = rows.setdefault(
            key, {"version_id": None, "name": f"unversioned: {run.model}", "status": "", "scores": {}}
        )
        row["scores"][sets[run.eval_set_id]] = set_scores(run)
    return list(sets.values()), list(rows.values())
