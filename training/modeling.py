"""Model plumbing shared by the SFT and GRPO runners: loading, precision, LoRA, saving."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.config import GRPOJobConfig, SFTJobConfig, resolve_precision

if TYPE_CHECKING:
    from peft import LoraConfig
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def job_precision(config: SFTJobConfig | GRPOJobConfig) -> str:
    """The precision this job trains in on this machine ('fp32' or 'bf16')."""
    import torch

    cuda = torch.cuda.is_available()
    return resolve_precision(config.precision, cuda=cuda, bf16_supported=cuda and torch.cuda.is_bf16_supported())


def trains_on_cpu() -> bool:
    """Whether this machine trains on its CPU: no accelerator (CUDA, ROCm, XPU, MPS) that torch can use."""
    import torch

    return not torch.accelerator.is_available()


def load_tokenizer(model_path: str) -> PreTrainedTokenizerBase:
    """The model's tokenizer with a pad token (right padding for training; TRL pads prompts left itself)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(model_path: str) -> PreTrainedModel:
    """Weights in fp32: mixed precision (bf16) is applied by autocast, so the master weights stay fp32."""
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)


def lora_config(config: SFTJobConfig | GRPOJobConfig) -> LoraConfig | None:
    """The peft LoRA config when the job trains adapters, else None (full fine-tune)."""
    if not config.use_lora:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_target_modules),
        task_type="CAUSAL_LM",
    )


def common_trainer_args(config: SFTJobConfig | GRPOJobConfig, output_dir: Path) -> dict[str, Any]:
    """TrainingArguments shared by both runners; checkpoints are not written (the final model is saved once)."""
    precision = job_precision(config)
    return {
        "output_dir": str(output_dir / "trainer"),
        "max_steps": config.max_steps,
        "learning_rate": config.learning_rate,
        "warmup_steps": int(config.warmup_ratio * config.max_steps),
        "weight_decay": config.weight_decay,
        "per_device_train_batch_size": config.per_device_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "gradient_checkpointing": config.gradient_checkpointing,
        "bf16": precision == "bf16",
        "fp16": False,
        "seed": config.seed,
        "data_seed": config.seed,
        "logging_steps": config.logging_steps,
        "save_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        # The device decides: transformers refuses bf16 on a machine without a GPU unless told it trains on the CPU.
        "use_cpu": trains_on_cpu(),
    }


def save_trained_model(trainer: Any, tokenizer: PreTrainedTokenizerBase, output_dir: Path) -> Path:
    """Save full weights + tokenizer (LoRA adapters are merged) so the result loads like any model directory."""
    model_dir = output_dir / "model"
    model = trainer.accelerator.unwrap_model(trainer.model)
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    if trainer.accelerator.is_main_process:
        model.save_pretrained(model_dir, safe_serialization=True)
        tokenizer.save_pretrained(model_dir)
    trainer.accelerator.wait_for_everyone()
    return model_dir
