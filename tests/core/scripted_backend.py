"""A test double for the generator/critic backend: answers each prompt with a scripted function of its text."""

from __future__ import annotations

from collections.abc import Callable

from core.backends.base import Backend, Generation, GenerationParams, Messages
from core.grammar import Constraint

Script = Callable[[str, int], str]
"""(the prompt's text, sample index within the prompt) -> completion text."""


class ScriptedBackend(Backend):
    """Replies from a script and records every call, so tests can check prompts and batching."""

    name = "scripted"

    def __init__(self, script: Script, model_name: str = "scripted") -> None:
        super().__init__(model_name)
        self.script = script
        self.calls: list[tuple[list[Messages], GenerationParams]] = []

    def _generate(
        self, prompts: list[Messages], params: GenerationParams, constraints: list[Constraint | None]
    ) -> list[list[Generation]]:
        self.calls.append((list(prompts), params))
        out = []
        for prompt in prompts:
            text = "\n".join(m["content"] for m in prompt)
            replies = [self.script(text, i) for i in range(params.n)]
            out.append([Generation(text=r, completion_tokens=len(r.split())) for r in replies])
        return out
