"""Login sessions in front of Gradio's token store: every token cookie a request carries is checked, and the tokens
of a user whose password changed, who was deactivated or who logged out are removed from Gradio's store."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import cookie_parser

TOKEN_COOKIE_PREFIX = "access-token"  # Gradio's access-token-<app id> and access-token-unsecure-<app id>


def token_cookie_values(headers: Headers) -> set[str]:
    """The value of every cookie named like a login token, however many the request carries and whatever their
    names (a cookie Gradio does not read today may be the one it reads after a restart)."""
    values = set()
    for header in headers.getlist("cookie"):
        for chunk in header.split(";"):
            name, sep, value = chunk.partition("=")
            if sep and name.strip().startswith(TOKEN_COOKIE_PREFIX) and value.strip():
                values.add(value.strip().strip('"'))
        values.update(v for k, v in cookie_parser(header).items() if k.startswith(TOKEN_COOKIE_PREFIX) and v)
    return values


def gradio_token(app: Any, headers: Headers) -> str | None:
    """The token Gradio itself reads from this request (the same parser, the same two cookie names)."""
    cookie_id = getattr(app, "cookie_id", None)
    if cookie_id is None:
        return None
    cookies = cookie_parser(headers.get("cookie", ""))
    return cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}")


class LoginSessions:
    """The tokens this server issued: token -> (username, the user's session version at login).

    Gradio's store (`app.tokens`: token -> username) lives in the same process; a token absent from here, or whose
    user's version has moved on (password changed, deactivated), is removed from Gradio's store before Gradio sees
    the request that carries it.
    """

    def __init__(self) -> None:
        self.issued: dict[str, tuple[str, int]] = {}

    def issue(self, token: str, username: str, version: int) -> None:
        self.issued[token] = (username, version)

    def drop_revoked(
        self, store: MutableMapping[str, str], tokens: set[str], current_version: Callable[[str], int | None]
    ) -> None:
        """Remove from Gradio's `store` each of `tokens` that is no longer valid, and with it every other token of
        the same user issued before the change. `current_version` looks a user's version up (None: may not log in)."""
        versions: dict[str, int | None] = {}
        for token in tokens:
            if token not in store:
                continue
            known = self.issued.get(token)
            if known is None:  # not issued through the guarded login: never valid
                store.pop(token, None)
                continue
            username, version = known
            if username not in versions:
                versions[username] = current_version(username)
            if versions[username] != version:
                self.end_all(store, username, keep_version=versions[username])

    def end_all(self, store: MutableMapping[str, str], username: str, keep_version: int | None = None) -> None:
        """End every session of `username` (those at `keep_version`, when given, stay)."""
        for token, (name, version) in list(self.issued.items()):
            if name == username and (keep_version is None or version != keep_version):
                store.pop(token, None)
                self.issued.pop(token, None)
        for token, name in list(store.items()):
            if name == username and token not in self.issued:
                store.pop(token, None)
