"""Concurrent annotation writers (threads and processes) and the check that nothing was lost (bench and test)."""

from __future__ import annotations

import multiprocessing
import random
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from core.errors import ConflictError
from core.runtime import freeze_startup_heap
from core.types import SolutionItem
from db.annotations import create_annotation, get_annotation, prepare_statements, save_annotation
from db.items import add_item
from db.models import Annotation, AnnotationEvent, User
from db.session import dispose_engines, get_sessionmaker
from db.users import create_user


@dataclass(frozen=True)
class LoadPlan:
    """What the writers share: the database, the contested annotations, and each writer's own items."""

    url: str
    writer_ids: list[int]
    shared_annotation_ids: list[int]
    own_item_ids: list[list[int]]
    saves_per_writer: int
    # Think time between a writer's saves (as a person reading the next step); 0 = saturated, never pausing.
    # Each pause is drawn uniformly from 0.5x to 1.5x this (seeded per writer), so writers do not move in step.
    pause_s: float = 0.0


@dataclass(frozen=True)
class SaveOutcome:
    writer: int
    annotation_id: int | None
    action: str  # "create" or "update"
    stored: bool
    version: int | None
    comment: str
    latency_s: float
    error: str | None = None
    save_index: int = 0  # the writer's n-th save (0-based)


@dataclass
class LoadResult:
    outcomes: list[SaveOutcome] = field(default_factory=list)
    wall_s: float = 0.0


def prepare(
    url: str, *, writers: int = 20, shared: int = 4, own_items: int = 5, saves: int = 50, pause_s: float = 0.0
) -> LoadPlan:
    """Users, items and the shared annotations the writers will fight over (in an already migrated database)."""
    factory = get_sessionmaker(url)
    with factory() as session:
        # Reviewers may edit anyone's annotation: the shared ones are edited by all writers.
        users = [create_user(session, username=f"writer-{i}", password=None, role="reviewer") for i in range(writers)]
        owner = users[0]
        shared_ids = []
        for i in range(shared):
            item = add_item(session, item=SolutionItem(problem=f"shared {i}", steps=["a", "b", "c"]))
            annotation = create_annotation(session, item_id=item.id, annotator_id=owner.id, ratings=[None] * 3)
            shared_ids.append(annotation.id)
        own = [
            [
                add_item(session, item=SolutionItem(problem=f"own {w}-{j}", steps=["a", "b", "c"])).id
                for j in range(own_items)
            ]
            for w in range(writers)
        ]
    return LoadPlan(url, [u.id for u in users], shared_ids, own, saves, pause_s)


def _ratings(writer: int, save: int) -> list[int | None]:
    pattern = [[1, 1, 1], [1, -1, None], [1, 0, -1], [-1, None, None]]
    return list(pattern[(writer + save) % len(pattern)])


def run_writer(plan: LoadPlan, writer: int, *, ready: Any = None, go: Any = None) -> list[SaveOutcome]:
    """One writer: every third save edits a shared annotation it just loaded, the others its own annotations.

    With `ready` (a semaphore) and `go` (an event) it connects first, reports ready, and waits for the start.
    """
    factory = get_sessionmaker(plan.url)
    user_id = plan.writer_ids[writer]
    with factory() as session:  # open the connection before the clock starts
        session.get(User, user_id)
    prepare_statements(plan.url)  # as the app does at start
    if ready is not None:
        ready.release()
        go.wait()
    own_versions: dict[int, tuple[int, int]] = {}  # item id -> (annotation id, version)
    outcomes = []
    think = random.Random(writer)
    for save in range(plan.saves_per_writer):
        if plan.pause_s and save:
            time.sleep(plan.pause_s * think.uniform(0.5, 1.5))
        comment = f"w{writer}-s{save}"
        if save % 3 == 0:
            annotation_id = plan.shared_annotation_ids[(writer + save) % len(plan.shared_annotation_ids)]
            with factory() as session:
                loaded = get_annotation(session, annotation_id=annotation_id).version
            action, item_id = "update", None
        else:
            item_id = plan.own_item_ids[writer][save % len(plan.own_item_ids[writer])]
            annotation_id, loaded = own_versions.get(item_id, (None, 0))
            action = "update" if annotation_id else "create"
        start = time.perf_counter()
        try:
            with factory() as session:
                if annotation_id is None:
                    row = create_annotation(
                        session, item_id=item_id, annotator_id=user_id, ratings=_ratings(writer, save), comment=comment
                    )
                else:
                    row = save_annotation(
                        session,
                        annotation_id=annotation_id,
                        expected_version=loaded,
                        actor_id=user_id,
                        ratings=_ratings(writer, save),
                        comment=comment,
                    )
                annotation_id, version = row.id, row.version
            outcome = SaveOutcome(
                writer, annotation_id, action, True, version, comment, time.perf_counter() - start, save_index=save
            )
            if item_id is not None:
                own_versions[item_id] = (annotation_id, version)
        except ConflictError:
            outcome = SaveOutcome(
                writer, annotation_id, action, False, None, comment, time.perf_counter() - start, save_index=save
            )
        except Exception as exc:  # anything else is a failure the check reports
            error = f"{type(exc).__name__}: {exc}"
            outcome = SaveOutcome(
                writer, annotation_id, action, False, None, comment, time.perf_counter() - start, error, save
            )
        outcomes.append(outcome)
    return outcomes


def _process_writer(plan: LoadPlan, writer: int, ready: Any, go: Any, results: Any) -> None:
    dispose_engines(close=False)  # never reuse the parent's pooled connections after fork
    results.put(run_writer(plan, writer, ready=ready, go=go))


def run_load(plan: LoadPlan, *, processes: int = 10) -> LoadResult:
    """All writers at once: `processes` of them in forked processes, the rest as threads of this process.

    Every writer connects first; the clock starts when all are ready, so it times saves, not start-up.
    """
    writers = list(range(len(plan.writer_ids)))
    in_processes, in_threads = writers[:processes], writers[processes:]
    dispose_engines()  # children must not inherit open connections
    freeze_startup_heap()  # as `critic serve` does once started (a full collection would pause the writers)
    context = multiprocessing.get_context("fork")
    ready, go, results = context.Semaphore(0), context.Event(), context.Queue()
    children = [context.Process(target=_process_writer, args=(plan, w, ready, go, results)) for w in in_processes]
    for child in children:
        child.start()
    result = LoadResult()
    with ThreadPoolExecutor(max(1, len(in_threads))) as threads:
        thread_jobs = [threads.submit(run_writer, plan, w, ready=ready, go=go) for w in in_threads]
        for _ in writers:
            if not ready.acquire(timeout=120):
                go.set()
                raise RuntimeError("a writer did not start within 120 s")
        start = time.perf_counter()
        go.set()
        for _ in children:
            result.outcomes.extend(results.get(timeout=600))
        for job in thread_jobs:
            result.outcomes.extend(job.result())
    result.wall_s = time.perf_counter() - start
    for child in children:
        child.join(timeout=60)
    return result


def verify(plan: LoadPlan, outcomes: list[SaveOutcome]) -> list[str]:
    """Problems found: every stored save is in the database exactly once with one audit event, nothing else is."""
    problems = [f"writer {o.writer} {o.comment}: {o.error}" for o in outcomes if o.error]
    stored = [o for o in outcomes if o.stored]
    by_annotation: dict[int, list[SaveOutcome]] = defaultdict(list)
    for outcome in stored:
        by_annotation[outcome.annotation_id].append(outcome)
    with get_sessionmaker(plan.url)() as session:
        annotations = {a.id: a for a in session.scalars(select(Annotation))}
        events: dict[int, list[AnnotationEvent]] = defaultdict(list)
        for event in session.scalars(select(AnnotationEvent).order_by(AnnotationEvent.id)):
            events[event.annotation_id].append(event)
    created = Counter(o.annotation_id for o in stored if o.action == "create")
    if len(annotations) != len(plan.shared_annotation_ids) + len(created):
        problems.append(
            f"{len(annotations)} annotations stored, expected {len(plan.shared_annotation_ids)} + {len(created)}"
        )
    for annotation_id, saves in by_annotation.items():
        annotation = annotations.get(annotation_id)
        if annotation is None:
            problems.append(f"annotation {annotation_id} was saved but is missing")
            continue
        shared = annotation_id in plan.shared_annotation_ids
        versions = sorted(o.version for o in saves)
        expected_versions = list(range(2 if shared else 1, annotation.version + 1))
        if versions != expected_versions:
            problems.append(f"annotation {annotation_id}: stored versions {versions}, expected {expected_versions}")
        # One audit event per stored change (+ the setup `create` of each shared annotation), in version order.
        trail = [(e.version, e.after["comment"]) for e in events[annotation_id]][1 if shared else 0 :]
        if trail != sorted((o.version, o.comment) for o in saves):
            problems.append(f"annotation {annotation_id}: audit trail does not match the stored saves")
        last = max(saves, key=lambda o: o.version or 0)
        if annotation.comment != last.comment:
            problems.append(f"annotation {annotation_id}: holds {annotation.comment!r}, last stored {last.comment!r}")
    for annotation_id in plan.shared_annotation_ids:
        if annotation_id not in by_annotation and annotations[annotation_id].version != 1:
            problems.append(f"shared annotation {annotation_id} changed without a stored save")
    return problems


# A writer's first saves run each kind of save (load + update, create) for the first time in its process,
# which pays one-time costs (connections, the writer thread); `p99_warm_ms` leaves them out next to p99_ms.
WARM_UP_SAVES = 3


def _percentile_ms(latencies: list[float], p: float) -> float:
    return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0


def latency_summary(outcomes: list[SaveOutcome], wall_s: float, *, processes: int = 0) -> dict[str, float]:
    """Counts, p50/p99 latency of every save, p99 without each writer's first WARM_UP_SAVES saves, saves/s.

    With `processes` (as given to run_load: writers 0..processes-1 ran in processes) also the p99 of the
    writers in processes and of those in threads of one process, which share its interpreter lock.
    """
    latencies = sorted(o.latency_s for o in outcomes)
    if not latencies:
        return {}
    warm = sorted(o.latency_s for o in outcomes if o.save_index >= WARM_UP_SAVES)
    in_processes = sorted(o.latency_s for o in outcomes if o.writer < processes)
    in_threads = sorted(o.latency_s for o in outcomes if o.writer >= processes)

    return {
        "saves": len(latencies),
        "stored": sum(o.stored for o in outcomes),
        "conflicts": sum(not o.stored and not o.error for o in outcomes),
        "errors": sum(bool(o.error) for o in outcomes),
        "p50_ms": _percentile_ms(latencies, 0.50),
        "p99_ms": _percentile_ms(latencies, 0.99),
        "p99_warm_ms": _percentile_ms(warm, 0.99),
        "p99_processes_ms": _percentile_ms(in_processes, 0.99),
        "p99_threads_ms": _percentile_ms(in_threads, 0.99),
        "saves_per_s": len(latencies) / wall_s if wall_s else 0.0,
    }
