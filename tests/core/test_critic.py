"""The critic end to end with a scripted backend (batching, voting, deliberate mode, streaming) and the real model."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.backends.base import GenerationParams, Messages
from core.critic import Critic, CriticConfig
from core.errors import ConfigError
from core.grammar import critique_constraint
from core.items_io import read_items
from core.types import CritiqueResult, SolutionItem
from tests.core.scripted_backend import ScriptedBackend

ITEM = SolutionItem(
    id="x", problem="Tom has 3 bags of 4 apples and eats 2. How many are left?", steps=["3*4=12", "12-2=11", "So 11."]
)


def critique_text(first_error: int, num_steps: int = 3) -> str:
    blocks = []
    for i in range(1, (num_steps if first_error == -1 else first_error) + 1):
        verdict = -1 if i == first_error else 1
        blocks.append(
            f"**Critique of Step {i}**: Checking step {i}. Let me verify it another way: done.\n"
            f"**Judgement**: The correctness of Step {i} is: \\boxed{{{verdict}}}"
        )
    return "\n\n".join(blocks) + f"\n\n**Answer**: \\boxed{{{first_error}}}"


def test_critique_many_sends_all_items_and_samples_in_one_call_and_votes() -> None:
    answers = {0: critique_text(2), 1: critique_text(2), 2: critique_text(-1), 3: "I cannot tell."}
    backend = ScriptedBackend(lambda prompt, i: answers[i])
    critic = Critic(backend, samples=4, max_new_tokens=64)
    results = critic.critique_many([ITEM, ITEM.model_copy(update={"id": "y"})])
    assert len(backend.calls) == 1
    prompts, params = backend.calls[0]
    assert len(prompts) == 2 and params.n == 4 and params.temperature == pytest.approx(0.7)
    result = results[0]
    assert [r.id for r in results] == ["x", "y"]
    assert result.first_error_step == 2 and result.votes == [2, 2, -1, None] and result.samples == 4
    assert [s.verdict for s in result.steps] == ["correct", "incorrect", "unchecked"]
    assert [s.vote_share for s in result.steps] == [1.0, pytest.approx(2 / 3), pytest.approx(2 / 3)]
    assert result.parse_status == "partial"  # one sample was unreadable
    assert result.steps[0].meta_critique.startswith("Let me verify")
    assert len(result.raw_outputs) == 4 and result.completion_tokens > 0
    assert {"generate_s", "parse_s", "total_s"} <= set(result.timings)
    assert CritiqueResult.model_validate_json(result.model_dump_json()) == result


def test_all_unparseable_samples_give_no_first_error() -> None:
    critic = Critic(ScriptedBackend(lambda prompt, i: "lorem ipsum"), samples=3, critic="llm")
    result = critic.critique(ITEM)
    assert result.first_error_step is None and result.parse_status == "failed" and result.votes == [None] * 3
    assert all(s.verdict == "unchecked" for s in result.steps)


def test_the_combined_critic_judges_a_step_the_checker_proves_wrong() -> None:
    # The model calls every step correct; the checker proves 12 - 2 = 11 false.
    critic = Critic(ScriptedBackend(lambda prompt, i: critique_text(-1)))
    result = critic.critique(ITEM)
    assert result.critic == "combined" and result.first_error_step == 2
    assert [s.verdict for s in result.steps] == ["correct", "incorrect", "unchecked"]
    assert [s.model_verdict for s in result.steps] == ["correct", "correct", "correct"], "the model's view stays"
    assert result.steps[1].check is not None and "= 10" in result.steps[1].check.detail
    alone = Critic(ScriptedBackend(lambda prompt, i: critique_text(-1)), critic="llm").critique(ITEM)
    assert alone.first_error_step == -1 and alone.steps[1].check is None
    assert [s.verdict_source for s in result.steps] == ["both", "checker", None], "3*4=12 verified, 12-2=11 proven"


def test_the_checker_runs_first_and_a_model_doubt_before_its_proof_stays_doubt() -> None:
    seen: list[str] = []

    def script(prompt: str, i: int) -> str:
        seen.append(prompt)
        return critique_text(1)  # the model stops at step 1 (-1), before the step the checker proved wrong

    result = Critic(ScriptedBackend(script)).critique(ITEM)
    assert "Checker: step 2: 12-2 = 11 is false (12-2 = 10)." in seen[0], "the proof is in the prompt"
    assert "judge it \\boxed{-1}" in seen[0]
    assert result.first_error_step == 2, "the model's -1 on step 1 does not hide the proven step 2"
    step1, step2 = result.steps[0], result.steps[1]
    assert step1.model_verdict == "incorrect" and step1.verdict in ("correct", "unchecked")
    assert step1.verdict_source in ("model", "checker")
    assert step2.verdict == "incorrect" and step2.verdict_source == "checker"
    # Where the checker proves nothing, the model's judgement stands.
    plain = ITEM.model_copy(update={"steps": ["Tom has 3 bags.", "He eats some.", "So 10 are left."]})
    assert Critic(ScriptedBackend(lambda prompt, i: critique_text(1))).critique(plain).first_error_step == 1


def test_single_greedy_sample_has_no_vote_share() -> None:
    result = Critic(ScriptedBackend(lambda prompt, i: critique_text(-1)), critic="llm").critique(ITEM)
    assert result.first_error_step == -1 and result.parse_status == "ok"
    assert all(s.verdict == "correct" and s.vote_share is None for s in result.steps)


def test_deliberate_mode_batches_each_round_and_uses_the_in_depth_critique_as_meta() -> None:
    def script(prompt: str, i: int) -> str:
        step = int(prompt.split("Focus only on Step ")[1][0])
        if "[In-depth critique]" in prompt:
            verdict = -1 if step == 2 else 1
            return (
                f"Merged view of step {step}.\n**Judgement**: The correctness of Step {step} is: \\boxed{{{verdict}}}"
            )
        if "[Initial critique]" in prompt:
            return f"Recomputing step {step} by substitution.\n**Judgement**: \\boxed{{1}}"
        return f"First look at step {step}.\n**Judgement**: \\boxed{{1}}"

    backend = ScriptedBackend(script)
    results = Critic(backend, mode="deliberate").critique_many([ITEM, ITEM])
    assert [len(prompts) for prompts, _ in backend.calls] == [6, 6, 6]  # 2 items x 3 steps per round
    result = results[0]
    assert result.mode == "deliberate" and result.first_error_step == 2 and result.parse_status == "ok"
    assert [s.verdict for s in result.steps] == ["correct", "incorrect", "unchecked"]
    assert result.steps[1].critique == "First look at step 2."
    assert result.steps[1].meta_critique == "Recomputing step 2 by substitution."
    assert "merged critique" in result.raw_outputs[0] and {"initial_s", "in_depth_s", "merged_s"} <= set(result.timings)


class ChunkedBackend(ScriptedBackend):
    """Streams the scripted text a few characters at a time, like a model emitting tokens."""

    def stream(self, prompt: Messages, params: GenerationParams) -> Iterator[str]:
        text = self.generate([prompt], params)[0][0].text
        for start in range(0, len(text), 7):
            yield text[start : start + 7]


def test_stream_fills_step_cards_in_then_ends_with_the_voted_result() -> None:
    critic = Critic(ChunkedBackend(lambda prompt, i: critique_text(2)), samples=2, temperature=0.5)
    results = list(critic.stream(ITEM))
    partial, final = results[:-1], results[-1]
    assert len(partial) > 10 and not any(r.finished for r in partial)
    seen_step1_before_step2 = next(r for r in partial if r.steps[0].verdict == "correct")
    assert seen_step1_before_step2.steps[1].verdict == "unchecked"
    # From the view where a step is first judged on, it says when that judgement was written (wall clock).
    assert "judged_step_1_at" in seen_step1_before_step2.timings
    assert "judged_step_2_at" not in seen_step1_before_step2.timings
    assert partial[-1].timings["judged_step_1_at"] <= partial[-1].timings["judged_step_2_at"] <= time.time()
    assert final.finished and final.votes == [2, 2] and final.first_error_step == 2
    assert final.steps[1].vote_share == 1.0


def test_stream_on_a_real_model_ends_with_the_full_text(tiny_model_dir: Path) -> None:
    critic = Critic.create(model=str(tiny_model_dir), backend="transformers", max_new_tokens=6, constrained="off")
    results = list(critic.stream(ITEM))
    assert len(results) >= 2 and not results[0].finished and results[-1].finished
    assert results[-1].raw_outputs[0] == results[-2].raw_outputs[0]  # the final result holds everything streamed
    assert results[-1].raw_outputs[0].startswith(results[0].raw_outputs[0])
    assert 0 < results[-1].completion_tokens <= 7 and results[-1].model == str(tiny_model_dir)
    assert not results[-1].constrained


def test_a_constrained_stream_always_ends_in_a_readable_critique(tiny_model_dir: Path) -> None:
    # A random tiny model under the grammar: the budget is too small for free text, the format still completes.
    critic = Critic.create(model=str(tiny_model_dir), backend="transformers", max_new_tokens=6)
    results = list(critic.stream(ITEM))
    final = results[-1]
    assert final.finished and final.constrained and final.parse_status == "ok"
    assert final.first_error_step in (-1, 1, 2, 3) and not results[0].finished
    judged = [s for s in final.steps if s.model_verdict in ("correct", "incorrect")]
    # The first step the checker proves wrong is forced to -1 by the grammar: the model chose no judgement there.
    forced = next((s.index for s in final.steps if s.check and s.check.status == "wrong"), None)
    chosen = [s for s in judged if s.index != forced]
    assert judged and all(s.p_correct is not None and 0.0 <= s.p_correct <= 1.0 for s in chosen)
    assert all(s.p_correct is None for s in judged if s.index == forced)


def test_bad_settings_raise_config_errors_that_say_what_to_change() -> None:
    backend = ScriptedBackend(lambda prompt, i: "")
    with pytest.raises(ConfigError, match="temperature > 0"):
        Critic(backend, samples=3, temperature=0.0)
    with pytest.raises(ConfigError, match="mode"):
        Critic(backend, mode="fast")
    with pytest.raises(ConfigError, match="samples"):
        CriticConfig.build(samples=0)
    assert Critic(backend).critique_many([]) == []


@pytest.mark.slow
def test_embedded_model_critiques_a_processbench_item_end_to_end(
    embedded_model_dir: Path, processbench_dir: Path
) -> None:
    (item,) = [
        i for i in read_items(processbench_dir / "gsm8k.json") if isinstance(i, SolutionItem) and i.id == "gsm8k-1"
    ]
    critic = Critic.create(model="embedded", backend="transformers", max_new_tokens=48)
    result = critic.critique(item)
    data = json.loads(result.model_dump_json())
    assert data["problem"] == item.problem and data["model"] == "embedded" and data["backend"] == "transformers"
    assert [s["index"] for s in data["steps"]] == list(range(1, len(item.steps) + 1))
    assert [s["text"] for s in data["steps"]] == item.steps
    for step in data["steps"]:
        assert step["verdict"] in {"correct", "incorrect", "unchecked"}
        assert isinstance(step["critique"], str) and isinstance(step["meta_critique"], str)
    fe = data["first_error_step"]
    assert fe is None or fe == -1 or 1 <= fe <= len(item.steps)
    assert data["votes"] == [fe] and data["samples"] == 1 and data["parse_status"] in {"ok", "partial", "failed"}
    assert (
        data["raw_outputs"][0].strip()
        and 0 < data["completion_tokens"] <= critique_constraint(len(item.steps), 48).max_tokens
    )
    assert data["parse_status"] == "ok" and data["constrained"], "under the grammar the embedded model's output parses"
    assert data["timings"]["generate_s"] > 0
