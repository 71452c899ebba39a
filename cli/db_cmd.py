"""`critic db`: upgrade the database schema, show its revision, check it matches the models."""

from __future__ import annotations

import typer

app = typer.Typer(help="The annotation database: migrations and checks.", no_args_is_help=True)

_URL_HELP = "SQLAlchemy URL; default CRITIC_DATABASE_URL or the SQLite file under CRITIC_HOME."


@app.command("upgrade")
def upgrade(
    revision: str = typer.Option("head", help="Alembic revision to upgrade to."),
    database_url: str | None = typer.Option(None, help=_URL_HELP),
) -> None:
    """Create the database or upgrade it to the newest schema (the app and CLI also do this on start)."""
    from db.migrate import current_revision, upgrade
    from db.session import database_url as resolve

    upgrade(database_url, revision)
    typer.echo(f"database {_safe(resolve(database_url))} is at revision {current_revision(database_url)}")


@app.command("current")
def current(database_url: str | None = typer.Option(None, help=_URL_HELP)) -> None:
    """Print the database's schema revision and the newest one."""
    from db.migrate import current_revision, head_revision

    typer.echo(f"current: {current_revision(database_url) or 'empty'}  head: {head_revision()}")


@app.command("check")
def check(database_url: str | None = typer.Option(None, help=_URL_HELP)) -> None:
    """Exit 1 when the database schema differs from the models (a migration is missing or not applied)."""
    from db.migrate import schema_drift

    drift = schema_drift(database_url)
    for difference in drift:
        typer.echo(str(difference))
    if drift:
        raise typer.Exit(1)
    typer.echo("schema matches the models")


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
