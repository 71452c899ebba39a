"""`critic model serve`: start vLLM's OpenAI-compatible server for a critic model and print how to use it."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import typer

from core.errors import BackendUnavailableError
from core.settings import get_settings
from core.vllm_server import start_vllm_server

app = typer.Typer()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@app.command("serve", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def serve_model(
    ctx: typer.Context,
    model: str | None = typer.Option(None, help="Critic model: 'embedded', a checkpoint directory or a hub id."),
    port: int = typer.Option(8000, help="TCP port of the OpenAI-compatible server."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 to serve other machines)."),
    served_name: str | None = typer.Option(None, help="Model name clients ask for; default the --model value."),
    max_model_len: int | None = typer.Option(
        None, help="Longest prompt + completion in tokens. Default: the model's own context, at most 8192."
    ),
    dtype: str | None = typer.Option(
        None, help="Weights dtype; default auto on GPU, CRITIC_CPU_DTYPE on CPU (bfloat16 where native, else float32)."
    ),
    tensor_parallel_size: int = typer.Option(1, help="GPUs to split the model across (tensor parallelism)."),
    vllm_python: Path | None = typer.Option(None, help="Python of the vLLM env; default CRITIC_VLLM_PYTHON."),
    startup_timeout: float = typer.Option(900.0, help="Seconds to wait for the server to answer."),
    enforce_eager: bool = typer.Option(
        False, help="Skip vLLM's torch.compile: starts in seconds instead of minutes, generates more slowly."
    ),
) -> None:
    """Start vLLM's OpenAI-compatible server for a critic model and print the --backend openai line to use it.

    Runs in the foreground until Ctrl-C. For more traffic start replicas on other ports/GPUs, or pass
    --tensor-parallel-size N to split one model over N GPUs (see docs/serving.md). Options this command does not
    know are passed to vLLM unchanged (e.g. --max-num-seqs 128 --gpu-memory-utilization 0.9).
    """
    settings = get_settings()
    name = model or settings.model
    server = start_vllm_server(
        name,
        port=port,
        host=host,
        served_name=served_name,
        max_model_len=max_model_len,
        dtype=dtype,
        tensor_parallel_size=tensor_parallel_size,
        vllm_python=vllm_python,
        extra_args=(["--enforce-eager"] if enforce_eager else []) + list(ctx.args),
        settings=settings,
    )
    # SIGTERM (e.g. from a supervisor or a test) must stop the server too, like Ctrl-C does.
    previous_handler = signal.signal(signal.SIGTERM, _interrupt)
    try:
        typer.echo(f"starting vLLM for {name!r} (first start on a CPU compiles for ~2 min)...", err=True)
        models = server.wait_until_serving(startup_timeout)
        typer.echo(f"vLLM serves {', '.join(models)} at {server.base_url}", err=True)
        typer.echo(f"--backend openai --base-url {server.base_url} --model {server.served_name}")
        sys.stdout.flush()
        server.process.wait()
        if server.process.returncode:
            raise BackendUnavailableError(f"the vLLM server exited with code {server.process.returncode}")
    except KeyboardInterrupt:
        typer.echo("stopping the vLLM server", err=True)
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous_handler)
