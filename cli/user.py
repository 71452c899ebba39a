"""`critic user`: add accounts, change passwords, deactivate them, and list them from the command line."""

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


@app.command("passwd")
def passwd(
    name: str = typer.Argument(..., help="Login name."),
    password: str | None = typer.Option(
        None,
        help="The new password; prompted for (twice, hidden) when omitted. Scripts pass it here.",
        prompt="New password",
        hide_input=True,
        confirmation_prompt=True,
    ),
    database_url: str | None = typer.Option(None, help="SQLAlchemy URL; default CRITIC_DATABASE_URL or SQLite."),
) -> None:
    """Change a user's password; every open session of that user ends (a running web app logs them out)."""
    from db.session import init_db, session_scope
    from db.users import set_password

    init_db(database_url)
    with session_scope(database_url) as session:
        user = set_password(session, username=name, password=password or "")
    typer.echo(f"changed the password of {user.username!r}; their open sessions are ended")


@app.command("deactivate")
def deactivate(
    name: str = typer.Argument(..., help="Login name."),
    database_url: str | None = typer.Option(None, help="SQLAlchemy URL; default CRITIC_DATABASE_URL or SQLite."),
) -> None:
    """Stop a user logging in; every open session of that user ends. Their labels stay (Admin › Users reactivates)."""
    from db.session import init_db, session_scope
    from db.users import set_active

    init_db(database_url)
    with session_scope(database_url) as session:
        user = set_active(session, username=name, active=False)
    typer.echo(f"deactivated {user.username!r}; their open sessions are ended")
