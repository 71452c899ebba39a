"""The critic: prompt -> backend -> parse -> vote, for many items at once (single or deliberate mode) or streamed."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.backends.base import Backend, Generation, GenerationParams, Messages
from core.errors import ConfigError
from core.parsing import parse_critique, parse_step_critique
from core.prompts import (
    critique_messages,
    in_depth_critique_messages,
    initial_critique_messages,
    merge_critique_messages,
)
from core.settings import get_settings
from core.types import (
    NO_ERROR,
    CritiqueResult,
    Mode,
    ParsedCritique,
    ParsedStep,
    ParseStatus,
    SolutionItem,
    StepResult,
)
from core.voting import verdicts_for, vote

DEFAULT_SAMPLING_TEMPERATURE = 0.7


def _default_max_new_tokens() -> int:
    return get_settings().max_new_tokens


class CriticConfig(BaseModel):
    """How the critic generates: mode, number of voted samples and sampling settings."""

    model_config = ConfigDict(extra="forbid")

    mode: Mode = Field(
        "single", description="single: one DeepCritic generation per sample; deliberate: three calls per step."
    )
    samples: int = Field(1, ge=1, le=64, description="Samples per item for Maj@k voting (k); 1 disables voting.")
    max_new_tokens: int = Field(
        default_factory=_default_max_new_tokens, gt=0, le=32768, description="Generation budget per model call."
    )
    temperature: float | None = Field(
        None, ge=0.0, le=2.0, description="Sampling temperature; default 0 (greedy) for 1 sample, 0.7 for several."
    )
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass (only used when temperature > 0).")
    seed: int | None = Field(None, description="Random seed for sampling, for reproducible samples.")

    @model_validator(mode="after")
    def _voting_needs_sampling(self) -> CriticConfig:
        if self.samples > 1 and self.temperature == 0:
            raise ValueError("samples > 1 needs temperature > 0 (greedy samples are identical); omit temperature")
        return self

    @property
    def effective_temperature(self) -> float:
        if self.temperature is not None:
            return self.temperature
        return DEFAULT_SAMPLING_TEMPERATURE if self.samples > 1 else 0.0

    @classmethod
    def build(cls, **values: Any) -> CriticConfig:
        """Validate values into a config; a bad value raises ConfigError naming the field and the fix."""
        values = {k: v for k, v in values.items() if v is not None or k == "temperature"}
        try:
            return cls(**values)
        except ValidationError as exc:
            details = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"invalid critic setting: {details}") from exc

    def generation_params(self, n: int = 1) -> GenerationParams:
        return GenerationParams(
            max_new_tokens=self.max_new_tokens,
            temperature=self.effective_temperature,
            top_p=self.top_p,
            n=n,
            seed=self.seed,
        )


def assemble_result(
    item: SolutionItem,
    parsed: Sequence[ParsedCritique],
    *,
    model: str,
    backend: str,
    mode: Mode,
    timings: dict[str, float] | None = None,
    completion_tokens: int = 0,
    finished: bool = True,
) -> CritiqueResult:
    """Vote over parsed samples and build the public result; step texts come from a sample that agrees with the vote.

    Verdicts follow the voted first-error step: correct before it, incorrect at it, unchecked after it.
    """
    num_steps = len(item.steps)
    votes = [p.first_error_step for p in parsed]
    outcome = vote(votes, num_steps)
    representative = next((p for p in parsed if p.first_error_step == outcome.first_error_step), None)
    if representative is None:
        representative = next((p for p in parsed if p.steps), None)
    source_steps = {s.index: s for s in representative.steps} if representative else {}
    steps: list[StepResult] = []
    for index, (text, verdict) in enumerate(zip(item.steps, outcome.verdicts, strict=True), start=1):
        parsed_step = source_steps.get(index, ParsedStep(index=index, parse_status="failed"))
        steps.append(
            StepResult(
                index=index,
                text=text,
                verdict=verdict,
                critique=parsed_step.critique,
                meta_critique=parsed_step.meta_critique,
                vote_share=outcome.vote_shares[index - 1] if len(parsed) > 1 else None,
                parse_status=parsed_step.parse_status,
            )
        )
    status: ParseStatus
    if outcome.first_error_step is None:
        status = "failed"
    elif (
        representative is not None
        and representative.parse_status == "ok"
        and all(p.parse_status != "failed" for p in parsed)
    ):
        status = "ok"
    else:
        status = "partial"
    return CritiqueResult(
        id=item.id,
        problem=item.problem,
        steps=steps,
        first_error_step=outcome.first_error_step,
        votes=votes,
        model=model,
        backend=backend,
        mode=mode,
        samples=len(parsed),
        parse_status=status,
        timings=dict(timings or {}),
        raw_outputs=[p.raw for p in parsed],
        completion_tokens=completion_tokens,
        finished=finished,
    )


def _chain_transcript(initial: str, in_depth: str, merged: str, index: int) -> str:
    return (
        f"### Step {index}: initial critique\n{initial.strip()}\n\n"
        f"### Step {index}: in-depth critique\n{in_depth.strip()}\n\n"
        f"### Step {index}: merged critique\n{merged.strip()}"
    )


def deliberate_sample(
    item: SolutionItem, initial: Sequence[str], in_depth: Sequence[str], merged: Sequence[str]
) -> ParsedCritique:
    """Turn one sample's per-step chains (initial, in-depth, merged texts) into a ParsedCritique.

    The verdict comes from the merged critique; `critique` is the initial analysis and `meta_critique` the
    in-depth second look. The first error is the first step judged incorrect; an unreadable judgement before
    it makes the whole sample unreadable, since the first error cannot then be known.
    """
    steps: list[ParsedStep] = []
    problems: list[str] = []
    first_error: int | None = NO_ERROR
    for index, (first, second, final) in enumerate(zip(initial, in_depth, merged, strict=True), start=1):
        decided = parse_step_critique(final, index)
        analysis = parse_step_critique(first, index)
        second_look = parse_step_critique(second, index)
        meta = "\n\n".join(t for t in (second_look.critique, second_look.meta_critique) if t)
        steps.append(
            ParsedStep(
                index=index,
                verdict=decided.verdict,
                critique="\n\n".join(t for t in (analysis.critique, analysis.meta_critique) if t),
                meta_critique=meta,
                parse_status=decided.parse_status,
            )
        )
        if decided.parse_status == "failed":
            problems.append(f"Step {index}: merged critique has no judgement")
    for step in steps:
        if step.verdict == "incorrect":
            first_error = step.index
            break
        if step.verdict == "unchecked":
            first_error = None
            break
    reviewed = steps if first_error in (None, NO_ERROR) else steps[:first_error]
    status: ParseStatus
    if first_error is None:
        status = "failed"
    elif all(s.parse_status == "ok" for s in reviewed):
        status = "ok"
    else:
        status = "partial"
    chains = zip(initial, in_depth, merged, strict=True)
    raw = "\n\n".join(_chain_transcript(a, b, c, i) for i, (a, b, c) in enumerate(chains, start=1))
    return ParsedCritique(raw=raw, steps=steps, first_error_step=first_error, parse_status=status, problems=problems)


BACKEND_OPTIONS = ("base_url", "api_key", "device")


def split_backend_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(options for the backend: server URL, key, device; options for the critic: mode, samples, ...)."""
    backend = {k: v for k, v in options.items() if k in BACKEND_OPTIONS}
    return backend, {k: v for k, v in options.items() if k not in BACKEND_OPTIONS}


class Critic:
    """Critiques solutions with one backend. Overrides given to a call apply to that call only."""

    def __init__(self, backend: Backend, config: CriticConfig | None = None, **overrides: Any) -> None:
        base = config.model_dump() if config is not None else {}
        self.backend = backend
        self.config = CriticConfig.build(**{**base, **overrides})

    @classmethod
    def create(cls, *, model: str | None = None, backend: str | None = None, **options: Any) -> Critic:
        """Build the backend by name (defaults from Settings) and a critic on top of it."""
        from core.backends import create_backend

        settings = get_settings()
        backend_options, critic_options = split_backend_options(options)
        return cls(
            create_backend(backend or settings.backend, model or settings.model, **backend_options), **critic_options
        )

    @property
    def model_name(self) -> str:
        return str(self.backend.model_name)

    def _config(self, overrides: dict[str, Any]) -> CriticConfig:
        if not overrides:
            return self.config
        return CriticConfig.build(**{**self.config.model_dump(), **overrides})

    def critique(self, item: SolutionItem, **overrides: Any) -> CritiqueResult:
        """Critique one item (see `critique_many`)."""
        return self.critique_many([item], **overrides)[0]

    def critique_many(self, items: Sequence[SolutionItem], **overrides: Any) -> list[CritiqueResult]:
        """Critique all items; every item x sample goes to the backend in one batched call per round."""
        config = self._config(overrides)
        if not items:
            return []
        if config.mode == "deliberate":
            *_, last = self._deliberate_rounds(list(items), config)
            return last
        return self._single(list(items), config)

    def _single(self, items: list[SolutionItem], config: CriticConfig) -> list[CritiqueResult]:
        started = time.perf_counter()
        prompts = [critique_messages(i.problem, i.steps) for i in items]
        outputs = self.backend.generate(prompts, config.generation_params(config.samples))
        generated = time.perf_counter()
        results = []
        for item, generations in zip(items, outputs, strict=True):
            parse_start = time.perf_counter()
            parsed = [parse_critique(g.text, len(item.steps)) for g in generations]
            timings = {
                "generate_s": generated - started,
                "parse_s": time.perf_counter() - parse_start,
                "total_s": time.perf_counter() - started,
            }
            results.append(self._result(item, parsed, config, timings, generations))
        return results

    def _result(
        self,
        item: SolutionItem,
        parsed: Sequence[ParsedCritique],
        config: CriticConfig,
        timings: dict[str, float],
        generations: Sequence[Generation],
        *,
        finished: bool = True,
    ) -> CritiqueResult:
        return assemble_result(
            item,
            parsed,
            model=self.model_name,
            backend=self.backend.name,
            mode=config.mode,
            timings=timings,
            completion_tokens=sum(g.completion_tokens for g in generations),
            finished=finished,
        )

    def _deliberate_rounds(self, items: list[SolutionItem], config: CriticConfig) -> Iterator[list[CritiqueResult]]:
        # Every step of every item is reviewed in parallel (each prompt shows only the steps up to its own),
        # so each of the three rounds is one batched backend call; the last yield is the final result.
        started = time.perf_counter()
        k = config.samples
        keys = [(n, s) for n, item in enumerate(items) for s in range(1, len(item.steps) + 1)]
        texts: dict[str, dict[tuple[int, int, int], str]] = {"initial": {}, "in_depth": {}, "merged": {}}
        tokens = [0] * len(items)
        timings: dict[str, float] = {}

        def run(round_name: str, prompts: list[Messages], n: int, owners: list[tuple[int, int, int]]) -> None:
            round_start = time.perf_counter()
            outputs = self.backend.generate(prompts, config.generation_params(n))
            for (item_no, step, sample), generations in zip(owners, outputs, strict=True):
                for offset, generation in enumerate(generations[:n]):
                    texts[round_name][(item_no, step, sample + offset)] = generation.text
                    tokens[item_no] += generation.completion_tokens
            timings[f"{round_name}_s"] = time.perf_counter() - round_start

        def snapshot(finished: bool) -> list[CritiqueResult]:
            results = []
            for n, item in enumerate(items):
                parsed = []
                for sample in range(k):
                    chain = [
                        [texts[r].get((n, s, sample), "") for s in range(1, len(item.steps) + 1)]
                        for r in ("initial", "in_depth", "merged")
                    ]
                    parsed.append(deliberate_sample(item, *chain))
                result = assemble_result(
                    item,
                    parsed,
                    model=self.model_name,
                    backend=self.backend.name,
                    mode="deliberate",
                    timings={**timings, "total_s": time.perf_counter() - started},
                    completion_tokens=tokens[n],
                    finished=finished,
                )
                results.append(result)
            return results

        run(
            "initial",
            [initial_critique_messages(items[n].problem, items[n].steps, s) for n, s in keys],
            k,
            [(n, s, 0) for n, s in keys],
        )
        yield snapshot(False)
        chains = [(n, s, sample) for n, s in keys for sample in range(k)]
        first = texts["initial"]
        run(
            "in_depth",
            [
                in_depth_critique_messages(items[n].problem, items[n].steps, s, first[(n, s, sample)])
                for n, s, sample in chains
            ],
            1,
            chains,
        )
        yield snapshot(False)
        second = texts["in_depth"]
        run(
            "merged",
            [
                merge_critique_messages(items[n].problem, items[n].steps, s, first[key], second[key])
                for key in chains
                for n, s, _ in [key]
            ],
            1,
            chains,
        )
        yield snapshot(True)

    def stream(self, item: SolutionItem, **overrides: Any) -> Iterator[CritiqueResult]:
        """Yield partial results while the critique is written (step cards filling in); the last one is final.

        Single mode streams the first sample's text token by token, then generates the other samples in one
        batched call and votes. Deliberate mode yields after each of its three rounds.
        """
        config = self._config(overrides)
        if config.mode == "deliberate":
            for results in self._deliberate_rounds([item], config):
                yield results[0]
            return
        started = time.perf_counter()
        prompt = critique_messages(item.problem, item.steps)
        text = ""
        for chunk in self.backend.stream(prompt, config.generation_params(1)):
            if not chunk:
                continue
            text += chunk
            partial = parse_critique(text, len(item.steps))
            yield self._streaming_view(item, partial, config, time.perf_counter() - started)
        first_done = time.perf_counter()
        tokens = self._count_tokens(text)
        parsed = [parse_critique(text, len(item.steps))]
        generations: list[Generation] = [Generation(text=text, completion_tokens=tokens)]
        if config.samples > 1:
            more = self.backend.generate([prompt], config.generation_params(config.samples - 1))[0]
            generations.extend(more)
            parsed.extend(parse_critique(g.text, len(item.steps)) for g in more)
        timings = {"generate_s": time.perf_counter() - started, "first_sample_s": first_done - started}
        timings["total_s"] = time.perf_counter() - started
        yield self._result(item, parsed, config, timings, generations)

    def _count_tokens(self, text: str) -> int:
        count = getattr(self.backend, "count_tokens", None)
        return int(count(text)) if callable(count) else 0

    def _streaming_view(
        self, item: SolutionItem, partial: ParsedCritique, config: CriticConfig, elapsed: float
    ) -> CritiqueResult:
        # While text streams, show each step as the model judged it so far (not yet the voted verdicts).
        steps = [
            StepResult(
                index=s.index,
                text=text,
                verdict=s.verdict,
                critique=s.critique,
                meta_critique=s.meta_critique,
                parse_status=s.parse_status,
            )
            for s, text in zip(partial.steps, item.steps, strict=True)
        ]
        return CritiqueResult(
            id=item.id,
            problem=item.problem,
            steps=steps,
            first_error_step=partial.first_error_step,
            votes=[],
            model=self.model_name,
            backend=self.backend.name,
            mode=config.mode,
            samples=config.samples,
            parse_status=partial.parse_status,
            timings={"elapsed_s": elapsed},
            raw_outputs=[partial.raw],
            finished=False,
        )

    def close(self) -> None:
        self.backend.close()


__all__ = ["Critic", "CriticConfig", "assemble_result", "deliberate_sample", "verdicts_for"]
