"""SFT runner: TRL's SFTTrainer on prompt/critique pairs, loss on the critique only, full or LoRA."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.config import SFTJobConfig
from training.modeling import common_trainer_args, load_model, load_tokenizer, lora_config, save_trained_model
from training.progress import Reporter, ReporterCallback

if TYPE_CHECKING:
    from datasets import Dataset


@dataclass
class TrainOutcome:
    """What a finished (or stopped) training run produced."""

    model_dir: Path | None
    steps: int
    stopped_early: bool
    metrics: dict[str, float]


def sft_dataset(examples: Sequence[dict[str, Any]]) -> Dataset:
    """Conversational prompt-completion rows: TRL applies the chat template and masks the prompt from the loss."""
    from datasets import Dataset

    rows = [
        {"prompt": list(ex["prompt"]), "completion": [{"role": "assistant", "content": ex["completion"]}]}
        for ex in examples
    ]
    return Dataset.from_list(rows)


def sft_trainer_config(config: SFTJobConfig, output_dir: Path, *, has_eval: bool) -> Any:
    """TRL SFTConfig for a job; fused-head loss computed on the completion tokens only."""
    from trl import SFTConfig

    return SFTConfig(
        **common_trainer_args(config, output_dir),
        max_length=config.max_length,
        completion_only_loss=True,
        packing=False,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=max(config.max_steps // 4, 1) if has_eval else None,
        per_device_eval_batch_size=config.per_device_batch_size,
        dataset_num_proc=None,
    )


def _critique_only_trainer_class(judgement_weight: float | None = None, error_weight: float | None = None) -> type:
    """SFTTrainer whose loss projects only the critique positions through the LM head, optionally weighting the
    decision tokens (`judgement_weight`: objective=judgements; `error_weight` for the error side's: objective=balanced;
    `training.objective`).

    TRL's fused LM head scores only labelled positions on GPUs (Triton); elsewhere it scores every position in
    tiles and recomputes them in the backward pass, so on CPU a step costs more than a plain loop's
    (bench/training.py compares them). Prompt positions carry no loss, so skipping their logits gives the same loss
    and gradients for less work. Plain SFT on multi-process and GPU runs keeps TRL's own loss.

    The weights are applied here, in a `compute_loss` override, rather than as a per-token weight column in the
    dataset: TRL's collator builds the completion mask from the chat template after tokenising, and a column of
    its own would have to follow its truncation and padding; the override sees the final labels and decodes them.
    """
    import torch
    from accelerate.utils import is_peft_model
    from trl import SFTTrainer

    from training.objective import token_weights

    class CritiqueOnlySFTTrainer(SFTTrainer):
        _pieces: dict[int, str] = {}

        def _weights(self, targets: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
            """Per-target weights: each row's completion tokens decoded and matched against the decision spans."""
            weights = torch.ones(targets.shape[0], dtype=torch.float32, device=targets.device)
            ids = targets.tolist()
            row_ids = rows.tolist()
            for row in sorted(set(row_ids)):
                where = [i for i, r in enumerate(row_ids) if r == row]
                pieces = []
                for i in where:
                    token = ids[i]
                    if token not in self._pieces:
                        self._pieces[token] = self.processing_class.decode([token])
                    pieces.append(self._pieces[token])
                for i, w in zip(where, token_weights(pieces, judgement_weight or 1.0, error_weight), strict=True):
                    weights[i] = w
            return weights

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # type: ignore[no-untyped-def]
            plain_elsewhere = self.accelerator.num_processes > 1 or self.accelerator.device.type != "cpu"
            if return_outputs or (judgement_weight is None and plain_elsewhere):
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            core = self.accelerator.unwrap_model(model)
            if is_peft_model(core):
                core = core.get_base_model()
            labels = inputs["labels"][:, 1:]
            mask = labels != -100
            # Accelerate puts a bf16 job's autocast on the model's forward, which this path does not call.
            with self.accelerator.autocast():
                hidden = core.get_decoder()(
                    input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask"), use_cache=False
                ).last_hidden_state[:, :-1]
                logits = core.get_output_embeddings()(hidden[mask]).float()
            targets = labels[mask]
            count = mask.sum() if num_items_in_batch is None else num_items_in_batch
            count = torch.as_tensor(count, device=logits.device).clamp(min=1)
            if judgement_weight is None:
                loss = torch.nn.functional.cross_entropy(logits, targets, reduction="sum") / count
            else:
                # The weighted mean of this micro-batch, scaled by its share of the step's tokens (so accumulated
                # micro-batches add up as TRL's token-averaged loss does).
                rows = torch.nonzero(mask, as_tuple=True)[0]
                weights = self._weights(targets, rows)
                per_token = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
                loss = (weights * per_token).sum() / weights.sum().clamp(min=1e-6) * (mask.sum() / count)
            with torch.no_grad():
                accuracy = (logits.argmax(-1) == targets).float().mean().item() if targets.numel() else 0.0
            self._metrics["train"]["mean_token_accuracy"].append(accuracy)
            return loss

    return CritiqueOnlySFTTrainer


def run_sft(
    config: SFTJobConfig,
    *,
    model_path: str,
    train_examples: Sequence[dict[str, Any]],
    eval_examples: Sequence[dict[str, Any]] = (),
    output_dir: Path,
    reporter: Reporter,
    extra_callbacks: Sequence[Any] = (),
    save: bool = True,
) -> TrainOutcome:
    """Fine-tune `model_path` on the examples and save the result under `output_dir/model` (unless save=False)."""
    # The actor's job fine-tunes on solutions, not critiques: its config has no critique objective (plain loss).
    objective = getattr(config, "objective", "plain")
    weighted = objective in ("judgements", "balanced")
    error_weight = None
    if weighted:
        from training.objective import balance_classes, error_side_ratio

        train_examples = balance_classes(train_examples, seed=config.seed)
        if objective == "balanced":
            ratio = error_side_ratio([ex["completion"] for ex in train_examples])
            error_weight = config.judgement_weight * ratio
            reporter.log(f"objective balanced: error-side decision tokens weigh {error_weight:.1f} (x{ratio:.2f})")
    trainer_class = _critique_only_trainer_class(config.judgement_weight if weighted else None, error_weight)

    if not train_examples:
        from core.errors import BadInputError

        raise BadInputError("no SFT training examples: add annotations or a PRM800K source")
    tokenizer = load_tokenizer(model_path)
    trainer = trainer_class(
        model=load_model(model_path),
        args=sft_trainer_config(config, output_dir, has_eval=bool(eval_examples)),
        train_dataset=sft_dataset(train_examples),
        eval_dataset=sft_dataset(eval_examples) if eval_examples else None,
        processing_class=tokenizer,
        peft_config=lora_config(config),
        callbacks=[ReporterCallback(reporter, is_main_process=True), *extra_callbacks],
    )
    if len(trainer.train_dataset) == 0:
        from core.errors import ConfigError

        raise ConfigError(
            f"every SFT example lost its critique to truncation at max_length={config.max_length}; "
            "raise max_length (prompts of the critic format are ~300+ tokens)"
        )
    result = trainer.train()
    stopped = reporter.should_stop()
    model_dir = None if stopped or not save else save_trained_model(trainer, tokenizer, output_dir)
    return TrainOutcome(
        model_dir=model_dir, steps=trainer.state.global_step, stopped_early=stopped, metrics=dict(result.metrics)
    )
