"""`critic serve`: start the web app (and, by default, one training worker beside it)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import typer

from cli.options import BACKEND_HELP

app = typer.Typer()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(7860, help="TCP port of the web app."),
    model: str | None = typer.Option(None, help="Default critic model ('embedded', a path, a hub id, a served name)."),
    backend: str | None = typer.Option(None, help=BACKEND_HELP),
    database_url: str | None = typer.Option(
        None, help="SQLAlchemy URL; default CRITIC_DATABASE_URL or SQLite in home."
    ),
    worker: bool = typer.Option(True, "--worker/--no-worker", help="Run one training/eval worker beside the app."),
    warm_up: bool = typer.Option(True, "--warm-up/--no-warm-up", help="Load the model at start, not on first use."),
) -> None:
    """Start Critic Studio in the browser: critique, annotation campaigns, teacher grading, dashboard."""
    from core.errors import ConfigError
    from core.runtime import freeze_startup_heap
    from core.settings import BACKEND_NAMES, get_settings

    if backend is not None and backend not in BACKEND_NAMES:
        raise ConfigError(f"--backend {backend!r}: choose one of {', '.join(BACKEND_NAMES)}")

    from db.annotations import prepare_statements
    from db.session import init_db
    from webapp.app import launch
    from webapp.auth import ADMIN_USERNAME, ensure_admin
    from webapp.context import AppContext

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if database_url:
        # The training worker and the job processes it starts read the database URL from Settings.
        os.environ["CRITIC_DATABASE_URL"] = database_url
        get_settings.cache_clear()
    settings = get_settings()
    init_db(database_url)
    prepare_statements(database_url)  # the first annotators' saves do not compile them
    password = ensure_admin(database_url)
    if password is not None and settings.admin_password:
        # The operator chose it: logs and terminals are read by others, so it is never repeated.
        typer.secho(
            f"Created the first account: user {ADMIN_USERNAME!r} with the password from CRITIC_ADMIN_PASSWORD.",
            fg=typer.colors.YELLOW,
        )
    elif password is not None:
        typer.secho(
            f"Created the first account: user {ADMIN_USERNAME!r}, password {password!r} (shown once; change it).",
            fg=typer.colors.YELLOW,
        )
    stop_worker = _start_worker() if worker else None
    from training.webhook_dispatcher import run_dispatcher_in_background

    dispatcher = run_dispatcher_in_background(database_url)  # webhooks go out beside the app, never in a click
    ctx = AppContext(
        database_url=database_url, settings=settings, default_model=model or "", default_backend=backend or ""
    )
    if warm_up:
        ctx.warm_up_in_background()
    freeze_startup_heap()
    typer.echo(f"Critic Studio on http://{host}:{port} (model {ctx.default_model}, backend {ctx.default_backend})")
    try:
        launch(ctx, host=host, port=port)
    finally:
        if stop_worker is not None:
            stop_worker()
        dispatcher.stop()
        ctx.close()


def _start_worker() -> Callable[[], None]:
    """Start one training worker in a background thread; returns the function that stops it."""
    from training.worker import run_worker_in_background

    handle = run_worker_in_background()
    typer.echo("Training worker started (--no-worker to run without one).")
    return handle.stop
