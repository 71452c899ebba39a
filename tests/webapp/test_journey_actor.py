"""The actor's journey in the system Chromium against a real `critic serve` with the embedded model (the tiny test
model writes no solution steps): solve a problem with the actor, refine it with the critic, read each round (what the
critic flagged, what the actor changed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.webapp.journey import (
    fill,
    page_as,
    press,
    shot,
    wait_text,
)

# A real model on 2 CPU cores: these journeys may outlast the default per-test limit on a busy machine.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1500)]

PROBLEM = "Tom has 3 bags of 4 apples and eats 2. How many apples are left?"
WRONG = (
    "Step 1: 3 bags of 4 apples is 3 * 4 = 12 apples.\nStep 2: He eats 2, so 12 - 2 = 11.\nStep 3: The answer is 11."
)


@pytest.fixture(scope="module")
def tiny_model_dir(embedded_model_dir: Path) -> Path:
    """The model `served` starts the app with: here the embedded one, which writes real steps as the actor."""
    return embedded_model_dir


def test_solve_with_the_actor_then_refine_with_the_critic_round_by_round(served, browser) -> None:  # noqa: F811
    page = page_as(browser, served, "annotator", "pw-annotator")
    fill(page, "#critique-problem", PROBLEM)
    press(page, "#actor-solve", "#actor-status", "The actor wrote", timeout=900_000)
    # The actor's solution lands in the solution box, numbered, ready to critique or refine.
    assert page.input_value("#critique-solution textarea").startswith("Step 1:")
    press(page, "#actor-refine", "#actor-rounds-view", "stopped because", timeout=900_000)
    assert "Round 1" in page.inner_text("#actor-rounds-view")
    shot(page, "actor-solved-and-refined")

    # A solution with a wrong subtraction: the critic flags a step and the actor rewrites from there.
    fill(page, "#critique-solution", WRONG)
    page.click("#actor-refine")
    # The first refinement's rounds stay on the page until this one's replace them: wait for a flagged step (the
    # checker proves step 2 wrong here), finished, with no progress line left.
    page.wait_for_function(
        "() => { const t = document.querySelector('#actor-rounds-view').innerText;"
        " return t.includes('The critic flagged Step') && t.includes('stopped because')"
        " && !/(processing|queue:)[^\\n]*s\\n/.test(t); }",
        timeout=900_000,
    )
    rounds = page.inner_text("#actor-rounds-view")
    assert "Round 1" in rounds and "The critic flagged Step" in rounds
    assert "What the actor changed" in rounds and "Kept the first" in rounds
    wait_text(page, "#actor-status", "Refined in")
    shot(page, "actor-rounds")
