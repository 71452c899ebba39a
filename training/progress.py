"""How a running trainer reports: a reporter interface and the TrainerCallback that feeds it."""

from __future__ import annotations

import math
from typing import Any, Protocol

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments


class Reporter(Protocol):
    """Where a job's progress goes (the database for queued jobs, a list in tests and benches)."""

    def metric(self, step: int, name: str, value: float) -> None: ...

    def log(self, message: str, level: str = "info") -> None: ...

    def progress(self, step: int, total: int) -> None: ...

    def should_stop(self) -> bool: ...


class MemoryReporter:
    """Keeps everything in lists; used by benches and direct calls."""

    def __init__(self) -> None:
        self.metrics: list[tuple[int, str, float]] = []
        self.logs: list[tuple[str, str]] = []
        self.last_progress: tuple[int, int] = (0, 0)

    def metric(self, step: int, name: str, value: float) -> None:
        self.metrics.append((step, name, value))

    def log(self, message: str, level: str = "info") -> None:
        self.logs.append((level, message))

    def progress(self, step: int, total: int) -> None:
        self.last_progress = (step, total)

    def should_stop(self) -> bool:
        return False


# Trainer log keys worth keeping as curves; names are shortened for the app's plots.
_METRIC_NAMES = {
    "loss": "loss",
    "grad_norm": "grad_norm",
    "learning_rate": "learning_rate",
    "reward": "reward",
    "reward_std": "reward_std",
    "kl": "kl",
    "entropy": "entropy",
    "mean_token_accuracy": "token_accuracy",
    "completions/mean_length": "completion_length",
    "eval_loss": "eval_loss",
}


class ReporterCallback(TrainerCallback):
    """Streams loss/reward/lr to the reporter, reports progress, and stops training when asked."""

    def __init__(self, reporter: Reporter, *, is_main_process: bool = True) -> None:
        self.reporter = reporter
        self.is_main_process = is_main_process

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        if self.is_main_process:
            self.reporter.progress(0, state.max_steps)
            self.reporter.log(f"training started: {state.max_steps} steps")

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any) -> None:
        if self.is_main_process:
            self.reporter.progress(state.global_step, state.max_steps)
        if self.reporter.should_stop():
            control.should_training_stop = True
            control.should_save = False

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kw: Any,
    ) -> None:
        if not self.is_main_process or not logs:
            return
        shown = []
        for key, value in logs.items():
            name = _METRIC_NAMES.get(key)
            if key.startswith("rewards/") and key.endswith("/mean"):
                name = "reward/" + key.split("/")[1]
            if name is None or not isinstance(value, int | float) or not math.isfinite(float(value)):
                continue
            self.reporter.metric(state.global_step, name, float(value))
            shown.append(f"{name}={float(value):.4g}")
        if shown:
            self.reporter.log(f"step {state.global_step}/{state.max_steps}: " + " ".join(shown))
