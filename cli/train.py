"""`critic train`: queue SFT / GRPO jobs (validated at submit time), follow their status and logs, cancel them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(
    help="Retrain the critic on annotations + PRM800K: queue jobs for `critic worker` (or `critic serve`).",
    no_args_is_help=True,
)

_CONFIG_HELP = "YAML file of job settings (see README 'Training'); flags and --set override it."
_SET_HELP = "Any config field as key=value (YAML value), repeatable: --set lora_r=8 --set beta=0.04."


def _overrides(common: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    from training.config import parse_override

    values = {k: v for k, v in common.items() if v is not None}
    for text in sets:
        key, value = parse_override(text)
        values[key] = value
    return values


def _submit(kind: str, config_file: Path | None, values: dict[str, Any]) -> None:
    from db.session import init_db, session_scope
    from training.config import load_config
    from training.queue import enqueue_job

    config = load_config(kind, config_file, values)  # raises ConfigError before anything is queued
    init_db()
    with session_scope() as session:
        job = enqueue_job(session, config=config)
    typer.echo(f"queued {kind} job {job.id} (max_steps={config.max_steps}, base_model={config.base_model})")
    typer.echo(f"follow it with `critic train logs {job.id} --follow`; a worker runs it (`critic worker`)")


@app.command("sft")
def sft(
    config_file: Path | None = typer.Option(None, "--config", help=_CONFIG_HELP),
    base_model: str | None = typer.Option(None, help="'active', 'embedded', or a model directory."),
    max_steps: int | None = typer.Option(None, help="Optimiser steps."),
    learning_rate: float | None = typer.Option(None, help="Peak learning rate."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Sequences per device per micro-batch."),
    lora: bool | None = typer.Option(None, "--lora/--full", help="LoRA adapters (peft) or full fine-tune."),
    prm800k: str | None = typer.Option(None, help="PRM800K .jsonl file, directory, or cached dataset id."),
    prm800k_ratio: float | None = typer.Option(None, help="Share of PRM800K items in the mix (0..1)."),
    teacher_backend: str | None = typer.Option(None, help="current, template, transformers, openai or vllm."),
    accelerate_config: Path | None = typer.Option(None, help="Run under `accelerate launch --config_file FILE`."),
    sets: list[str] = typer.Option([], "--set", help=_SET_HELP),
) -> None:
    """Queue a supervised fine-tuning job (loss on the critique only)."""
    common = {
        "base_model": base_model,
        "max_steps": max_steps,
        "learning_rate": learning_rate,
        "per_device_batch_size": batch_size,
        "use_lora": lora,
        "prm800k": prm800k,
        "prm800k_ratio": prm800k_ratio,
        "teacher_backend": teacher_backend,
        "accelerate_config": str(accelerate_config) if accelerate_config else None,
    }
    _submit("sft", config_file, _overrides(common, sets))


@app.command("grpo")
def grpo(
    config_file: Path | None = typer.Option(None, "--config", help=_CONFIG_HELP),
    base_model: str | None = typer.Option(None, help="'active', 'embedded', or a model directory."),
    max_steps: int | None = typer.Option(None, help="Optimiser steps."),
    learning_rate: float | None = typer.Option(None, help="Peak learning rate."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Completions per device per micro-batch."),
    num_generations: int | None = typer.Option(None, help="Rollouts per prompt (group size)."),
    beta: float | None = typer.Option(None, help="KL coefficient (0 = no reference model)."),
    lora: bool | None = typer.Option(None, "--lora/--full", help="LoRA adapters (peft) or full fine-tune."),
    prm800k: str | None = typer.Option(None, help="PRM800K .jsonl file, directory, or cached dataset id."),
    prm800k_ratio: float | None = typer.Option(None, help="Share of PRM800K items in the mix (0..1)."),
    accelerate_config: Path | None = typer.Option(None, help="Run under `accelerate launch --config_file FILE`."),
    sets: list[str] = typer.Option([], "--set", help=_SET_HELP),
) -> None:
    """Queue a GRPO job (reward 1 when the critique's boxed first wrong step equals the label)."""
    common = {
        "base_model": base_model,
        "max_steps": max_steps,
        "learning_rate": learning_rate,
        "per_device_batch_size": batch_size,
        "num_generations": num_generations,
        "beta": beta,
        "use_lora": lora,
        "prm800k": prm800k,
        "prm800k_ratio": prm800k_ratio,
        "accelerate_config": str(accelerate_config) if accelerate_config else None,
    }
    _submit("grpo", config_file, _overrides(common, sets))


def _job_line(job: Any) -> str:
    last = ""
    if job.error:
        last = f"  error: {job.error.splitlines()[0][:160]}"
    version = f"  model version {job.result_model_version_id}" if job.result_model_version_id else ""
    return (
        f"{job.id:>5}  {job.kind:<5} {job.status:<10} {100 * (job.progress or 0):5.1f}%  "
        f"attempt {job.attempts}/{job.max_attempts}{version}{last}"
    )


@app.command("status")
def status(job_id: int | None = typer.Argument(None, help="A job id; omit to list recent jobs.")) -> None:
    """Show one job (status, progress, latest metrics, data hash, model version) or the recent jobs."""
    from db.session import init_db, session_scope
    from training.queue import get_job, job_metrics, list_jobs

    init_db()
    with session_scope() as session:
        if job_id is None:
            jobs = list_jobs(session)
            if not jobs:
                typer.echo("no training jobs yet: queue one with `critic train sft` or `critic train grpo`")
            for job in jobs:
                typer.echo(_job_line(job))
            return
        job = get_job(session, job_id=job_id)
        typer.echo(_job_line(job))
        if job.data_hash:
            typer.echo(f"data snapshot: {job.data_hash}")
        for key, value in (job.metrics or {}).items():
            if key in ("data", "target_paths"):
                typer.echo(f"{key}: " + ", ".join(f"{k}={v}" for k, v in value.items()))
        for name, points in sorted(job_metrics(session, job_id=job_id).items()):
            step, value = points[-1]
            typer.echo(f"{name}: {value:.4g} (step {step}, {len(points)} points)")


@app.command("logs")
def logs(
    job_id: int = typer.Argument(..., help="Job id."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until the job ends."),
) -> None:
    """Print a job's log lines (progress, loss/reward, evaluation, errors)."""
    from db.session import init_db, session_scope
    from training.queue import FINISHED, get_job, job_logs

    init_db()
    last = 0
    with session_scope() as session:
        get_job(session, job_id=job_id)
        while True:
            for line in job_logs(session, job_id=job_id, after_id=last):
                typer.echo(f"{line.created_at:%H:%M:%S} {line.level:<7} {line.message}")
                last = line.id
            if not follow or get_job(session, job_id=job_id).status in FINISHED:
                if follow:  # lines written just before the end
                    for line in job_logs(session, job_id=job_id, after_id=last):
                        typer.echo(f"{line.created_at:%H:%M:%S} {line.level:<7} {line.message}")
                break
            time.sleep(1.0)


@app.command("cancel")
def cancel(job_id: int = typer.Argument(..., help="Job id.")) -> None:
    """Cancel a job: a queued one at once; a running one is stopped by its worker within seconds."""
    from db.session import init_db, session_scope
    from training.queue import request_cancel

    init_db()
    with session_scope() as session:
        job = request_cancel(session, job_id=job_id)
    if job.status == "cancelled":
        typer.echo(f"job {job_id} cancelled")
    else:
        typer.echo(f"job {job_id}: cancel requested; its worker stops it within seconds")
