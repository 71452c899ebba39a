"""The critic: prompt -> backend -> parse -> vote, for many items at once (single or deliberate mode) or streamed."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from core.backends.base import Backend, Generation, GenerationParams, Messages
from core.confidence import combined_first_error_probability, first_error_probability, judgement_confidences
from core.config import MaxNewTokens, SamplingConfig, Temperature
from core.errors import ConfigError
from core.grammar import Constraint, GrammarProfileName, critique_constraint, step_constraint
from core.parsing import parse_critique, parse_step_critique
from core.prompts import (
    critique_messages,
    in_depth_critique_messages,
    initial_critique_messages,
    merge_critique_messages,
)
from core.settings import get_settings
from core.symbolic import SolutionCheck, check_solution, with_checker_verdicts
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
# Alternatives kept per generated token: at a judgement the grammar allows only `1` and `-`, so two would do;
# a few more cost nothing and keep the probability readable from servers that apply the grammar after logprobs.
JUDGEMENT_LOGPROBS = 5
REFUSED_GRAMMAR_NOTE = "the generation server refused the critique grammar: this critique was generated unconstrained"


def _default_max_new_tokens() -> int:
    return get_settings().max_new_tokens


def _default_constrained() -> str:
    return get_settings().constrained


def _default_grammar() -> str:
    return get_settings().grammar


# Without a grammar a small model loops; under one every text part is bounded, and a penalty there would also hit the
# judgement tokens ("1" is in every "Step 1" and `\boxed{1}`), biasing verdicts towards -1.
UNCONSTRAINED_REPETITION_PENALTY = 1.1


class CriticSampling(SamplingConfig):
    """How a critic samples: mode, voted samples and the sampling fields (also what an evaluation run sets)."""

    mode: Mode = Field(
        "single", description="single: one DeepCritic generation per sample; deliberate: three calls per step."
    )
    samples: int = Field(1, ge=1, le=64, description="Samples per item for Maj@k voting (k); 1 disables voting.")
    max_new_tokens: MaxNewTokens = Field(
        default_factory=_default_max_new_tokens, description="Generation budget per model call."
    )
    temperature: Temperature | None = Field(
        None, description="Sampling temperature; default 0 (greedy) for 1 sample, 0.7 for several."
    )
    all_steps: bool = Field(
        False,
        description="Judge every step instead of stopping at the first wrong one (step-level measurements; the "
        "checker's proven step is then not forced, so every judgement is the model's own).",
    )

    @model_validator(mode="after")
    def _voting_needs_sampling(self) -> Self:
        if self.samples > 1 and self.temperature == 0:
            raise ValueError("samples > 1 needs temperature > 0 (greedy samples are identical); omit temperature")
        return self

    @property
    def effective_temperature(self) -> float:
        if self.temperature is not None:
            return self.temperature
        return DEFAULT_SAMPLING_TEMPERATURE if self.samples > 1 else 0.0

    def critic_options(self) -> dict[str, Any]:
        """The values set here, as options of `Critic.create` (unset ones keep the critic's defaults)."""
        return self.model_dump(include=set(CriticSampling.model_fields), exclude_none=True)


class CriticConfig(CriticSampling):
    """How the critic generates: mode, number of voted samples, sampling settings and the format grammar."""

    config_name = "critic setting"
    keep_none = frozenset({"temperature"})

    constrained: Literal["auto", "on", "off"] = Field(
        default_factory=_default_constrained,
        description="Enforce the critique format with a grammar: auto = where the backend can, on = or fail, off.",
    )
    grammar: Literal["auto", "tight", "structure"] = Field(
        default_factory=_default_grammar,
        description="Grammar profile: tight (one bounded sentence per part, small models), structure (free text "
        "with LaTeX between fixed labels), auto = tight for the embedded model and models under 1B parameters.",
    )
    repetition_penalty: float | None = Field(
        None,
        ge=1.0,
        le=2.0,
        description=f"Penalty on tokens already written (1 = none); default none under a grammar (it bounds every "
        f"part) and {UNCONSTRAINED_REPETITION_PENALTY} without one (keeps small models from looping).",
    )
    critic: Literal["combined", "llm"] = Field(
        "combined",
        description="combined: the symbolic checker runs first, its findings go into the prompt and the first step "
        "it proves wrong is the first error; llm: the model alone.",
    )

    def params(self, n: int = 1, *, constrained: bool = False) -> GenerationParams:
        penalty = self.repetition_penalty
        if penalty is None:
            penalty = 1.0 if constrained else UNCONSTRAINED_REPETITION_PENALTY
        return replace(
            super().params(n),
            temperature=self.effective_temperature,
            repetition_penalty=penalty,
            logprobs=JUDGEMENT_LOGPROBS,
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
    p_correct = _mean_step_confidences(parsed, num_steps)
    steps: list[StepResult] = []
    for index, (text, verdict) in enumerate(zip(item.steps, outcome.verdicts, strict=True), start=1):
        parsed_step = source_steps.get(index, ParsedStep(index=index, parse_status="failed"))
        # The model's own verdict is what its text judged (a -1 before the answer's step is its doubt there);
        # a step it did not judge takes the verdict its answer implies.
        own = parsed_step.verdict if parsed_step.verdict != "unchecked" else verdict
        steps.append(
            StepResult(
                index=index,
                text=text,
                verdict=verdict,
                critique=parsed_step.critique,
                meta_critique=parsed_step.meta_critique,
                vote_share=outcome.vote_shares[index - 1] if len(parsed) > 1 else None,
                parse_status=parsed_step.parse_status,
                p_correct=p_correct[index - 1],
                model_verdict=own,
                verdict_source=None if verdict == "unchecked" else "model",
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
        first_error_probability=first_error_probability(p_correct, outcome.first_error_step),
    )


def _mean_step_confidences(parsed: Sequence[ParsedCritique], num_steps: int) -> list[float | None]:
    """Per step, the mean P(correct) over the samples that judged it (None where no sample gave one)."""
    means: list[float | None] = []
    for index in range(1, num_steps + 1):
        values = [s.p_correct for p in parsed for s in p.steps if s.index == index and s.p_correct is not None]
        means.append(sum(values) / len(values) if values else None)
    return means


def with_confidences(parsed: ParsedCritique, generation: Generation) -> ParsedCritique:
    """The parsed sample with each judged step's P(correct), read from the generation's token alternatives."""
    confidences = judgement_confidences(generation.tokens)
    if not confidences:
        return parsed
    steps = [s.model_copy(update={"p_correct": confidences.get(s.index)}) for s in parsed.steps]
    return parsed.model_copy(update={"steps": steps})


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


def _enforced(generation: Generation, constraint: Constraint) -> Generation:
    """The generation, no longer marked constrained if its text breaks the pattern: an engine that took the grammar
    without enforcing it (a server ignoring unknown request fields) is caught here."""
    if not generation.constrained or constraint.matches(generation.text):
        return generation
    return replace(generation, constrained=False)


def _judgement_times(judged_at: dict[int, float]) -> dict[str, float]:
    """Each streamed step's judgement time as timings entries: `judged_step_N_at` (wall clock, time.time())."""
    return {f"judged_step_{index}_at": at for index, at in sorted(judged_at.items())}


_SampleKey = tuple[int, int, int]
"""(item number, step index, sample number) in a deliberate critique."""


@dataclass
class _Deliberation:
    """What the three deliberate rounds have written so far for a batch of items."""

    items: list[SolutionItem]
    constrained: bool
    started: float = field(default_factory=time.perf_counter)
    texts: dict[str, dict[_SampleKey, str]] = field(
        default_factory=lambda: {"initial": {}, "in_depth": {}, "merged": {}}
    )
    confidences: dict[_SampleKey, float | None] = field(default_factory=dict)
    produced: list[list[Generation]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.produced = [[] for _ in self.items]


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

    def constrains(self, config: CriticConfig | None = None) -> bool:
        """Whether critiques are generated under the format's grammar with this backend and config."""
        setting = (config or self.config).constrained
        if setting == "off":
            return False
        if self.backend.supports_constraints:
            return True
        if setting == "on":
            raise ConfigError(
                f"the {self.backend.name} backend cannot enforce the critique format (CRITIC_CONSTRAINED=on): use the "
                "transformers, vllm, openai or auto backend, or set CRITIC_CONSTRAINED=auto"
            )
        return False

    def _generate(
        self, prompts: list[Messages], params: GenerationParams, constraints: list[Constraint] | None
    ) -> list[list[Generation]]:
        if not constraints:
            return self.backend.generate(prompts, params)
        outputs = self.backend.generate(prompts, params, constraints)
        return [[_enforced(g, c) for g in gens] for gens, c in zip(outputs, constraints, strict=True)]

    def _stream(self, prompt: Messages, params: GenerationParams, constraint: Constraint | None) -> Iterator[Any]:
        if constraint is None:
            return self.backend.stream(prompt, params)
        return self.backend.stream(prompt, params, constraint)

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

    def grammar_profile(self, config: CriticConfig | None = None) -> GrammarProfileName:
        """The grammar profile critiques are held to: the setting, or under auto the one that fits the model's size."""
        setting = (config or self.config).grammar
        if setting != "auto":
            return setting
        from core.models import default_grammar_profile

        return "tight" if default_grammar_profile(self.model_name) == "tight" else "structure"

    def _checks(self, item: SolutionItem, config: CriticConfig) -> SolutionCheck | None:
        """The symbolic checker's view, before the model writes (the combined critic only)."""
        return check_solution(item.steps, item.answer) if config.critic == "combined" else None

    def _request(
        self, item: SolutionItem, config: CriticConfig, check: SolutionCheck | None, constrained: bool
    ) -> tuple[Messages, Constraint | None]:
        """One item's single-mode prompt (the checker's findings as feedback) and its grammar (None: unconstrained).

        Under the grammar the first step the checker proved wrong is judged -1 (except when every step is judged
        for measurement: there the model's judgement of each step stays its own)."""
        profile = self.grammar_profile(config)
        findings = []
        if check is not None:
            findings = [(i, c.status, c.detail) for i, c in enumerate(check.steps, start=1) if c.status != "unchecked"]
        prompt = critique_messages(
            item.problem, item.steps, profile=profile, findings=findings, all_steps=config.all_steps
        )
        if not constrained:
            return prompt, None
        proven = [] if check is None or check.first_error_step == NO_ERROR else [check.first_error_step]
        constraint = critique_constraint(
            len(item.steps),
            config.max_new_tokens,
            profile=profile,
            proven_wrong=[] if config.all_steps else proven,
            all_steps=config.all_steps,
        )
        return prompt, constraint

    def _single(self, items: list[SolutionItem], config: CriticConfig) -> list[CritiqueResult]:
        started = time.perf_counter()
        constrained = self.constrains(config)
        requests = [self._request(i, config, self._checks(i, config), constrained) for i in items]
        prompts = [prompt for prompt, _ in requests]
        constraints = [c for _, c in requests if c is not None] if constrained else None
        outputs = self._generate(prompts, config.params(config.samples, constrained=constrained), constraints)
        generated = time.perf_counter()
        results = []
        for item, generations in zip(items, outputs, strict=True):
            parse_start = time.perf_counter()
            parsed = [
                with_confidences(parse_critique(g.text, len(item.steps), all_steps=config.all_steps), g)
                for g in generations
            ]
            timings = {
                "generate_s": generated - started,
                "parse_s": time.perf_counter() - parse_start,
                "total_s": time.perf_counter() - started,
            }
            results.append(self._result(item, parsed, config, timings, generations, asked_constraint=bool(constraints)))
        return results

    def _result(
        self,
        item: SolutionItem,
        parsed: Sequence[ParsedCritique],
        config: CriticConfig,
        timings: dict[str, float],
        generations: Sequence[Generation],
        *,
        asked_constraint: bool,
        finished: bool = True,
    ) -> CritiqueResult:
        result = assemble_result(
            item,
            parsed,
            model=self.model_name,
            backend=self.backend.name,
            mode=config.mode,
            timings=timings,
            completion_tokens=sum(g.completion_tokens for g in generations),
            finished=finished,
        )
        return self._finish(item, result, config, generations, asked_constraint)

    def _finish(
        self,
        item: SolutionItem,
        result: CritiqueResult,
        config: CriticConfig,
        generations: Sequence[Generation],
        asked_constraint: bool,
    ) -> CritiqueResult:
        """Record how the result was made and, for the combined critic, apply the symbolic checker's proofs; the
        first-error probability is then that of the combined answer."""
        constrained = asked_constraint and bool(generations) and all(g.constrained for g in generations)
        notes = list(result.notes)
        if asked_constraint and not constrained:
            notes.append(REFUSED_GRAMMAR_NOTE)
        grammar = self.grammar_profile(config) if constrained else None
        result = result.model_copy(
            update={"constrained": constrained, "notes": notes, "critic": config.critic, "grammar": grammar}
        )
        if config.critic == "combined":
            forced = constrained and config.mode == "single" and not config.all_steps
            result = with_checker_verdicts(result, item.answer, forced_step=forced)
        return result.model_copy(update={"first_error_probability": combined_first_error_probability(result)})

    def _deliberate_rounds(self, items: list[SolutionItem], config: CriticConfig) -> Iterator[list[CritiqueResult]]:
        # Every step of every item is reviewed in parallel (each prompt shows only the steps up to its own),
        # so each of the three rounds is one batched backend call; the last yield is the final result.
        state = _Deliberation(items, self.constrains(config))
        k = config.samples
        keys = [(n, s) for n, item in enumerate(items) for s in range(1, len(item.steps) + 1)]
        initial = [initial_critique_messages(items[n].problem, items[n].steps, s) for n, s in keys]
        self._deliberate_round(state, config, "initial", initial, k, [(n, s, 0) for n, s in keys])
        yield self._deliberate_snapshot(state, config, finished=False)
        chains = [(n, s, sample) for n, s in keys for sample in range(k)]
        first = state.texts["initial"]
        in_depth = [
            in_depth_critique_messages(items[n].problem, items[n].steps, s, first[(n, s, sample)])
            for n, s, sample in chains
        ]
        self._deliberate_round(state, config, "in_depth", in_depth, 1, chains)
        yield self._deliberate_snapshot(state, config, finished=False)
        second = state.texts["in_depth"]
        merged = [
            merge_critique_messages(items[n].problem, items[n].steps, s, first[(n, s, sample)], second[(n, s, sample)])
            for n, s, sample in chains
        ]
        self._deliberate_round(state, config, "merged", merged, 1, chains)
        yield self._deliberate_snapshot(state, config, finished=True)

    def _deliberate_round(
        self,
        state: _Deliberation,
        config: CriticConfig,
        round_name: str,
        prompts: list[Messages],
        n: int,
        owners: list[_SampleKey],
    ) -> None:
        """Generate one round (`n` samples per prompt) in one batched call and record it under its owners."""
        round_start = time.perf_counter()
        profile = self.grammar_profile(config)
        constraints = (
            [step_constraint(s, config.max_new_tokens, profile=profile) for _, s, _ in owners]
            if state.constrained
            else None
        )
        outputs = self._generate(prompts, config.params(n, constrained=state.constrained), constraints)
        for (item_no, step, sample), generations in zip(owners, outputs, strict=True):
            for offset, generation in enumerate(generations[:n]):
                key = (item_no, step, sample + offset)
                state.texts[round_name][key] = generation.text
                state.produced[item_no].append(generation)
                if round_name == "merged":
                    state.confidences[key] = judgement_confidences(generation.tokens).get(step)
        state.timings[f"{round_name}_s"] = time.perf_counter() - round_start

    def _deliberate_snapshot(self, state: _Deliberation, config: CriticConfig, finished: bool) -> list[CritiqueResult]:
        """Every item's result from the rounds written so far (steps of later rounds read as missing)."""
        results = []
        for n, item in enumerate(state.items):
            parsed = []
            for sample in range(config.samples):
                chain = [
                    [state.texts[r].get((n, s, sample), "") for s in range(1, len(item.steps) + 1)]
                    for r in ("initial", "in_depth", "merged")
                ]
                sample_critique = deliberate_sample(item, *chain)
                steps = [
                    step.model_copy(update={"p_correct": state.confidences.get((n, step.index, sample))})
                    for step in sample_critique.steps
                ]
                parsed.append(sample_critique.model_copy(update={"steps": steps}))
            result = assemble_result(
                item,
                parsed,
                model=self.model_name,
                backend=self.backend.name,
                mode="deliberate",
                timings={**state.timings, "total_s": time.perf_counter() - state.started},
                completion_tokens=sum(g.completion_tokens for g in state.produced[n]),
                finished=finished,
            )
            results.append(self._finish(item, result, config, state.produced[n], state.constrained))
        return results

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
        prompt, constraint = self._request(item, config, self._checks(item, config), self.constrains(config))
        text = ""
        first: Generation | None = None
        judged_at: dict[int, float] = {}
        for chunk in self._stream(prompt, config.params(1, constrained=constraint is not None), constraint):
            if isinstance(chunk, Generation):
                first = _enforced(chunk, constraint) if constraint else chunk
                continue
            if not chunk:
                continue
            text += chunk
            partial = parse_critique(text, len(item.steps), all_steps=config.all_steps)
            for step in partial.steps:
                if step.verdict != "unchecked" and step.index not in judged_at:
                    judged_at[step.index] = getattr(chunk, "generated_at", None) or time.time()
            yield self._streaming_view(item, partial, config, time.perf_counter() - started, judged_at)
        first_done = time.perf_counter()
        if first is None:  # a backend that streams text only
            first = Generation(text=text, completion_tokens=self._count_tokens(text))
        generations: list[Generation] = [first]
        if config.samples > 1:
            constraints = [constraint] if constraint else None
            more = self._generate(
                [prompt], config.params(config.samples - 1, constrained=bool(constraints)), constraints
            )[0]
            generations.extend(more)
        parsed = [
            with_confidences(parse_critique(g.text, len(item.steps), all_steps=config.all_steps), g)
            for g in generations
        ]
        timings = {"generate_s": time.perf_counter() - started, "first_sample_s": first_done - started}
        timings["total_s"] = time.perf_counter() - started
        timings.update(_judgement_times(judged_at))
        yield self._result(item, parsed, config, timings, generations, asked_constraint=constraint is not None)

    def _count_tokens(self, text: str) -> int:
        count = getattr(self.backend, "count_tokens", None)
        return int(count(text)) if callable(count) else 0

    def _streaming_view(
        self,
        item: SolutionItem,
        partial: ParsedCritique,
        config: CriticConfig,
        elapsed: float,
        judged_at: dict[int, float] | None = None,
    ) -> CritiqueResult:
        # While text streams, show each step as the model judged it so far (not yet the voted verdicts).
        # `judged_step_N_at`: the wall-clock time (time.time()) the engine generated step N's judgement, so a reader
        # of the stream can tell how long the verdict took to reach them.
        timings = {"elapsed_s": elapsed, **_judgement_times(judged_at or {})}
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
            timings=timings,
            raw_outputs=[partial.raw],
            finished=False,
            critic=config.critic,
        )

    def close(self) -> None:
        self.backend.close()


__all__ = ["Critic", "CriticConfig", "assemble_result", "deliberate_sample", "verdicts_for", "with_confidences"]
