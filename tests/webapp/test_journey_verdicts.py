"""The pencils example in the browser, every default (embedded model): the checker's proof decides the first wrong
step, and the model's doubt on an earlier step does not hide it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.served_critiques import PENCILS_PROBLEM, PENCILS_STEPS
from tests.webapp.journey import (
    ADMIN_PASSWORD,
    OPEN_PAGES,
    Served,
    critic_serve,
    fill,
    page_as,
    shot,
    wait_text,
)

# A real model on 2 CPU cores: these journeys may outlast the default per-test limit on a busy machine.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def served_embedded(tmp_path_factory: pytest.TempPathFactory, embedded_model_dir: Path) -> Iterator[Served]:
    """`critic serve` with every default model setting (the embedded model) on a fresh home and database."""
    # transformers: the auto backend's first answer on a cold machine (no vLLM server yet).
    env = {"CRITIC_BACKEND": "transformers"}
    with critic_serve(
        tmp_path_factory.mktemp("served-verdicts"), env, drop=("CRITIC_MODEL",), log_name="journey-verdicts-serve.log"
    ) as served:
        yield served


def test_the_checker_proof_names_the_first_wrong_step_in_the_pencils_example(
    served_embedded: Served,
    browser,  # noqa: F811
) -> None:
    page = page_as(browser, served_embedded, "admin", ADMIN_PASSWORD)
    fill(page, "#critique-problem", PENCILS_PROBLEM)
    fill(page, "#critique-solution", "\n".join(f"Step {i}: {s}" for i, s in enumerate(PENCILS_STEPS, start=1)))
    page.click("#critique-run")
    wait_text(page, "#critique-cards", "First wrong step", timeout=600_000)
    page.wait_for_selector("#critique-save-labels", state="visible", timeout=600_000)  # the final result is shown
    cards = page.inner_text("#critique-cards")
    shot(page, "verdicts-pencils")
    assert "First wrong step: 3" in cards, cards
    assert "First wrong step: 2" not in cards
    assert "12 + 3 = 16 is false (12 + 3 = 15)" in cards, "the checker's reason is on step 3"
    OPEN_PAGES.clear()
    page.context.close()
