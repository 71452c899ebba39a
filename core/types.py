"""Shared result types: a solution item, a parsed critique, and the critique result (docs/data-formats.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["correct", "incorrect", "unchecked"]
ParseStatus = Literal["ok", "partial", "failed"]
CheckStatus = Literal["verified", "wrong", "unchecked"]
Mode = Literal["single", "deliberate"]
VerdictSource = Literal["checker", "model", "both"]
GrammarProfile = Literal["tight", "structure"]
# PRM800K step ratings: 1 good, 0 neutral, -1 bad; None = unrated (after the first error).
StepRating = Literal[-1, 0, 1] | None
FinishReason = Literal["solution", "found_error", "give_up", "bad_problem"]
# An annotator's rating of the critique shown with an item (not of the solution): it helped find the truth, it
# helped in part (right verdict, weak or partly wrong reasons), or it pointed the wrong way.
CritiqueRating = Literal["helpful", "partly", "misleading"]

NO_ERROR = -1
"""The first-error value meaning 'every step is correct'."""


class SolutionItem(BaseModel):
    """A problem with a solution split into steps, plus what is known about it.

    `first_error_step` is 1-based like everything users see; -1 means every step is correct and
    None means unknown. ProcessBench's `label` is 0-based: convert with `from_processbench`.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = ""
    problem: str
    steps: list[str]
    first_error_step: int | None = None
    answer: str | None = Field(None, description="Ground-truth final answer, when known.")
    source: str = "upload"
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_processbench(cls, obj: dict[str, Any], *, source: str = "processbench") -> SolutionItem:
        label = obj.get("label")
        first_error = None if label is None else (NO_ERROR if int(label) < 0 else int(label) + 1)
        metadata = {k: v for k, v in obj.items() if k not in {"id", "problem", "steps", "label"}}
        return cls(
            id=str(obj.get("id", "")),
            problem=obj["problem"],
            steps=list(obj["steps"]),
            first_error_step=first_error,
            answer=obj.get("answer") or obj.get("ground_truth_answer"),
            source=source,
            metadata=metadata,
        )

    def to_processbench(self) -> dict[str, Any]:
        label = None
        if self.first_error_step is not None:
            label = NO_ERROR if self.first_error_step < 0 else self.first_error_step - 1
        out: dict[str, Any] = {"id": self.id, "problem": self.problem, "steps": list(self.steps), "label": label}
        for key in ("generator", "final_answer_correct"):
            if key in self.metadata:
                out[key] = self.metadata[key]
        return out


class ParsedStep(BaseModel):
    """One step's judgement as read from one model output."""

    index: int
    verdict: Verdict = "unchecked"
    critique: str = ""
    meta_critique: str = ""
    parse_status: ParseStatus = "ok"
    p_correct: float | None = None


class ParsedCritique(BaseModel):
    """One model output (one sample) after parsing; never raised from, whatever the text was."""

    raw: str
    steps: list[ParsedStep] = Field(default_factory=list)
    first_error_step: int | None = Field(None, description="1-based step, -1 for none, None when unreadable.")
    parse_status: ParseStatus = "failed"
    problems: list[str] = Field(default_factory=list, description="What the parser had to repair or ignore.")


class StepCheck(BaseModel):
    """The symbolic checker's view of one step."""

    status: CheckStatus = "unchecked"
    detail: str = ""


class StepResult(BaseModel):
    """One step of a critique result, as shown to users."""

    index: int = Field(description="1-based step number.")
    text: str
    verdict: Verdict
    critique: str = ""
    meta_critique: str = ""
    vote_share: float | None = Field(None, description="Share of samples agreeing with this verdict (k > 1).")
    parse_status: ParseStatus = "ok"
    check: StepCheck | None = None
    p_correct: float | None = Field(
        None, ge=0.0, le=1.0, description="The model's probability that this step is correct (mean over samples)."
    )
    model_verdict: Verdict | None = Field(
        None, description="The model's own verdict, before the symbolic checker's proofs were applied."
    )
    verdict_source: VerdictSource | None = Field(
        None,
        description="Where the shown verdict comes from: the checker's proof, the model's judgement, or both agreeing "
        "(null while streaming or for a step nobody judged).",
    )


class CritiqueResult(BaseModel):
    """A critique of one solution: the JSON the CLI writes, the database stores and the app shows."""

    id: str = ""
    problem: str
    steps: list[StepResult]
    first_error_step: int | None = Field(description="1-based first wrong step, -1 if none, null if no sample parsed.")
    votes: list[int | None] = Field(default_factory=list, description="Each sample's first-error step.")
    model: str
    model_version: str | None = Field(
        None, description="The registry version that wrote this (e.g. v3-sft-job3); null for a model outside it."
    )
    backend: str
    mode: Mode = "single"
    samples: int = 1
    parse_status: ParseStatus = "ok"
    timings: dict[str, float] = Field(default_factory=dict)
    raw_outputs: list[str] = Field(default_factory=list)
    error: str | None = Field(None, description="Why this item could not be critiqued (bad input), if so.")
    completion_tokens: int = Field(0, description="Tokens the model generated for this item, all samples and calls.")
    finished: bool = Field(True, description="False on the partial results yielded while a critique streams.")
    first_error_probability: float | None = Field(
        None, description="The model's probability of its own first-error answer (from the step probabilities)."
    )
    constrained: bool = Field(False, description="The critique format was enforced while generating (a grammar).")
    grammar: GrammarProfile | None = Field(
        None, description="The grammar profile the critique was held to (tight or structure); null when unconstrained."
    )
    critic: Literal["combined", "llm"] = Field(
        "combined", description="combined: steps the symbolic checker proves wrong are judged wrong; llm: the model."
    )
    notes: list[str] = Field(default_factory=list, description="What the user should know about how this was made.")

    @property
    def model_first_error_step(self) -> int | None:
        """The model's own first wrong step (before the checker's proofs): -1 none, None when it gave no verdicts."""
        verdicts = [s.model_verdict or s.verdict for s in self.steps]
        if self.first_error_step is None or not verdicts or all(v == "unchecked" for v in verdicts):
            return None
        return next((s.index for s, v in zip(self.steps, verdicts, strict=True) if v == "incorrect"), NO_ERROR)
