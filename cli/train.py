"""`critic train`: queue SFT / GRPO jobs (validated at submit time), follow their status and logs, cancel them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.options import database_session
from training.config import GRPOJobConfig, SFTJobConfig

app = typer.Typer(
    help="Retrain the critic on annotations + PRM800K: queue jobs for `critic worker` (or `critic serve`).",
    no_args_is_help=True,
)

_CONFIG_HELP = "YAML file of job settings (see README 'Training'); flags and --set override it."
_SET_HELP = "Any config field as key=value (YAML value), repeatable: --set lora_r=8 --set beta=0.04."


def _field(name: str, *declarations: str) -> Any:
    """A flag for the job config field `name` (unset: the YAML or the default applies); its help is the field's."""
    fields = {**GRPOJobConfig.model_fields, **SFTJobConfig.model_fields}
    return typer.Option(*declarations, help=fields[name].description)


ConfigFile = Annotated[Path | None, typer.Option("--config", help=_CONFIG_HELP)]
Sets = Annotated[list[str], typer.Option("--set", help=_SET_HELP)]
BaseModelFlag = Annotated[str | None, _field("base_model")]
MaxSteps = Annotated[int | None, _field("max_steps")]
LearningRate = Annotated[float | None, _field("learning_rate")]
BatchSize = Annotated[int | None, _field("per_device_batch_size", "--batch-size")]
Lora = Annotated[bool | None, _field("use_lora", "--lora/--full")]
Prm800k = Annotated[str | None, _field("prm800k")]
Prm800kRatio = Annotated[float | None, _field("prm800k_ratio")]
AccelerateConfig = Annotated[Path | None, _field("accelerate_config")]


def _submit(kind: str, flags: dict[str, Any]) -> None:
    """Queue a job of `kind` from --config, the flags set and --set overrides (validated before anything is queued)."""
    from training.config import load_config, parse_override
    from training.queue import enqueue_job

    values = {k: v for k, v in flags.items() if v is not None and k not in ("config_file", "sets")}
    values.update(parse_override(text) for text in flags["sets"])
    config = load_config(kind, flags["config_file"], values)
    with database_session() as session:
        job = enqueue_job(session, config=config)
    typer.echo(f"queued {kind} job {job.id} (max_steps={config.max_steps}, base_model={config.base_model})")
    typer.echo(f"follow it with `critic train logs {job.id} --follow`; a worker runs it (`critic worker`)")


@app.command("sft")
def sft(
    ctx: typer.Context,
    config_file: ConfigFile = None,
    base_model: BaseModelFlag = None,
    max_steps: MaxSteps = None,
    learning_rate: LearningRate = None,
    per_device_batch_size: BatchSize = None,
    use_lora: Lora = None,
    prm800k: Prm800k = None,
    prm800k_ratio: Prm800kRatio = None,
    teacher_backend: Annotated[str | None, _field("teacher_backend")] = None,
    accelerate_config: AccelerateConfig = None,
    sets: Sets = [],  # noqa: B006 - typer reads the default, never mutates it
) -> None:
    """Queue a supervised fine-tuning job (loss on the critique only)."""
    _submit("sft", ctx.params)


@app.command("grpo")
def grpo(
    ctx: typer.Context,
    config_file: ConfigFile = None,
    base_model: BaseModelFlag = None,
    max_steps: MaxSteps = None,
    learning_rate: LearningRate = None,
    per_device_batch_size: BatchSize = None,
    num_generations: Annotated[int | None, _field("num_generations")] = None,
    beta: Annotated[float | None, _field("beta")] = None,
    use_lora: Lora = None,
    prm800k: Prm800k = None,
    prm800k_ratio: Prm800kRatio = None,
    accelerate_config: AccelerateConfig = None,
    sets: Sets = [],  # noqa: B006 - typer reads the default, never mutates it
) -> None:
    """Queue a GRPO job (reward 1 when the critique's boxed first wrong step equals the label)."""
    _submit("grpo", ctx.params)


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
    from training.queue import get_job, job_metrics, list_jobs

    with database_session() as session:
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
    from training.queue import FINISHED, get_job, job_logs

    last = 0
    with database_session() as session:
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
    from training.queue import request_cancel

    with database_session() as session:
        job = request_cancel(session, job_id=job_id)
    if job.status == "cancelled":
        typer.echo(f"job {job_id} cancelled")
    else:
        typer.echo(f"job {job_id}: cancel requested; its worker stops it within seconds")
