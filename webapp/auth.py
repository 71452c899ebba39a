"""Login for the web app: the first admin account, password checks against the database, the request's user."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from core.errors import PermissionDeniedError
from core.settings import get_settings
from db.models import User
from db.session import session_scope
from db.users import authenticate, create_user, get_user, has_login
from webapp.permissions import Actor

ADMIN_USERNAME = "admin"


def ensure_admin(database_url: str | None = None, *, password: str | None = None) -> str | None:
    """On an empty user table, create `admin` and return its password (random unless configured), else None.

    The caller prints the returned password once; it is never stored in clear.
    """
    with session_scope(database_url) as session:
        if has_login(session):
            return None
        chosen = password or get_settings().admin_password or secrets.token_urlsafe(12)
        create_user(session, username=ADMIN_USERNAME, password=chosen, role="admin")
        return chosen


def actor_of(user: User) -> Actor:
    return Actor(id=user.id, username=user.username, role=user.role)


def check_login(database_url: str | None, username: str, password: str) -> Actor | None:
    """The actor for a correct username and password, else None."""
    with session_scope(database_url) as session:
        user = authenticate(session, username=username, password=password)
        return actor_of(user) if user is not None else None


def make_auth(database_url: str | None) -> Callable[[str, str], bool]:
    """The callable Gradio's `launch(auth=...)` uses to check a login."""

    def _auth(username: str, password: str) -> bool:
        return check_login(database_url, username, password) is not None

    return _auth


def actor_from_request(database_url: str | None, request: Any) -> Actor:
    """The logged-in user of a Gradio request, looked up fresh so role changes and deactivation apply at once."""
    username = getattr(request, "username", None) if request is not None else None
    if not username:
        raise PermissionDeniedError("not logged in")
    with session_scope(database_url) as session:
        try:
            user = get_user(session, username=username)
        except Exception as exc:
            raise PermissionDeniedError(f"unknown user {username!r}") from exc
        if not user.active:
            raise PermissionDeniedError(f"user {username!r} is deactivated")
        return actor_of(user)
