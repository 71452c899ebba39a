"""The actor job end to end (scripted sampling, real SFT of the tiny model), actor versions apart from critic ones,
and the accuracy gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.actor.problems import problem_record, word_problems
from core.jsonl import append_jsonl
from tests.core.scripted_backend import ScriptedBackend
from tests.webapp.conftest import scripted_critique
from training.gate import decide_accuracy
from training.progress import MemoryReporter


def test_the_accuracy_gate_promotes_only_a_lift_beyond_noise() -> None:
    ids = [str(i) for i in range(30)]
    better = decide_accuracy(
        dict.fromkeys(ids, True), {i: int(i) < 10 for i in ids}, min_lift=0.0, min_items=20, auto_promote=True
    )
    assert better.promoted and better.metric == "accuracy" and better.interval[0] > 0
    same = decide_accuracy(
        dict.fromkeys(ids, True), dict.fromkeys(ids, True), min_lift=0.0, min_items=20, auto_promote=True
    )
    assert not same.promoted and "lower bound not above" in same.reason
    few = decide_accuracy({"a": True}, {"a": False}, min_lift=0.0, min_items=20, auto_promote=True)
    assert not few.promoted and "fewer than gate_min_items=20" in few.reason


def test_actor_and_critic_versions_serve_and_roll_back_apart(sqlite_session) -> None:
    from db.models import TrainingJob
    from training import registry

    session = sqlite_session
    job = TrainingJob(kind="actor", status="succeeded", config={}, metrics={})
    session.add(job)
    session.commit()
    critic = registry.register_candidate(
        session, job_id=job.id, path="/c", base_model="b", parent_id=None, data_hash="", config={}
    )
    actor = registry.register_candidate(
        session, job_id=job.id, path="/a", base_model="b", parent_id=None, data_hash="", config={}, kind=registry.ACTOR
    )
    registry.promote(session, version_id=critic.id)
    registry.promote(session, version_id=actor.id)
    assert registry.active_model(session).id == critic.id  # promoting the actor left the critic serving
    assert registry.active_model(session, registry.ACTOR).id == actor.id
    assert [v.id for v in registry.list_versions(session, kind=registry.ACTOR)] == [actor.id]
    assert registry.rollback(session, kind=registry.ACTOR) is None
    assert registry.active_model(session, registry.ACTOR) is None and registry.active_model(session).id == critic.id


def _actor_script(prompt: str, sample: int) -> str:
    """Solves sample 0 right; other samples add wrong, and a revision asked for with a critique fixes them."""
    truth = prompt.split("ANSWER=")[-1].split()[0] if "ANSWER=" in prompt else "0"
    if "Rewrite the solution from Step" in prompt:
        return f"Step 2: So the count is {truth}.\nStep 3: The answer is \\boxed{{{truth}}}."
    if "Solve the problem step by step" in prompt:
        answer = truth if sample == 0 else "999"
        return f"Step 1: Count them.\nStep 2: So the count is {answer}.\nStep 3: The answer is \\boxed{{{answer}}}."
    return scripted_critique(prompt, sample)


@pytest.mark.parametrize("use_critique", [True, False])
def test_an_actor_job_explores_trains_registers_and_gates(
    use_critique: bool, sqlite_db_url: str, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.backends
    from db.session import session_scope
    from training import registry
    from training.actor_job import run_actor_job
    from training.config import ActorJobConfig
    from training.queue import enqueue_job, get_job

    # The scripted actor reads the truth from the problem text, so its right and wrong answers are known.
    problems = [p.model_copy(update={"problem": f"{p.problem} ANSWER={p.answer}"}) for p in word_problems(8, seed=2)]
    source = tmp_path / "problems.jsonl"
    append_jsonl(source, (problem_record(p) for p in problems))
    monkeypatch.setattr(core.backends, "create_backend", lambda name, model, **_: ScriptedBackend(_actor_script))
    config = ActorJobConfig(
        problems=source,
        base_model=str(tiny_model_dir),
        critic_model=str(tiny_model_dir),
        use_critique=use_critique,
        samples=2,
        held_out_problems=3,
        max_steps=1,
        gate_min_items=2,
        max_length=256,
        per_device_batch_size=2,
        gradient_accumulation_steps=1,
    )
    reporter = MemoryReporter()
    with session_scope(sqlite_db_url) as session:
        job = enqueue_job(session, config=config)
        assert run_actor_job(session, get_job(session, job_id=job.id), reporter, tmp_path / "attempt-1")
        job = get_job(session, job_id=job.id)
        version = registry.get_version(session, version_id=job.result_model_version_id)
        logs = "\n".join(message for _, message in reporter.logs)
        assert version.kind == "actor" and version.metrics["gate"]["metric"] == "accuracy"
        assert version.metrics["gate"]["n_items"] == 3  # the held-out problems, never trained on
        rounds = job.metrics["exploration"]
        assert rounds[0]["explored"] == 5  # every training problem: sample 0 is right
        if use_critique:
            assert len(rounds) == 2 and rounds[1]["from_refinement"] == 5 and job.metrics["examples_from_refinement"]
            assert "right solution(s) from refinement this round" in logs
        else:
            assert len(rounds) == 1 and job.metrics["examples_from_refinement"] == 0
        assert "kept as candidate" in logs or "promoted to serving actor" in logs
        assert registry.active_model(session) is None or registry.active_model(session).kind == "critic"
