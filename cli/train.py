"""`critic train`: queue SFT / GRPO jobs (validated at submit time), follow their status and logs, cancel them."""

from __future__ import annotations

import time
from collections.abc import Callable
from inspect import Parameter, Signature
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel as PydanticModel

from cli.options import database_session, echo_rows
from training.config import CONFIG_CLASSES

app = typer.Typer(
    help="Retrain the critic on annotations + PRM800K: queue jobs for `critic worker` (or `critic serve`).",
    no_args_is_help=True,
)

_CONFIG_HELP = "YAML file of job settings (see README 'Training'); flags and --set override it."
_SET_HELP = "Any config field as key=value (YAML value), repeatable: --set lora_r=8 --set beta=0.04."


# The job config fields each command takes as flags, in --help order; their help is the field's description.
_FLAG_FIELDS = {
    "sft": ("base_model", "max_steps", "learning_rate", "per_device_batch_size", "use_lora", "prm800k")
    + ("prm800k_ratio", "teacher_backend", "accelerate_config"),
    "grpo": ("base_model", "max_steps", "learning_rate", "per_device_batch_size", "num_generations", "beta")
    + ("reward", "revision_generator", "code_tasks", "use_lora", "prm800k", "prm800k_ratio", "accelerate_config"),
    "actor": ("problems", "base_model", "use_critique", "samples", "rounds", "critic_model", "max_per_problem")
    + ("held_out_problems", "max_problems", "max_steps", "learning_rate", "use_lora"),
}
_FLAG_NAMES = {
    "per_device_batch_size": ("--batch-size",),
    "use_lora": ("--lora/--full",),
    "use_critique": ("--critique/--no-critique",),
}
_FLAG_TYPES: dict[str, Any] = {
    "teacher_backend": str,
    "reward": str,
}  # choices are checked by the config, with its message


def _flag(config_class: type[PydanticModel], name: str) -> Parameter:
    """A `--field` flag (unset: the YAML file or the default applies) for one job config field."""
    field = config_class.model_fields[name]
    kind = _FLAG_TYPES.get(name, field.annotation)
    option = typer.Option(*_FLAG_NAMES.get(name, ()), help=field.description)
    return Parameter(name, Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[kind | None, option])


def _job_command(kind: str, summary: str) -> Callable[..., None]:
    """The `critic train KIND` command: --config, one flag per field in _FLAG_FIELDS, and --set."""
    config_class = CONFIG_CLASSES[kind]

    def command(**flags: Any) -> None:
        _submit(kind, flags)

    parameters = [
        Parameter("config_file", Parameter.KEYWORD_ONLY, default=None, annotation=ConfigFile),
        *(_flag(config_class, name) for name in _FLAG_FIELDS[kind]),
        Parameter("sets", Parameter.KEYWORD_ONLY, default=[], annotation=Sets),
    ]
    command.__signature__ = Signature(parameters)
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__name__, command.__doc__ = kind, summary
    return command


ConfigFile = Annotated[Path | None, typer.Option("--config", help=_CONFIG_HELP)]
Sets = Annotated[list[str], typer.Option("--set", help=_SET_HELP)]


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


app.command("sft")(_job_command("sft", "Queue a supervised fine-tuning job (loss on the critique only)."))
app.command("actor")(
    _job_command(
        "actor",
        "Queue an actor self-improvement job: sample solutions, critique and refine the wrong ones (--no-critique: "
        "plain self-training), fine-tune on the right ones, evaluate on held-out problems, gate.",
    )
)
app.command("grpo")(
    _job_command(
        "grpo",
        "Queue a GRPO job: reward 1 when the critique's boxed first wrong step equals the label, or with "
        "--reward revision when the fixed generator's revision with the critique passes its tests (CTRL).",
    )
)


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
            empty = "no training jobs yet: queue one with `critic train sft` or `critic train grpo`"
            echo_rows(list_jobs(session), _job_line, empty)
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
