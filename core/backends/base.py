"""The one interface every generation backend (transformers, openai, vllm) implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Generation:
    """One generated completion."""

    text: str
    completion_tokens: int
    finish_reason: str = "stop"  # "stop" or "length"


class Backend(ABC):
    """Generates chat completions. Implementations batch or parallelise internally."""

    name: str = "base"

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    @abstractmethod
    def generate(self, prompts: Sequence[Messages], params: GenerationParams) -> list[list[Generation]]:
        """Return `params.n` generations for every prompt, in prompt order."""

    def stream(self, prompt: Messages, params: GenerationParams) -> Iterator[str]:
        """Yield text chunks of one greedy/sampled completion as they are produced."""
        yield self.generate([prompt], GenerationParams(**{**params.__dict__, "n": 1}))[0][0].text

    @property
    def serves_concurrently(self) -> bool:
        """Whether overlapping calls run together (a server batching them); False: callers should queue."""
        return False

    def prepare_for_traffic(self) -> None:  # noqa: B027 - optional hook: most backends are ready once built
        """Called once by long-lived processes (the web app) so the first users do not wait for a warm-up."""

    def close(self) -> None:  # noqa: B027 - optional hook: most backends hold nothing to release
        """Release resources (servers, worker processes)."""
