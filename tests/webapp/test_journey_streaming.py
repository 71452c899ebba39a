"""The Critique tab in the system Chromium: step cards stream as the critic writes, and say where verdicts come from.

The streaming journey runs `critic serve` with every default (the `auto` backend, the embedded model) and watches
the page while a 4-step critique is written; the provenance check renders a critique showing each kind of verdict
source in the real app and reads it as a person does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.types import CritiqueResult, SolutionItem, StepCheck, StepResult
from tests.conftest import MODEL_CACHE
from tests.webapp.journey import (
    ADMIN_PASSWORD,
    Served,
    critic_serve,
    fill,
    page_as,
    shot,
    wait_text,
)
from tests.webapp.server import running_app

# A real model on 2 CPU cores: these journeys may outlast the default per-test limit on a busy machine.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1500)]

PROBLEM = (
    "A stationery shop sells pencils at $2 each and erasers at $1 each. Ana buys 6 pencils and 3 erasers and pays "
    "with a $20 bill. How much change does she get?"
)
STEPS = [
    "6 pencils cost 6 * 2 = 12 dollars.",
    "3 erasers cost 3 * 1 = 3 dollars.",
    "Together she spends 12 + 3 = 16 dollars.",
    "Her change is 20 - 16 = 4 dollars.",
]
# Every change to the cards, stamped with the page's clock: when each card's critique text grew, when it first
# showed a verdict, and when the summary said the critique was finished.
WATCH_CARDS_JS = """() => {
  window.__seen = {text: {}, judged: {}, final: null};
  const root = document.querySelector('#critique-cards');
  const look = () => {
    const now = performance.now(), seen = window.__seen;
    for (const card of root.querySelectorAll('.step-card')) {
      const critique = card.querySelector('.step-critique');
      const length = critique ? critique.innerText.length : 0;
      const lengths = seen.text[card.id] = seen.text[card.id] || [];
      if (length && lengths[lengths.length - 1] !== length) lengths.push(length);
      const judged = card.classList.contains('verdict-correct') || card.classList.contains('verdict-incorrect');
      if (judged && !(card.id in seen.judged)) seen.judged[card.id] = now;
    }
    const summary = root.querySelector('.critic-summary');
    if (summary && !summary.classList.contains('running') && seen.final === null) seen.final = now;
  };
  new MutationObserver(look).observe(root, {subtree: true, childList: true, attributes: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def served_defaults(tmp_path_factory: pytest.TempPathFactory, embedded_model_dir: Path) -> Iterator[Served]:
    """`critic serve` as a person starts it: every default (auto backend, embedded model, worker, warm-up)."""
    # CRITIC_MODELS_DIR is where `embedded_model_dir` converted the embedded model once.
    with critic_serve(
        tmp_path_factory.mktemp("served-defaults"),
        {},
        drop=("CRITIC_BACKEND", "CRITIC_MODEL"),
        warm_up=True,
        log_name="journey-streaming-serve.log",
    ) as served:
        yield served


def test_step_cards_stream_as_the_critic_writes_them(served_defaults: Served, browser) -> None:
    page = page_as(browser, served_defaults, "admin", ADMIN_PASSWORD)
    fill(page, "#critique-problem", PROBLEM)
    fill(page, "#critique-solution", "\n".join(STEPS))
    page.set_viewport_size({"width": 1280, "height": 2000})  # the whole card list on screen
    page.evaluate(WATCH_CARDS_JS)
    page.click("#critique-run")
    page.wait_for_function("() => 'step-1' in window.__seen.judged", timeout=1_800_000)
    shot(page, "streaming-step-1-judged")  # what a person sees then: step 1 judged, the rest still being written
    # A person sees the card, not the loading cover Gradio may draw over an output while its event runs.
    assert page.locator("#step-1 .badge-correct, #step-1 .badge-incorrect").first.is_visible()
    page.wait_for_function("() => window.__seen.final !== null", timeout=1_800_000)
    seen: dict[str, Any] = page.evaluate("() => window.__seen")
    shot(page, "streaming-finished")
    judged = seen["judged"]
    assert "step-1" in judged, f"step 1's card never showed a verdict while the critique ran: {seen}"
    # Step 1's card had its verdict while the critic was still writing: before the critique was finished and before
    # the last judged step had its verdict.
    last = max(judged, key=judged.get)
    assert judged["step-1"] < seen["final"]
    assert last == "step-1" or judged["step-1"] < judged[last], seen
    # Its critique text grew on the page, piece by piece, before the verdict came.
    assert len(seen["text"]["step-1"]) >= 3, f"step 1's critique arrived in fewer than 3 pieces: {seen['text']}"
    wait_text(page, "#critique-cards", "Model: embedded")
    note = page.locator("#model-note")
    assert note.is_visible() and page.locator("#model-note").count() == 1
    assert "its judgements are suggestions; the checker's proofs are reliable" in note.inner_text()


def _provenance_result(model: str) -> CritiqueResult:
    """A finished critique showing each verdict source, as the core fills them (checker first, model's doubt)."""
    steps = [
        StepResult(
            index=1,
            text="First find what she spends, then take it from the $20 she pays.",
            verdict="correct",
            critique=r"A plan: the change is $20 - \text{cost}$.",
            p_correct=0.88,
            model_verdict="correct",
            verdict_source="model",
        ),
        StepResult(
            index=2,
            text=STEPS[0],
            verdict="correct",
            critique=r"Indeed $6 \times 2 = 12$.",
            p_correct=0.91,
            model_verdict="correct",
            verdict_source="both",
            check=StepCheck(status="verified", detail="6 * 2 = 12 holds"),
        ),
        StepResult(
            index=3,
            text=STEPS[1],
            verdict="correct",
            critique="The erasers may cost more.",
            p_correct=0.44,
            model_verdict="incorrect",
            verdict_source="checker",
            check=StepCheck(status="verified", detail="3 * 1 = 3 holds"),
        ),
        StepResult(
            index=4,
            text=STEPS[2],
            verdict="incorrect",
            critique="The total adds both costs.",
            p_correct=0.62,
            model_verdict="correct",
            verdict_source="checker",
            check=StepCheck(status="wrong", detail="12 + 3 = 16 is false; 12 + 3 = 15"),
        ),
        StepResult(index=5, text=STEPS[3], verdict="unchecked"),
    ]
    return CritiqueResult(problem=PROBLEM, steps=steps, first_error_step=4, model=model, backend="auto:transformers")


class ProvenanceCritic:
    """Stands in for the core critic: streams the pending cards, then the provenance result."""

    def __init__(self, backend: Any, model: str) -> None:
        self.backend = backend
        self.model = model

    def stream(self, item: SolutionItem, **_options: Any) -> Iterator[CritiqueResult]:
        yield _provenance_result(self.model)


def test_cards_say_where_each_verdict_comes_from_and_the_embedded_model_note_is_readable(web, browser) -> None:
    model = str(MODEL_CACHE / "smollm2-135m-instruct")  # the embedded model's converted copy, by its path
    # The page's backend picker offers real backends only: the stand-in critic answers for `transformers`.
    web.ctx.default_model, web.ctx.default_backend = model, "transformers"
    scripted = web.ctx._critics[("scripted", "scripted", "single")]
    web.ctx._critics[(model, "transformers", "single")] = ProvenanceCritic(scripted.backend, model)  # type: ignore[assignment]
    with running_app(web.ctx) as url:
        page = page_as(browser, Served(url=url, database_url=web.url, home=Path()), "admin", "pw-admin")
        fill(page, "#critique-problem", PROBLEM)
        fill(page, "#critique-solution", "\n".join(["Plan.", *STEPS]))
        page.click("#critique-run")
        wait_text(page, "#critique-cards", "First wrong step: 4")
        lines = [page.locator(f"#step-{i} .step-source") for i in range(1, 5)]
        assert all(line.is_visible() for line in lines)
        assert lines[0].inner_text() == (
            "From the model's judgement, P(correct) = 0.88; the checker proves nothing here."
        )
        assert lines[1].inner_text() == (
            "The checker's proof and the model agree: 6 * 2 = 12 holds. Model P(correct) = 0.91."
        )
        assert lines[2].inner_text() == (
            "From the checker's proof: 3 * 1 = 3 holds. The model doubts this step, P(correct) = 0.44."
        )
        assert lines[3].inner_text() == (
            "From the checker's proof: 12 + 3 = 16 is false; 12 + 3 = 15. The model had judged it correct, "
            "P(correct) = 0.62."
        )
        assert page.locator("#step-5 .step-source").count() == 0
        assert page.locator("#step-2 .katex").count() >= 1, "the critique's LaTeX is drawn"
        note = page.locator("#model-note")
        assert note.is_visible() and "checker's proofs are reliable" in note.inner_text()
        page.click("#model-note summary")
        howto = page.locator("#model-note .model-howto")
        assert "CRITIC_BACKEND=openai" in howto.inner_text() and "docs/serving.md" in howto.inner_text()
        shot(page, "provenance")
