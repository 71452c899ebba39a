"""`critic user`: add accounts and change roles from the command line."""

from __future__ import annotations

import typer

app = typer.Typer(help="User accounts of the web app.", no_args_is_help=True)


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Login name."),
    role: str = typer.Option("annotator", help="admin, reviewer, annotator, teacher or viewer."),
    password: str | None = typer.Option(
        None, help="Password; prompted for when omitted.", prompt=True, hide_input=True, confirmation_prompt=True
    ),
    database_url: str | None = typer.Option(None, help="SQLAlchemy URL; default CRITIC_DATABASE_URL or SQLite."),
) -> None:
    """Create a user who can log into `critic serve`."""
    from db.session import init_db, session_scope
    from db.users import create_user

    init_db(database_url)
    with session_scope(database_url) as session:
        user = create_user(session, username=name, password=password, role=role)
        typer.echo(f"created user {user.username!r} with role {user.role}")


@app.command("list")
def list_(database_url: str | None = typer.Option(None, help="SQLAlchemy URL.")) -> None:
    """List users and their roles."""
    from db.session import init_db, session_scope
    from db.users import list_users

    init_db(database_url)
    with session_scope(database_url) as session:
        for user in list_users(session):
            state = "" if user.active else " (inactive)"
            typer.echo(f"{user.username}\t{user.role}{state}")
