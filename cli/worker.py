"""`critic worker`: run queued training jobs (run several, on several machines, against one PostgreSQL)."""

from __future__ import annotations

import typer

app = typer.Typer()


@app.command("worker")
def worker(
    once: bool = typer.Option(False, "--once", help="Exit when the queue is empty instead of waiting for jobs."),
    max_jobs: int | None = typer.Option(None, help="Exit after this many jobs."),
    poll_interval: float = typer.Option(2.0, help="Seconds before looking again at an empty queue."),
    max_poll_interval: float = typer.Option(
        30.0, help="While the queue stays empty the wait doubles up to this many seconds (an idle worker is quiet)."
    ),
    heartbeat_timeout: float | None = typer.Option(
        None,
        help="Seconds without a heartbeat before a running job is requeued/failed "
        "(default CRITIC_HEARTBEAT_TIMEOUT_S).",
    ),
    database_url: str | None = typer.Option(
        None, help="SQLAlchemy URL; default CRITIC_DATABASE_URL or SQLite in home."
    ),
) -> None:
    """Claim queued SFT/GRPO jobs one at a time and run each in its own process, streaming progress to the database."""
    import logging
    import signal

    from training.worker import Worker, WorkerOptions

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    options = WorkerOptions(
        poll_interval_s=poll_interval,
        max_poll_interval_s=max_poll_interval,
        heartbeat_timeout_s=heartbeat_timeout,
        max_jobs=max_jobs,
        exit_when_idle=once,
        database_url=database_url,
    )
    runner = Worker(options)
    # Ctrl-C / SIGTERM: stop the running job and put it back in the queue for another worker.
    signal.signal(signal.SIGTERM, lambda *_: runner.stop())
    signal.signal(signal.SIGINT, lambda *_: runner.stop())
    typer.echo(f"worker {runner.worker_id} waiting for training jobs (Ctrl-C to stop)")
    done = runner.run()
    typer.echo(f"worker {runner.worker_id} stopped after {done} job(s)")
