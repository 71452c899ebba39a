"""The one interface every generation backend (transformers, openai, vllm) implements."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from core.grammar import Constraint

Messages = list[dict[str, str]]
"""A chat: [{"role": "system"|"user"|"assistant", "content": str}, ...]."""


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings shared by all backends."""

    max_new_tokens: int = 512
    temperature: float = 0.0  # 0 means greedy decoding
    top_p: float = 1.0
    n: int = 1  # samples per prompt
    seed: int | None = None
    repetition_penalty: float = 1.0  # > 1 discourages tokens already in the prompt or the text (vLLM/HF sense)
    logprobs: int = 0  # > 0: return that many most likely alternatives at every generated token


@dataclass(frozen=True)
class TokenLogprobs:
    """One generated token: its text and the most likely alternatives at its position, as (text, log-probability)."""

    text: str
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Generation:
    """One generated completion."""

    text: str
    completion_tokens: int
    finish_reason: str = "stop"  # "stop" or "length"
    tokens: tuple[TokenLogprobs, ...] = ()  # filled when GenerationParams.logprobs > 0 and the engine reports them
    constrained: bool = False  # the engine enforced the prompt's Constraint while generating this text


class StreamedText(str):
    """A piece of streamed text that knows when it was generated (`time.time()` of its last token).

    A plain `str` for every consumer; the critic reads `generated_at` to say when each step's judgement was
    written, so the time from generation to the card on screen can be measured (bench/streaming.py).
    """

    generated_at: float

    def __new__(cls, text: str, generated_at: float | None = None) -> StreamedText:
        piece = super().__new__(cls, text)
        piece.generated_at = time.time() if generated_at is None else generated_at
        return piece


def constraints_per_prompt(
    prompts: Sequence[Messages], params: GenerationParams, constraints: Sequence[Constraint | None] | None
) -> list[Constraint | None]:
    """Check a generate() call's arguments and give one constraint (or None) per prompt."""
    if params.n < 1:
        from core.errors import ConfigError

        raise ConfigError(f"the number of samples must be at least 1, got {params.n}")
    if constraints is not None and len(constraints) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(constraints)} constraints: give one per prompt (or None)")
    return list(constraints) if constraints is not None else [None] * len(prompts)


class Backend(ABC):
    """Generates chat completions. Implementations batch or parallelise internally."""

    name: str = "base"
    supports_constraints: bool = False
    """Whether `generate`/`stream` take `constraints` (an engine that enforces a Constraint while generating)."""

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    def generate(
        self,
        prompts: Sequence[Messages],
        params: GenerationParams,
        constraints: Sequence[Constraint | None] | None = None,
    ) -> list[list[Generation]]:
        """Return `params.n` generations for every prompt, in prompt order.

        `constraints` (one per prompt, only passed to backends with `supports_constraints`) limits what each
        prompt's completions may say; each Generation's `constrained` tells whether the engine enforced it.
        """
        if not prompts:
            return []
        return self._generate(list(prompts), params, constraints_per_prompt(prompts, params, constraints))

    @abstractmethod
    def _generate(
        self, prompts: list[Messages], params: GenerationParams, constraints: list[Constraint | None]
    ) -> list[list[Generation]]:
        """`generate` for a non-empty batch whose arguments are checked: one constraint (or None) per prompt."""

    def stream(
        self, prompt: Messages, params: GenerationParams, constraint: Constraint | None = None
    ) -> Iterator[str | Generation]:
        """Yield text chunks of one completion as they are produced, then the whole Generation (tokens, flags).

        Engines that stream yield each chunk as a `StreamedText` stamped with the time it was generated; this
        fallback, for engines that cannot stream, yields the whole text once it is written."""
        if constraint is not None and self.supports_constraints:
            generation = self.generate([prompt], replace(params, n=1), [constraint])[0][0]
        else:
            generation = self.generate([prompt], replace(params, n=1))[0][0]
        yield StreamedText(generation.text)
        yield generation

    @property
    def serves_concurrently(self) -> bool:
        """Whether overlapping calls run together (a server batching them); False: callers should queue."""
        return False

    def prepare_for_traffic(self) -> None:  # noqa: B027 - optional hook: most backends are ready once built
        """Called once by long-lived processes (the web app) so the first users do not wait for a warm-up."""

    def close(self) -> None:  # noqa: B027 - optional hook: most backends hold nothing to release
        """Release resources (servers, worker processes)."""
