"""A strong served critic is not cut down: `critic critique --backend openai` against a stand-in server that answers
with long DeepCritic-style critiques (paragraphs, lists, `\\frac`, `$$...$$`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import llguidance
import pytest

from core.grammar import FORMAT_MARKERS, Constraint, critique_constraint
from core.types import CritiqueResult
from tests.cli.runner import critic
from tests.core.served_critiques import PENCILS_PROBLEM, PENCILS_STEPS, SERVED_CRITIQUES
from tests.core.test_openai_backend import StubServer

SERVED_MODEL = "DeepCritic-7B-RL"


@pytest.fixture
def served() -> Iterator[StubServer]:
    server = StubServer()
    server.behaviour.served = [SERVED_MODEL]
    yield server
    server.stop()


def _sentences(part: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", part) if len(s.strip()) > 3]


def _parts(critique: str) -> list[str]:
    """The free text parts of a critique written in the format (its analyses and re-verifications)."""
    return re.findall(r"\*\*(?:Critique of Step \d+|Meta-critique)\*\*: (.*?)(?=\n\*\*(?:Meta|Judge))", critique, re.S)


@pytest.mark.parametrize("shape", sorted(SERVED_CRITIQUES))
def test_a_long_latex_critique_from_a_served_critic_is_accepted_parsed_and_kept_whole(
    shape: str, served: StubServer, tmp_path: Path
) -> None:
    text = SERVED_CRITIQUES[shape]
    served.behaviour.reply = text
    solution = tmp_path / "solution.txt"
    solution.write_text("\n\n".join(PENCILS_STEPS))
    out = tmp_path / "result.jsonl"
    result = critic(
        "critique",
        "--problem",
        PENCILS_PROBLEM,
        "--solution-file",
        str(solution),
        "--backend",
        "openai",
        "--base-url",
        served.url,
        "--model",
        SERVED_MODEL,
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    # The grammar sent with the request is the structure profile, and it accepts the whole long critique.
    sent = [r for r in served.completion_requests if "structured_outputs" in r][-1]
    pattern = sent["structured_outputs"]["regex"]
    assert Constraint(regex=pattern, max_tokens=sent["max_tokens"]).matches(text)
    assert llguidance.LLMatcher.validate_grammar(llguidance.LLMatcher.grammar_from_regex(pattern)) == ""
    assert "Each part may take several sentences" in sent["messages"][-1]["content"], "the prompt names the format"
    data = CritiqueResult.model_validate_json(out.read_text())
    assert data.grammar == "structure" and data.constrained and data.parse_status == "ok"
    assert data.first_error_step == 3 and data.steps[2].verdict == "incorrect"
    assert data.steps[2].verdict_source in ("both", "checker") and "12 + 3 = 16" in (data.steps[2].check.detail)
    # Every sentence of every part, LaTeX included, is in the result's step texts.
    shown = "\n".join(s.critique + "\n" + s.meta_critique for s in data.steps)
    for part in _parts(text):
        for sentence in _sentences(part):
            assert sentence.lstrip("*- 0123456789.") in shown, sentence
    assert "\\frac" in shown and "$$" in shown


def test_a_doubt_before_the_proven_step_stays_on_its_step(served: StubServer, tmp_path: Path) -> None:
    served.behaviour.reply = SERVED_CRITIQUES["doubt_first"]
    solution = tmp_path / "solution.txt"
    solution.write_text("\n\n".join(PENCILS_STEPS))
    result = critic(
        "critique",
        "--problem",
        PENCILS_PROBLEM,
        "--solution-file",
        str(solution),
        "--backend",
        "openai",
        "--base-url",
        served.url,
        "--model",
        SERVED_MODEL,
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    step2, step3 = data["steps"][1], data["steps"][2]
    assert data["first_error_step"] == 3, "the model's -1 on step 2 does not hide the proven error in step 3"
    assert step2["model_verdict"] == "incorrect" and step2["verdict"] in ("correct", "unchecked")
    assert step3["verdict"] == "incorrect" and step3["verdict_source"] in ("checker", "both")


@pytest.mark.parametrize("num_steps", [1, 2, 5, 13, 27, 40])
def test_llguidance_compiles_the_structure_grammar_for_up_to_40_steps(num_steps: int) -> None:
    for proven in ([], [num_steps]):
        regex = critique_constraint(num_steps, 1024, profile="structure", proven_wrong=proven).regex
        grammar = llguidance.LLMatcher.grammar_from_regex(regex)
        assert llguidance.LLMatcher.validate_grammar(grammar) == ""


def test_free_text_parts_cannot_hold_the_format_markers() -> None:
    constraint = critique_constraint(1, 512, profile="structure")
    good = (
        "**Critique of Step 1**: Fine: $$\\frac{1}{2} \\times 4 = 2$$\n- a list\n**Meta-critique**: **Check** ok.\n"
        "**Judgement**: The correctness of Step 1 is: \\boxed{1}\n\n**Answer**: \\boxed{-1}"
    )
    assert constraint.matches(good)
    for marker in FORMAT_MARKERS:
        assert not constraint.matches(good.replace("a list", f"a list {marker} inside")), marker
