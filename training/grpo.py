"""GRPO runner: TRL's GRPOTrainer with DeepCritic's reward (final boxed step == label) and an optional format reward,
or CTRL's revision reward (training.revision_reward: the revision the critique leads to passes its check).

Both rewards read completions in strict mode: only a complete critique (a judged block for every step up to the
named one and an answer that agrees with the judgements) earns anything, so a bare `**Answer**: \\boxed{k}` or
judgements without an answer cannot be learnt as a shortcut. Nor can bare labels: every judged step needs a real
critique (`substantive_critique`: a sentence of its own, not another step's critique again and not the step's text
copied back). Rollouts are sampled unconstrained and the reward does the checking, because TRL's generation on a
CPU has no grammar hook and the same rule then holds for vLLM rollouts on a GPU.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.parsing import parse_critique
from core.types import ParsedCritique
from training.config import GRPOJobConfig
from training.modeling import common_trainer_args, load_model, load_tokenizer, lora_config, save_trained_model
from training.progress import Reporter, ReporterCallback
from training.sft import TrainOutcome


def _completion_text(completion: Any) -> str:
    # Conversational datasets give a list of messages per completion; plain ones give a string.
    if isinstance(completion, list):
        return "".join(str(m.get("content", "")) for m in completion if isinstance(m, dict))
    return str(completion)


MIN_CRITIQUE_WORDS = 4
"""Fewest words of its own a judged step's critique needs (after the format's opening "This step")."""
_COPY_SIMILARITY = 0.8


def _words(text: str) -> str:
    """Lower-case words and numbers only: what two texts say, not how they are spaced or punctuated."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def substantive_critique(parsed: ParsedCritique, steps: Sequence[str] | None = None) -> bool:
    """Whether every judged step's critique says something of its own: at least MIN_CRITIQUE_WORDS words besides
    "This step", not the same words as another judged step's critique, and not the solution step's text copied back
    (contained in it, containing it, or nearly the same)."""
    seen: set[str] = set()
    for step in parsed.steps:
        if step.verdict == "unchecked":
            continue
        said = _words(re.sub(r"^\s*this step\b", "", step.critique, flags=re.IGNORECASE))
        if len(said.split()) < MIN_CRITIQUE_WORDS or said in seen:
            return False
        seen.add(said)
        if steps is not None and 0 < step.index <= len(steps):
            source = _words(steps[step.index - 1])
            if said in source or (source and source in said):
                return False
            if difflib.SequenceMatcher(None, said, source).ratio() >= _COPY_SIMILARITY:
                return False
    return True


def _read(completion: Any, num_steps: int, steps: Sequence[str] | None) -> ParsedCritique | None:
    """The strictly parsed critique when it is complete and substantive, else None (earns nothing)."""
    parsed = parse_critique(_completion_text(completion), int(num_steps), mode="strict")
    if parsed.parse_status != "ok" or not substantive_critique(parsed, steps):
        return None
    # A rollout's critique stops at its first wrong step: a -1 before the step it names contradicts its answer (only
    # the checker-forced grammar lets the critic go on past its own doubt, and rollouts are not generated under it).
    if any(s.verdict == "incorrect" and s.index != parsed.first_error_step for s in parsed.steps):
        return None
    return parsed


def correctness_reward(
    completions: Sequence[Any],
    first_error_step: Sequence[int],
    num_steps: Sequence[int],
    steps: Sequence[Sequence[str]] | None = None,
    **_: Any,
) -> list[float]:
    """1.0 when the strictly parsed, substantive critique names the labelled first-error step, else 0.0 (off-format
    or bare labels count as wrong). `steps`: each solution's step texts (a dataset column), for the copy check."""
    rewards = []
    for n, (completion, label, count) in enumerate(zip(completions, first_error_step, num_steps, strict=True)):
        parsed = _read(completion, int(count), steps[n] if steps is not None else None)
        rewards.append(1.0 if parsed is not None and parsed.first_error_step == int(label) else 0.0)
    return rewards


def format_reward(
    completions: Sequence[Any], num_steps: Sequence[int], steps: Sequence[Sequence[str]] | None = None, **_: Any
) -> list[float]:
    """1.0 for a substantive critique in the exact format, whatever step it names; 0.0 otherwise."""
    return [
        1.0 if _read(c, int(count), steps[n] if steps is not None else None) is not None else 0.0
        for n, (c, count) in enumerate(zip(completions, num_steps, strict=True))
    ]


def use_vllm(config: GRPOJobConfig) -> bool:
    """vLLM rollouts when asked, or on 'auto' when vLLM is installed and a GPU is present."""
    if config.use_vllm == "off":
        return False
    import torch

    available = importlib.util.find_spec("vllm") is not None and torch.cuda.is_available()
    if config.use_vllm == "on" and not available:
        from core.errors import ConfigError

        raise ConfigError("use_vllm=on needs the vllm package and a GPU; set use_vllm=auto or off")
    return available


def grpo_trainer_config(config: GRPOJobConfig, output_dir: Path) -> Any:
    from trl import GRPOConfig

    vllm = use_vllm(config)
    reward_weights = [1.0, config.format_reward_weight] if config.format_reward_weight > 0 else [1.0]
    extra: dict[str, Any] = {}
    if vllm:
        extra = {
            "use_vllm": True,
            "vllm_mode": "colocate",
            "vllm_gpu_memory_utilization": config.vllm_gpu_memory_utilization,
        }
    return GRPOConfig(
        **common_trainer_args(config, output_dir),
        num_generations=config.num_generations,
        max_completion_length=config.max_completion_length,
        temperature=config.temperature,
        beta=config.beta,
        reward_weights=reward_weights,
        log_completions=False,
        **extra,
    )


def _revision_reward(
    config: GRPOJobConfig, train_rows: Sequence[dict[str, Any]]
) -> tuple[list[Any], list[dict[str, Any]], Any]:
    """CTRL's reward: the fixed generator (loaded once per process) revises with each critique; the check scores it."""
    from core.backends import create_backend
    from core.models import resolve_model
    from training.revision_reward import RevisionReward

    generator = create_backend("transformers", str(resolve_model(config.revision_generator)))
    reward = RevisionReward(generator, max_new_tokens=config.revision_max_new_tokens)
    rows = [{key: r[key] for key in ("prompt", "kind", "item", "execution")} for r in train_rows]
    return [reward], rows, generator


def run_grpo(
    config: GRPOJobConfig,
    *,
    model_path: str,
    train_rows: Sequence[dict[str, Any]],
    output_dir: Path,
    reporter: Reporter,
    extra_callbacks: Sequence[Any] = (),
) -> TrainOutcome:
    """Train `model_path` with GRPO on prompts labelled with their first wrong step; save under `output_dir/model`."""
    from datasets import Dataset
    from trl import GRPOTrainer

    if not train_rows:
        from core.errors import BadInputError

        raise BadInputError("no GRPO prompts: add annotations or a PRM800K source")
    tokenizer = load_tokenizer(model_path)
    tokenizer.padding_side = "left"
    generator = None
    if config.reward == "revision":
        reward_funcs, rows, generator = _revision_reward(config, train_rows)
    else:
        reward_funcs = [correctness_reward]
        if config.format_reward_weight > 0:
            reward_funcs.append(format_reward)
        rows = [
            {
                "prompt": r["prompt"],
                "first_error_step": int(r["first_error_step"]),
                "num_steps": int(r["num_steps"]),
                "steps": list(r.get("steps") or []),
            }
            for r in train_rows
        ]
    trainer = GRPOTrainer(
        model=load_model(model_path),
        reward_funcs=reward_funcs,
        args=grpo_trainer_config(config, output_dir),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora_config(config),
        callbacks=[ReporterCallback(reporter, is_main_process=True), *extra_callbacks],
    )
    try:
        result = trainer.train()
    finally:
        if generator is not None:
            generator.close()
    stopped = reporter.should_stop()
    tokenizer.padding_side = "right"
    model_dir = None if stopped else save_trained_model(trainer, tokenizer, output_dir)
    return TrainOutcome(
        model_dir=model_dir, steps=trainer.state.global_step, stopped_early=stopped, metrics=dict(result.metrics)
    )
