"""The model registry: promote, roll back, the active model the app serves, and the evaluation gate."""

from __future__ import annotations

import random
import threading

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.errors import ConflictError
from db.models import ModelVersion
from db.session import session_scope
from training import gate, queue, registry
from training.config import load_config
from training.queue import start_write


def _candidate(session: Session, name: str) -> int:
    job = queue.enqueue_job(session, config=load_config("sft", None, {"max_steps": 1}))
    version = registry.register_candidate(
        session,
        job_id=job.id,
        path=f"/models/{name}",
        base_model="embedded",
        parent_id=None,
        data_hash="0" * 64,
        config={"name": name},
    )
    assert queue.get_job(session, job_id=job.id).result_model_version_id == version.id
    return version.id


def test_promote_and_rollback_switch_the_served_model(sqlite_session: Session) -> None:
    assert registry.serving_model(sqlite_session, "embedded") == "embedded"
    first, second = _candidate(sqlite_session, "a"), _candidate(sqlite_session, "b")
    registry.promote(sqlite_session, version_id=first)
    assert registry.serving_model(sqlite_session, "embedded") == "/models/a"
    registry.promote(sqlite_session, version_id=second)
    assert registry.serving_model(sqlite_session, "embedded") == "/models/b"
    assert registry.get_version(sqlite_session, version_id=first).status == registry.RETIRED
    with pytest.raises(ConflictError, match="already active"):
        registry.promote(sqlite_session, version_id=second)

    back = registry.rollback(sqlite_session)
    assert back is not None and back.id == first
    assert registry.serving_model(sqlite_session, "embedded") == "/models/a"
    assert registry.get_version(sqlite_session, version_id=second).status == registry.REJECTED
    assert registry.rollback(sqlite_session) is None  # nothing before the first: the default model serves again
    assert registry.serving_model(sqlite_session, "embedded") == "embedded"
    with pytest.raises(ConflictError, match="no active model"):
        registry.rollback(sqlite_session)


def _records(labels: list[int], predictions: list[int | None]) -> dict:
    return {
        ("set", f"i{n}"): {"label": lab, "prediction": p, "parse_status": "ok" if p is not None else "failed"}
        for n, (lab, p) in enumerate(zip(labels, predictions, strict=True))
    }


# 60 erroneous solutions (first error at step 2) and 60 correct ones; the serving model finds half of each.
LABELS = [2] * 60 + [-1] * 60
SERVING = [2] * 30 + [3] * 30 + [-1] * 30 + [1] * 30


def _decide(candidate: list[int | None], reference: list[int | None] | None, **kw) -> gate.GateDecision:
    options = {"min_lift": 0.0, "min_items": 50, "auto_promote": True, **kw}
    ref = _records(LABELS, reference) if reference is not None else None
    return gate.decide(_records(LABELS, candidate), ref, **options)


def test_gate_promotes_a_true_lift_only() -> None:
    lifted = [2] * 50 + [3] * 10 + [-1] * 50 + [1] * 10  # 0.83 vs 0.5 on the same items
    true_lift = _decide(lifted, SERVING)
    assert true_lift.promoted and true_lift.interval is not None and true_lift.interval[0] > 0
    assert "lower bound above" in true_lift.reason

    tie = _decide(list(SERVING), SERVING)
    assert not tie.promoted and tie.interval == (0.0, 0.0)

    # A candidate trained on shuffled labels guesses: its F1 may even match the serving model's, never clear it.
    rng = random.Random(7)
    shuffled = [rng.choice([1, 2, 3, -1]) for _ in LABELS]
    noise = _decide(shuffled, SERVING)
    assert not noise.promoted and noise.interval[0] <= 0

    # Fixes 5 items and breaks 3 on each side: +0.033 F1, but which items flip is noise on 120 items.
    churn = [3] * 3 + [2] * 32 + [3] * 25 + [1] * 3 + [-1] * 32 + [1] * 25
    noisy = _decide(churn, SERVING)
    assert noisy.candidate_score > noisy.active_score and not noisy.promoted
    # Fixing 3 items per side and breaking none is a consistent improvement the paired bootstrap does see.
    assert _decide([2] * 33 + [3] * 27 + [-1] * 33 + [1] * 27, SERVING).promoted
    assert not _decide(lifted, SERVING, min_lift=0.5).promoted  # the configurable minimum
    assert not _decide(lifted, SERVING, auto_promote=False).promoted


def test_gate_never_promotes_without_a_reference_or_enough_items() -> None:
    perfect = list(LABELS)
    no_reference = _decide(perfect, None)
    assert not no_reference.promoted and "no reference score" in no_reference.reason
    few = gate.decide(
        _records(LABELS[55:65], perfect[55:65]),
        _records(LABELS[55:65], [None] * 10),
        min_lift=0.0,
        min_items=50,
        auto_promote=True,
    )
    assert not few.promoted and "fewer than gate_min_items" in few.reason


def test_apply_gate_promotes_only_while_the_compared_version_serves(sqlite_session: Session) -> None:
    lifted = [2] * 50 + [3] * 10 + [-1] * 50 + [1] * 10
    passed = _decide(lifted, SERVING)
    kept_decision = _decide(list(SERVING), SERVING)

    first = _candidate(sqlite_session, "c")
    kept = registry.apply_gate(sqlite_session, version_id=first, decision=kept_decision, expected_serving_id=None)
    assert kept.status == registry.CANDIDATE and "kept as candidate" in kept.notes
    assert kept.metrics["gate"]["interval"] == [0.0, 0.0]
    promoted = registry.apply_gate(sqlite_session, version_id=first, decision=passed, expected_serving_id=None)
    assert promoted.status == registry.ACTIVE and registry.active_model(sqlite_session).id == first

    # Compared with the default model (None) while `first` started serving: the comparison is stale, no promotion.
    late = _candidate(sqlite_session, "d")
    stale = registry.apply_gate(sqlite_session, version_id=late, decision=passed, expected_serving_id=None)
    assert stale.status == registry.CANDIDATE and "serving model changed" in stale.notes
    assert registry.active_model(sqlite_session).id == first
    events = registry.model_events(sqlite_session)
    assert [(e.model_version_id, e.action) for e in events][:2] == [(late, "kept"), (first, "auto-promote")]


def test_manual_promotion_is_audited_with_who(sqlite_session: Session) -> None:
    version = _candidate(sqlite_session, "e")
    registry.promote(sqlite_session, version_id=version, reason="looked good on gsm8k", actor="alice", actor_id=None)
    event = registry.model_events(sqlite_session, version_id=version)[0]
    assert (event.action, event.actor, event.reason) == ("promote", "alice", "looked good on gsm8k")


@pytest.mark.postgres
def test_two_jobs_finishing_together_leave_exactly_one_serving(postgres_db_url: str) -> None:
    """Both candidates beat the default model and both gates pass at the same moment: only one may serve."""
    lifted = [2] * 50 + [3] * 10 + [-1] * 50 + [1] * 10
    passed = _decide(lifted, SERVING)
    with session_scope(postgres_db_url) as session:
        ids = [_candidate(session, f"race-{n}") for n in range(2)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def finish(version_id: int) -> None:
        try:
            with session_scope(postgres_db_url) as session:
                barrier.wait()
                registry.apply_gate(session, version_id=version_id, decision=passed, expected_serving_id=None)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    for _ in range(5):  # several rounds: the race must be lost by one side every time, whatever the timing
        threads = [threading.Thread(target=finish, args=(i,)) for i in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        with session_scope(postgres_db_url) as session:
            serving = session.scalars(select(ModelVersion).where(ModelVersion.status == registry.ACTIVE)).all()
            assert len(serving) == 1
            loser = next(i for i in ids if i != serving[0].id)
            assert "serving model changed" in registry.get_version(session, version_id=loser).notes
            registry.rollback(session)  # back to no version serving for the next round
            start_write(session)
            session.execute(update(ModelVersion).values(status=registry.CANDIDATE))
            session.commit()


def _stored_run(session: Session, tmp_path, gate_set, *, fingerprint: str, parse: list[str], name: str = "run") -> None:
    import json

    from db.evals import finish_eval_run, start_eval_run

    out = tmp_path / name
    out.mkdir()
    rows = [
        {"id": i.id, "subset": "held", "label": i.first_error_step, "prediction": 2, "parse_status": status}
        for i, status in zip(gate_set.items, parse, strict=True)
    ]
    (out / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    config = {"model": "embedded-path", "max_new_tokens": 512, "backend": "auto", "prediction_fingerprint": fingerprint}
    run = start_eval_run(
        session,
        model="embedded-path",
        dataset="eval-set:held",
        config=config,
        predictions_path=str(out),
        n_items=len(rows),
        eval_set_id=gate_set.eval_set_id,
    )
    finish_eval_run(session, run_id=run.id, metrics={}, n_items=len(rows))


def test_stored_scores_are_reused_only_on_the_same_prediction_fingerprint(
    sqlite_session: Session, tmp_path, monkeypatch
) -> None:
    from core.settings import get_settings
    from core.types import SolutionItem
    from db.eval_sets import create_eval_set
    from training import evaluation

    items = [SolutionItem(id=f"i{n}", problem=f"p{n}", steps=["a", "b"], first_error_step=n % 2) for n in range(3)]
    create_eval_set(sqlite_session, name="held", items=items, source="test")
    gate_set = gate.registered_set(sqlite_session, name="held")

    def fingerprint(backend: str = "auto", budget: int = 512) -> str:
        config = gate.gate_eval_config(
            "embedded-path", gate_set, output=tmp_path, max_new_tokens=budget, backend=backend
        )
        return config.prediction_fingerprint()

    def stored(backend: str = "auto", budget: int = 512) -> dict | None:
        return gate.stored_scores(
            sqlite_session,
            model_version_id=None,
            model="embedded-path",
            gate_set=gate_set,
            max_new_tokens=budget,
            backend=backend,
        )

    _stored_run(sqlite_session, tmp_path, gate_set, fingerprint=fingerprint(), parse=["ok"] * 3)
    reused = stored()
    assert reused is not None and {r["prediction"] for r in reused.values()} == {2} and len(reused) == 3
    # A vLLM run must not stand in for a transformers one (or another budget): the gate compares like with like.
    assert stored("transformers") is None
    assert stored("auto", budget=256) is None
    # Another grammar setting, or changed critic code, makes the stored run stale: the gate scores afresh.
    monkeypatch.setenv("CRITIC_CONSTRAINED", "off")
    get_settings.cache_clear()
    assert stored() is None
    monkeypatch.delenv("CRITIC_CONSTRAINED")
    get_settings.cache_clear()
    assert stored() is not None
    monkeypatch.setattr(evaluation, "prediction_code_digest", lambda: "other code")
    assert stored() is None
    # The model alone (no checker findings in its prompt) is another critic: never the gate's combined reference.
    alone = gate.gate_eval_config(
        "embedded-path", gate_set, output=tmp_path, max_new_tokens=512, backend="auto", critic="llm"
    )
    assert alone.critic == "llm" and alone.prediction_fingerprint() != fingerprint()


def test_a_reference_that_reads_badly_is_never_used(sqlite_session: Session, tmp_path) -> None:
    from core.types import SolutionItem
    from db.eval_sets import create_eval_set

    items = [SolutionItem(id=f"i{n}", problem=f"p{n}", steps=["a", "b"], first_error_step=n % 2) for n in range(3)]
    create_eval_set(sqlite_session, name="held", items=items, source="test")
    gate_set = gate.registered_set(sqlite_session, name="held")
    mine = gate.gate_eval_config("embedded-path", gate_set, output=tmp_path, max_new_tokens=512, backend="auto")
    # A stored run with the right fingerprint whose critiques mostly failed to parse (e.g. generated unconstrained).
    _stored_run(
        sqlite_session, tmp_path, gate_set, fingerprint=mine.prediction_fingerprint(), parse=["ok", "failed", "failed"]
    )
    found = gate.stored_scores(
        sqlite_session,
        model_version_id=None,
        model="embedded-path",
        gate_set=gate_set,
        max_new_tokens=512,
        backend="auto",
    )
    assert found is None  # the job then re-scores the serving model

    # Even handed to the gate directly, a reference under 95 % parsed never lets a candidate through.
    unreadable = _records(LABELS, [None] * 20 + list(SERVING[20:]))
    decision = gate.decide(_records(LABELS, list(LABELS)), unreadable, min_lift=0.0, min_items=50, auto_promote=True)
    assert not decision.promoted and "read cleanly on only 83%" in decision.reason
