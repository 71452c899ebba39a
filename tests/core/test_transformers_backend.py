"""The transformers backend on a tiny random Llama with the real SmolLM2 tokenizer: batching, samples, streaming."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.backends import GenerationParams, create_backend
from core.backends.base import StreamedText
from core.backends.transformers_backend import TransformersBackend, pick_device
from core.errors import ConfigError

PROMPTS = [
    [{"role": "user", "content": "What is 2 + 2?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Check: 18 / 3 = 6. Is it right?"}],
    [{"role": "user", "content": "A much longer question about flamingos, painted white, on Sue's front yard, twice."}],
]


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path) -> TransformersBackend:
    return TransformersBackend(str(tiny_model_dir), device="cpu", max_batch_size=4)


def test_batched_generation_returns_n_samples_per_prompt_in_order(backend: TransformersBackend) -> None:
    out = backend.generate(PROMPTS, GenerationParams(max_new_tokens=6, temperature=1.0, n=3, seed=1))
    assert [len(gens) for gens in out] == [3, 3, 3]
    for gens in out:
        for g in gens:
            assert 0 < g.completion_tokens <= 6
            assert g.finish_reason in {"stop", "length"}
    # Sampling from a random model gives different completions for the same prompt.
    assert len({g.text for g in out[0]}) > 1


def test_greedy_batched_matches_each_prompt_alone(backend: TransformersBackend) -> None:
    params = GenerationParams(max_new_tokens=8, temperature=0.0)
    together = backend.generate(PROMPTS, params)
    alone = [backend.generate([p], params)[0] for p in PROMPTS]
    assert [g[0].text for g in together] == [g[0].text for g in alone]
    assert all(g[0].completion_tokens == 8 or g[0].finish_reason == "stop" for g in together)


def test_greedy_samples_are_copies(backend: TransformersBackend) -> None:
    out = backend.generate(PROMPTS[:1], GenerationParams(max_new_tokens=5, temperature=0.0, n=2))
    assert len(out[0]) == 2 and out[0][0].text == out[0][1].text


def test_stream_yields_the_same_text_as_greedy_generate(backend: TransformersBackend) -> None:
    params = GenerationParams(max_new_tokens=10, temperature=0.0)
    *pieces, whole = list(backend.stream(PROMPTS[1], params))
    assert len(pieces) >= 2, "text should arrive in several pieces"
    assert "".join(pieces) == backend.generate([PROMPTS[1]], params)[0][0].text == whole.text
    # Each piece says when its token was generated, in order: what the time to a card on screen is measured from.
    stamps = [piece.generated_at for piece in pieces]
    assert all(isinstance(piece, StreamedText) for piece in pieces) and stamps == sorted(stamps)


def test_create_backend_by_name_and_device_choice(tiny_model_dir: Path) -> None:
    built = create_backend("transformers", str(tiny_model_dir), device="auto")
    assert built.name == "transformers" and built.device == pick_device("auto")
    assert built.count_tokens("Step 1: 2 + 2 = 4") > 0
    with pytest.raises(ConfigError, match="unknown device"):
        pick_device("tpu9")
    with pytest.raises(ConfigError, match="unknown backend"):
        create_backend("llama.cpp", "embedded")
