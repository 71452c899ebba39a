"""SFT in each precision a job can ask for, on this machine's device: a few real steps of a tiny model."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from core.backends.cpu import has_native_bf16
from tests.training.helpers import arithmetic_item
from training.config import load_config
from training.modeling import trains_on_cpu
from training.progress import MemoryReporter
from training.sft import run_sft
from training.targets import LabelledItem, build_sft_targets

STEPS = 3


def _examples() -> list[dict[str, Any]]:
    items = [arithmetic_item(i, wrong=i % 2 == 1) for i in range(4)]
    labelled = [
        LabelledItem(
            problem=item.problem,
            steps=tuple(item.steps),
            first_error_step=int(item.first_error_step),
            source="test",
            source_id=item.id,
        )
        for item in items
    ]
    return build_sft_targets(labelled, teacher=None).examples


def _train(model_dir: Path, precision: str, output_dir: Path) -> tuple[list[float], set[Any], int]:
    """Run an SFT job for STEPS steps; return its logged losses, the dtypes its linear layers computed in, and steps."""
    import torch
    from transformers import TrainerCallback

    dtypes: set[Any] = set()

    class LinearOutputDtypes(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kw):  # type: ignore[no-untyped-def]
            linear = next(module for module in model.modules() if isinstance(module, torch.nn.Linear))
            linear.register_forward_hook(lambda _module, _inputs, output: dtypes.add(output.dtype))

    config = load_config(
        "sft",
        None,
        {
            "base_model": str(model_dir),
            "max_steps": STEPS,
            "per_device_batch_size": 2,
            "max_length": 1024,
            "precision": precision,
            "learning_rate": 1e-4,
            "evaluate": False,
            "prm800k": None,
        },
    )
    reporter = MemoryReporter()
    outcome = run_sft(
        config,
        model_path=str(model_dir),
        train_examples=_examples(),
        output_dir=output_dir,
        reporter=reporter,
        extra_callbacks=[LinearOutputDtypes()],
        save=False,
    )
    losses = [value for _, name, value in reporter.metrics if name == "loss"]
    return losses, dtypes, outcome.steps


@pytest.mark.slow
def test_fp32_sft_job_trains_on_this_machine(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch

    losses, dtypes, steps = _train(tiny_model_dir, "fp32", tmp_path)

    assert steps == STEPS
    assert len(losses) == STEPS and all(math.isfinite(loss) for loss in losses)
    assert dtypes == {torch.float32}


@pytest.mark.slow
def test_bf16_sft_job_trains_in_bf16_on_a_cpu_with_native_bf16(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch

    if not trains_on_cpu():
        pytest.skip("this machine trains on an accelerator: the CPU bf16 path is not the one a job would take here")
    if not has_native_bf16():
        pytest.skip(
            "this CPU has no native bfloat16 (AVX512-BF16 or AMX in /proc/cpuinfo): bf16 training would be emulated "
            "through float32, so the CPU bf16 path is only tested where it is fast"
        )

    losses, dtypes, steps = _train(tiny_model_dir, "bf16", tmp_path)

    assert steps == STEPS
    assert len(losses) == STEPS and all(math.isfinite(loss) for loss in losses)
    # Mixed precision: the matrix products ran in bfloat16 under autocast (the master weights stay fp32).
    assert dtypes == {torch.bfloat16}
