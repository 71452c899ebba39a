"""Constrained decoding for in-process transformers: llguidance's matcher as a transformers logits processor.

llguidance (the engine vLLM also offers for structured outputs) compiles a Constraint's pattern against the model's
tokenizer and tells, after every token, which tokens may come next; this processor masks the others out of each
row's scores. It also records the most likely tokens at every position (after masking), from which the critic
reads each judgement's probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from core.errors import BackendUnavailableError
from core.grammar import Constraint


def llguidance_tokenizer(tokenizer: Any, vocab_size: int, eos_ids: Sequence[int]) -> Any:
    """The llguidance view of a fast Hugging Face tokenizer (built once per backend: it takes about a second)."""
    try:
        import llguidance.hf
    except ImportError as exc:  # a dependency of the project: only a broken install lacks it
        raise BackendUnavailableError(
            "constrained decoding needs llguidance (`pip install llguidance`); or set CRITIC_CONSTRAINED=off"
        ) from exc
    return llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab_size, eos_token=list(eos_ids))


@lru_cache(maxsize=256)
def _grammar(regex: str) -> str:
    import llguidance

    return llguidance.LLMatcher.grammar_from_regex(regex)


class GrammarLogitsProcessor:
    """A transformers LogitsProcessor: row r of the batch may only continue its own Constraint (None = free).

    `prompt_length` is the padded prompt width of the batch: the tokens after it are the generated ones. Rows whose
    grammar is complete may only end (the matcher allows nothing but end-of-sequence); rows already ended are left
    alone. `top_logprobs` > 0 records, per row and generated position, that many (token id, log-probability) pairs.
    """

    def __init__(
        self,
        ll_tokenizer: Any,
        constraints: Sequence[Constraint | None],
        prompt_length: int,
        top_logprobs: int = 0,
        *,
        repetition_penalty: float = 1.0,
        temperature: float = 0.0,
        top_p: float = 1.0,
    ) -> None:
        import llguidance

        self.prompt_length = prompt_length
        self.top_logprobs = top_logprobs
        self.repetition_penalty = repetition_penalty
        self.temperature = temperature
        self.top_p = top_p
        self.matchers: list[Any] = []
        for constraint in constraints:
            if constraint is None:
                self.matchers.append(None)
                continue
            matcher = llguidance.LLMatcher(ll_tokenizer, _grammar(constraint.regex), log_level=0)
            if matcher.is_error():
                raise ValueError(f"the critique pattern does not compile: {matcher.get_error()}")
            self.matchers.append(matcher)
        self.ended = [False] * len(constraints)
        self.top: list[list[tuple[list[int], list[float]]]] = [[] for _ in constraints]

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import numpy as np
        import torch

        if input_ids.shape[1] > self.prompt_length:
            for row, matcher in enumerate(self.matchers):
                if matcher is None or self.ended[row]:
                    continue
                if matcher.is_stopped() or not matcher.consume_token(int(input_ids[row, -1])):
                    self.ended[row] = True  # finished (or padding after its end): nothing left to constrain
        vocab = scores.shape[1]
        for row, matcher in enumerate(self.matchers):
            if matcher is None or self.ended[row]:
                continue
            bits = np.unpackbits(np.frombuffer(matcher.compute_bitmask(), dtype=np.uint8), bitorder="little")
            allowed = torch.from_numpy(bits[:vocab].astype(bool))
            if len(allowed) < vocab:  # model rows past the tokenizer's vocabulary are never allowed
                allowed = torch.cat([allowed, torch.zeros(vocab - len(allowed), dtype=torch.bool)])
            scores[row].masked_fill_(~allowed.to(scores.device), float("-inf"))
        if self.top_logprobs:
            # The distribution the model gives under the grammar, before penalty and temperature: what vLLM reports
            # as its raw log-probabilities, so a confidence reads the same on every backend.
            logprobs = torch.log_softmax(scores.float(), dim=-1)
            values, ids = torch.topk(logprobs, self.top_logprobs, dim=-1)
            for row in range(scores.shape[0]):
                self.top[row].append((ids[row].tolist(), values[row].tolist()))
        return self._sampling_adjustments(input_ids, scores)

    def _sampling_adjustments(self, input_ids: Any, scores: Any) -> Any:
        """Repetition penalty (on the prompt and the text so far, as transformers and vLLM apply it), then
        temperature and top-p when sampling."""
        from transformers import RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopPLogitsWarper

        if self.repetition_penalty != 1.0:
            scores = RepetitionPenaltyLogitsProcessor(self.repetition_penalty)(input_ids, scores)
        if self.temperature > 0:
            scores = TemperatureLogitsWarper(self.temperature)(input_ids, scores)
            if self.top_p < 1.0:
                scores = TopPLogitsWarper(self.top_p)(input_ids, scores)
        return scores
