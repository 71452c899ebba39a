"""Typed training job configs (SFT, GRPO): validated when built, loadable from YAML plus CLI overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.config import describe_validation_error
from core.errors import ConfigError

JobKind = Literal["sft", "grpo"]
Precision = Literal["auto", "fp32", "bf16"]


class _JobConfigBase(BaseModel):
    """Fields every training job shares: the base model, the data mix, the optimiser and the evaluation gate."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # Model
    base_model: str = Field(
        "active",
        description="Model to start from: 'active' (the registry's active model, else the embedded one), "
        "'embedded', a local directory, or a hub id already in the local cache.",
    )
    use_lora: bool = Field(False, description="Train LoRA adapters (peft) instead of all weights; merged on save.")
    lora_r: int = Field(16, gt=0, le=1024, description="LoRA rank.")
    lora_alpha: int = Field(32, gt=0, description="LoRA scaling numerator (alpha / r scales the update).")
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA branch.")
    lora_target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        description="Module names that get LoRA adapters.",
    )

    # Data
    use_annotations: bool = Field(
        True, description="Train on human labels (which ones: `statuses` and `use_class_labels`)."
    )
    statuses: list[Literal["approved", "submitted"]] = Field(
        default_factory=lambda: ["approved", "submitted"],
        min_length=1,
        validation_alias=AliasChoices("statuses", "annotation_statuses"),
        description="Label statuses that train: 'approved' (a reviewer approved it) and 'submitted', which counts "
        "only where no review is due (a campaign without a review step, an imported dataset); a submitted label of "
        "a campaign with a review step, or from the Critique tab, waits for a reviewer. Rejected labels and drafts "
        "never train. Formerly `annotation_statuses`.",
    )
    use_class_labels: bool = Field(
        False,
        description="Also train on teachers' corrections in their classes (nobody reviews them). A campaign label "
        "of the same solution always wins over a class correction.",
    )
    prm800k: str | None = Field(
        None,
        description="PRM800K source: a local .jsonl file or directory of phase*_*.jsonl files, or a dataset id "
        "already in the local cache. Nothing is downloaded unless CRITIC_OFFLINE=false.",
    )
    prm800k_ratio: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Share of PRM800K items in the training mix (0 = annotations only, 1 = PRM800K only); "
        "the larger source is subsampled to reach it.",
    )
    max_train_items: int | None = Field(None, gt=0, description="Cap on training items after mixing (None = all).")
    validation_fraction: float = Field(
        0.1, ge=0.0, lt=0.9, description="Share of problems held out for validation (split by problem text)."
    )

    # Optimisation
    max_steps: int = Field(100, gt=0, description="Optimiser steps to run.")
    learning_rate: float = Field(1e-5, gt=0.0, lt=1.0, description="Peak learning rate (AdamW).")
    warmup_ratio: float = Field(0.0, ge=0.0, lt=1.0, description="Share of steps with linear learning-rate warmup.")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay.")
    per_device_batch_size: int = Field(4, gt=0, description="Sequences per device per micro-batch.")
    gradient_accumulation_steps: int = Field(1, gt=0, description="Micro-batches per optimiser step.")
    max_length: int = Field(2048, ge=64, description="Longest prompt + critique in tokens; longer ones are truncated.")
    precision: Precision = Field(
        "auto",
        description="Numeric precision: 'fp32', 'bf16' (mixed precision), or 'auto' (bf16 on a GPU that supports "
        "it, fp32 on CPU: see the README's training benchmark for why).",
    )
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations in the backward pass: less memory, about a third more compute."
    )
    seed: int = Field(0, description="Seed for data mixing, the split and training.")
    logging_steps: int = Field(1, gt=0, description="Log loss/reward every this many steps.")

    # Where and how it runs
    accelerate_config: Path | None = Field(
        None,
        description="An `accelerate config` YAML file: when set, the job runs under "
        "`accelerate launch --config_file FILE` (multi-GPU / multi-node).",
    )

    # Evaluation gate
    evaluate: bool = Field(
        True, description="Score the new model and the serving one on the same items and maybe promote the new one."
    )
    eval_sets: list[str] | None = Field(
        None,
        description="Registered evaluation sets the gate scores on (None = all; `critic eval-set list`). With none "
        "registered, the job's own held-out problems are used.",
    )
    eval_max_items: int = Field(200, gt=0, description="Items per evaluation set used by the gate (spread evenly).")
    eval_max_new_tokens: int = Field(1024, gt=0, description="Generation budget per critique during evaluation.")
    eval_backend: Literal["transformers", "auto"] = Field(
        "transformers",
        description="Engine the gate scores both models with: 'transformers' (in process) or 'auto' (a vLLM server "
        "when installed, much faster for many items). Stored scores are reused only from the same engine.",
    )
    promote_min_delta: float = Field(
        0.0,
        ge=-1.0,
        le=1.0,
        description="Promote only when the lower bound of the 95% bootstrap interval of (new F1 - serving F1) on the "
        "same items is above this (0 = a lift that is not noise).",
    )
    gate_min_items: int = Field(
        50, gt=0, description="Fewest evaluation items the gate decides on; with fewer the model stays a candidate."
    )
    gate_resamples: int = Field(2000, ge=100, le=100_000, description="Bootstrap resamples of the gate.")
    auto_promote: bool = Field(True, description="Promote automatically when the evaluation gate passes.")

    @model_validator(mode="after")
    def _check_sources(self) -> _JobConfigBase:
        if not self.use_annotations and not self.prm800k:
            raise ValueError("no training data: set use_annotations=true or give a prm800k path")
        if self.accelerate_config is not None and not Path(self.accelerate_config).expanduser().is_file():
            raise ValueError(
                f"accelerate_config {self.accelerate_config} is not a file; create one with `accelerate config`"
            )
        if self.prm800k and _looks_like_path(self.prm800k) and not Path(self.prm800k).expanduser().exists():
            raise ValueError(f"prm800k path {self.prm800k} does not exist; give a .jsonl file or a directory")
        if _looks_like_path(self.base_model) and not Path(self.base_model).expanduser().exists():
            raise ValueError(
                f"base_model path {self.base_model} does not exist; use 'active', 'embedded' or a model directory"
            )
        return self


class SFTJobConfig(_JobConfigBase):
    """Supervised fine-tuning on critiques (completion-only loss on the critique)."""

    job: Literal["sft"] = Field("sft", description="Job type (fixed).")
    teacher_backend: Literal["current", "template", "transformers", "openai", "vllm"] = Field(
        "template",
        description="Who writes critiques for items whose labels the human corrected: 'template' (no generation: a "
        "template critique stating the human judgement; the default, so a job starts training at once), "
        "'current' (the base model samples critiques on this machine: slow on a CPU), or a backend name used "
        "with teacher_model.",
    )
    teacher_model: str | None = Field(None, description="Teacher model for teacher_backend transformers/openai/vllm.")
    teacher_samples: int = Field(
        4, gt=0, le=64, description="Critiques sampled per corrected item; the first whose judgements match is kept."
    )
    teacher_max_new_tokens: int = Field(1024, gt=0, description="Generation budget per teacher critique.")
    learning_rate: float = Field(1e-5, gt=0.0, lt=1.0, description="Peak learning rate (AdamW).")
    objective: Literal["plain", "judgements", "balanced"] = Field(
        "plain",
        description="Training loss: 'plain' = every critique token alike (the template text is learned in a few steps "
        "and then dominates nothing but the loss); 'judgements' = the decision tokens (each step's first words after "
        "'This step', where a correct and a wrong step's critiques part, and the \\boxed{} values of the "
        "judgements and the answer) weigh judgement_weight times a text token, and erroneous and correct solutions "
        "are balanced (the smaller class repeated); 'balanced' = as 'judgements', and the error side's decision "
        "tokens (a -1 judgement, its analysis, an answer naming a step) weigh more again, by how many times fewer "
        "they are in the training critiques, so that judging every step right is no cheaper than finding the error.",
    )
    judgement_weight: float = Field(
        5.0, ge=1.0, le=100.0, description="objective=judgements: weight of a decision token (a text token weighs 1)."
    )
    # One sequence in memory at a time, four per optimiser step: the same batch for a fraction of the peak memory.
    per_device_batch_size: int = Field(1, gt=0, description="Sequences per device per micro-batch.")
    gradient_accumulation_steps: int = Field(4, gt=0, description="Micro-batches per optimiser step.")

    @model_validator(mode="after")
    def _check_teacher(self) -> SFTJobConfig:
        if self.teacher_backend in {"transformers", "openai", "vllm"} and not self.teacher_model:
            raise ValueError(f"teacher_backend={self.teacher_backend} needs teacher_model (a model path or name)")
        return self


class GRPOJobConfig(_JobConfigBase):
    """GRPO on first-error labels (reward 1 when the critique's final boxed step equals the label), or CTRL's
    revision reward (1 when the fixed generator's revision with the critique passes its tests / answer check)."""

    job: Literal["grpo"] = Field("grpo", description="Job type (fixed).")
    reward: Literal["first_error", "revision"] = Field(
        "first_error",
        description="first_error: 1 when the critique names the labelled first wrong step. revision (CTRL): the "
        "fixed generator revises the solution with each sampled critique and the revision is checked: code by "
        "its tests in the sandbox (code_tasks), math by its final answer (annotated items with a known answer).",
    )
    revision_generator: str = Field(
        "embedded",
        description="reward=revision: the fixed generator that revises with each critique ('embedded', a model "
        "directory or hub id); it is not trained.",
    )
    revision_max_new_tokens: int = Field(
        384, gt=0, le=8192, description="reward=revision: token budget of one revision."
    )
    code_tasks: Path | None = Field(
        None,
        description="reward=revision: a JSONL of code items (problem, code, tests) to train on; None = the "
        "project's own tasks (core/code/tasks.jsonl).",
    )
    learning_rate: float = Field(1e-6, gt=0.0, lt=1.0, description="Peak learning rate (AdamW).")
    num_generations: int = Field(8, ge=2, description="Critiques sampled per prompt (the GRPO group size).")
    beta: float = Field(0.0, ge=0.0, description="KL penalty coefficient against the base model (0 = no reference).")
    temperature: float = Field(1.0, gt=0.0, le=2.0, description="Sampling temperature of the rollouts.")
    max_completion_length: int = Field(1024, gt=0, description="Generation budget per rollout, in tokens.")
    format_reward_weight: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Weight of the format reward: 1 for a critique in the exact format (every step up to the named one "
        "judged, then '**Answer**: \\boxed{k}' agreeing with the judgements), else 0.",
    )
    use_vllm: Literal["auto", "on", "off"] = Field(
        "auto", description="Generate rollouts with TRL's vLLM integration: 'auto' = when vLLM and a GPU are present."
    )
    vllm_gpu_memory_utilization: float = Field(0.3, gt=0.0, le=1.0, description="GPU share vLLM may take (colocate).")

    @model_validator(mode="after")
    def _check_revision(self) -> GRPOJobConfig:
        if self.code_tasks is not None and not Path(self.code_tasks).expanduser().is_file():
            raise ValueError(f"code_tasks {self.code_tasks} is not a file; give a JSONL of code items with tests")
        return self

    @model_validator(mode="after")
    def _check_group(self) -> GRPOJobConfig:
        batch = self.per_device_batch_size * self.gradient_accumulation_steps
        if batch % self.num_generations:
            raise ValueError(
                f"per_device_batch_size x gradient_accumulation_steps ({batch}) must be a multiple of "
                f"num_generations ({self.num_generations}): each prompt's group of rollouts is scored together"
            )
        return self


class ActorJobConfig(_JobConfigBase):
    """Self-improvement of the actor (AutoMathCritique): sample solutions to training problems, keep the right ones,
    have the critic critique the wrong ones and the actor refine them, fine-tune on what was kept, evaluate, gate."""

    job: Literal["actor"] = Field("actor", description="Job type (fixed).")
    base_model: str = Field(
        "active",
        description="Actor to start from: 'active' (the registry's serving actor, else the embedded model), "
        "'embedded', or a model directory.",
    )
    problems: Path = Field(
        description="JSONL of training problems with answers (`critic generate problems`); problems of registered "
        "evaluation sets are left out."
    )
    max_problems: int | None = Field(None, gt=0, description="Train on at most this many problems (None = all).")
    samples: int = Field(4, ge=1, le=64, description="Solutions sampled per training problem (N).")
    use_critique: bool = Field(
        True, description="Critique the wrong solutions and refine them (False = plain self-training, the baseline)."
    )
    rounds: int = Field(1, ge=1, le=10, description="Most critique -> revision rounds per wrong solution.")
    critic_model: str = Field(
        "active",
        description="Critic that critiques the wrong solutions: 'active' (the serving critic version, else the "
        "default model), 'embedded', or a model directory.",
    )
    temperature: float = Field(0.8, gt=0.0, le=2.0, description="Sampling temperature of the N solutions.")
    solve_max_new_tokens: int = Field(256, ge=16, description="Generation budget of each solution and revision.")
    critic_max_new_tokens: int = Field(384, ge=16, description="Generation budget of each critique.")
    max_per_problem: int = Field(
        2, ge=1, description="Distinct right solutions kept per problem, so easy problems do not dominate the data."
    )
    held_out_problems: int = Field(
        20,
        ge=0,
        description="With no actor evaluation set registered: problems drawn from the file (seeded), never trained "
        "on, that the gate scores both actors on.",
    )
    eval_max_new_tokens: int = Field(256, gt=0, description="Generation budget per solution during evaluation.")
    gate_min_items: int = Field(
        20, gt=0, description="Fewest evaluation problems the gate decides on; with fewer the actor stays a candidate."
    )
    promote_min_delta: float = Field(
        0.0,
        ge=-1.0,
        le=1.0,
        description="Promote only when the lower bound of the 95% bootstrap interval of (new accuracy - serving "
        "accuracy) on the same problems is above this.",
    )
    max_steps: int = Field(30, gt=0, description="Optimiser steps to run.")
    max_length: int = Field(768, ge=64, description="Longest prompt + solution in tokens; longer ones are truncated.")

    @model_validator(mode="after")
    def _check_problems(self) -> ActorJobConfig:
        if not Path(self.problems).expanduser().is_file():
            raise ValueError(f"problems file {self.problems} not found; write one with `critic generate problems`")
        return self


class CritiqueItemsConfig(BaseModel):
    """Critique a campaign's items that have no critique yet, so annotators start from the critic's labels."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    job: Literal["critique_items"] = Field("critique_items", description="Job type (fixed).")
    campaign_id: int = Field(
        gt=0, description="Campaign whose items are critiqued (items with a critique are skipped)."
    )
    model: str | None = Field(
        None, description="Critic model; None = the serving model (the registry's active version, else default_model)."
    )
    default_model: str | None = Field(
        None, description="The model when no registry version serves (None = CRITIC_MODEL): the app's default."
    )
    backend: str | None = Field(None, description="Generation backend (None = CRITIC_BACKEND).")
    batch_size: int = Field(8, gt=0, le=256, description="Items per critic call; progress is stored after each.")
    samples: int = Field(1, gt=0, le=16, description="Critiques sampled per item (k, majority vote).")


AnyJobConfig = SFTJobConfig | GRPOJobConfig | ActorJobConfig | CritiqueItemsConfig
CONFIG_CLASSES: dict[str, type[AnyJobConfig]] = {
    "sft": SFTJobConfig,
    "grpo": GRPOJobConfig,
    "actor": ActorJobConfig,
    "critique_items": CritiqueItemsConfig,
}


def _looks_like_path(value: str) -> bool:
    return value.startswith(("/", "./", "../", "~")) or value.endswith((".jsonl", ".json"))


def build_config(kind: str, values: dict[str, Any]) -> AnyJobConfig:
    """Build and validate a config of `kind` (a key of CONFIG_CLASSES); raises ConfigError saying what to fix."""
    cls = CONFIG_CLASSES.get(kind)
    if cls is None:
        raise ConfigError(f"unknown job type {kind!r}: choose one of {', '.join(CONFIG_CLASSES)}")
    values = {k: v for k, v in values.items() if v is not None or k in {"prm800k", "accelerate_config"}}
    if values.get("job", kind) != kind:
        raise ConfigError(f"config says job={values['job']!r} but a {kind!r} job was requested; remove the 'job' key")
    try:
        return cls(**values)
    except ValidationError as exc:
        raise ConfigError(f"invalid {kind} config: {describe_validation_error(exc, cls.model_fields)}") from None


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one `key=value` override; the value is read as YAML so numbers, booleans and lists work."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} must look like key=value, e.g. learning_rate=1e-5")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({exc})") from None
    return key.strip().replace("-", "_"), value


def load_config(kind: str, path: Path | None = None, overrides: dict[str, Any] | None = None) -> AnyJobConfig:
    """Read a YAML file (optional), apply CLI overrides on top, and validate the result."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {path} not found")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping of field: value, not {type(loaded).__name__}")
        values.update(loaded)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return build_config(kind, values)


def config_from_json(kind: str, data: dict[str, Any]) -> AnyJobConfig:
    """Rebuild a stored config (from a TrainingJob row)."""
    return build_config(kind, data)


def resolve_precision(precision: Precision, *, cuda: bool, bf16_supported: bool) -> Literal["fp32", "bf16"]:
    """'auto' means bf16 where the GPU supports it, else fp32 (bench/README.md, Training, says why not on CPU)."""
    if precision != "auto":
        return precision
    return "bf16" if cuda and bf16_supported else "fp32"
