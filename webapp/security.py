"""HTTP guard before the Gradio app: allowed origins, framing and cookie rules, login throttling, revoked sessions."""

from __future__ import annotations

import json
import logging
import math
from http.cookies import SimpleCookie
from typing import Any

import anyio
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import Settings
from db.logins import login_wait_s, record_login
from db.session import session_scope
from db.users import session_version

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_PATHS = frozenset({"/login", "/login/"})
# Files of the page itself: no user data, so no session check (the page loads dozens of them).
STATIC_PREFIXES = ("/assets/", "/static/", "/svelte/", "/favicon")
TOKEN_COOKIE_PREFIX = "access-token-"
MAX_LOGIN_BODY_BYTES = 16_384
RESPONSE_HEADERS = {
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
# On event streams (critique cards as the critic writes): no proxy or cache may hold the events back until the end
# (nginx buffers responses unless told, compressing proxies wait for a full block).
EVENT_STREAM_HEADERS = {"cache-control": "no-cache, no-transform", "x-accel-buffering": "no"}


def _reply(status: int, detail: str, headers: dict[str, str] | None = None) -> tuple[dict[str, Any], bytes]:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    raw += [(k.encode(), v.encode()) for k, v in RESPONSE_HEADERS.items()]
    return {"type": "http.response.start", "status": status, "headers": raw}, body


async def _send_reply(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    start, body = _reply(status, detail, headers)
    await send(start)
    await send({"type": "http.response.body", "body": body})


def _lax_cookie(value: str) -> str:
    """The Set-Cookie value with SameSite=Lax: the browser sends it on no request another site starts."""
    parts = [p for p in value.split(";") if not p.strip().lower().startswith("samesite")]
    return ";".join([*parts, " SameSite=Lax"])


def _session_token(headers: Headers) -> str | None:
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # noqa: BLE001 - a malformed cookie header carries no session
        return None
    for name, morsel in cookie.items():
        if name.startswith(TOKEN_COOKIE_PREFIX):
            return morsel.value
    return None


async def _form_username(scope: Scope, body: bytes) -> str:
    """The username field of a login form, urlencoded (scripts) or multipart (Gradio's login page)."""

    async def whole_body() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        async with Request(scope, whole_body).form() as form:
            return str(form.get("username") or "").strip()
    except Exception:  # noqa: BLE001 - a malformed form: Gradio answers it; throttling counts it under ""
        return ""


def _issued_token(message: Message) -> str | None:
    """The login token a response sets as a cookie, if any."""
    for key, value in message.get("headers", []):
        if key.lower() == b"set-cookie":
            name, _, rest = value.decode("latin-1").partition("=")
            if name.strip().startswith(TOKEN_COOKIE_PREFIX):
                return rest.split(";", 1)[0].strip()
    return None


class SecurityMiddleware:
    """Outermost ASGI layer of the web app; every rule answers before Gradio sees the request."""

    def __init__(self, app: ASGIApp, *, database_url: str | None, settings: Settings) -> None:
        self.app = app
        self.database_url = database_url
        self.settings = settings
        self.allowed_origins = set(settings.allowed_origin_list)
        # Login token -> (username, the user's session version at login); a later version means revoked.
        self.sessions: dict[str, tuple[str, int]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is not None and not self.origin_allowed(origin, headers.get("host")):
            log.warning("refused a %s %s from origin %r", scope["method"], scope["path"], origin)
            await _send_reply(send, 403, f"requests from {origin} are refused (see CRITIC_ALLOWED_ORIGINS)")
            return
        if scope["method"] not in SAFE_METHODS and headers.get("sec-fetch-site") == "cross-site":
            await _send_reply(send, 403, "requests started by another site are refused")
            return
        if not scope["path"].startswith(STATIC_PREFIXES):
            await self._drop_revoked_session(scope, headers)
        send = self._with_headers(send)
        if scope["method"] == "POST" and scope["path"] in LOGIN_PATHS:
            await self._login(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def origin_allowed(self, origin: str, host: str | None) -> bool:
        """The origin the app is served at (the Host the browser asked for), or one configured as allowed."""
        origin = origin.strip().lower().rstrip("/")
        if origin in self.allowed_origins:
            return True
        scheme, _, netloc = origin.partition("://")
        return scheme in ("http", "https") and host is not None and netloc == host.strip().lower()

    def _with_headers(self, send: Send) -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in RESPONSE_HEADERS.items():
                    headers.setdefault(key, value)
                if headers.get("content-type", "").startswith("text/event-stream"):
                    for key, value in EVENT_STREAM_HEADERS.items():
                        headers[key] = value
                cookies = headers.getlist("set-cookie")
                if cookies:
                    del headers["set-cookie"]
                    for cookie in cookies:
                        headers.append("set-cookie", _lax_cookie(cookie))
            await send(message)

        return send_with_headers

    async def _drop_revoked_session(self, scope: Scope, headers: Headers) -> None:
        """Forget the request's login token when the user's password changed or they were deactivated since."""
        token = _session_token(headers)
        tokens = getattr(scope.get("app"), "tokens", None)
        if token is None or tokens is None or token not in tokens:
            return
        known = self.sessions.get(token)
        if known is not None:
            username, version = known
            current = await anyio.to_thread.run_sync(self._session_version, username)
            if current == version:
                return
        tokens.pop(token, None)
        self.sessions.pop(token, None)

    def _session_version(self, username: str) -> int | None:
        with session_scope(self.database_url) as session:
            return session_version(session, username=username)

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a login try while the username or the address must wait; record how each try ended."""
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > MAX_LOGIN_BODY_BYTES:
                await _send_reply(send, 413, "login form too large")
                return
            if not message.get("more_body"):
                break
        username = await _form_username(scope, body)
        address = (scope.get("client") or ("unknown",))[0]
        wait = await anyio.to_thread.run_sync(self._login_wait, username, address)
        if wait > 0:
            seconds = math.ceil(wait)
            log.warning("login of %r from %s throttled for %d s", username, address, seconds)
            await _send_reply(
                send,
                429,
                f"Too many failed logins: try again in {seconds} s.",
                {"retry-after": str(seconds)},
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                succeeded = message["status"] == 200
                token = _issued_token(message) if succeeded else None
                await anyio.to_thread.run_sync(self._record, username, address, succeeded, token)
            await send(message)

        await self.app(scope, replay, recording_send)

    def _login_wait(self, username: str, address: str) -> float:
        with session_scope(self.database_url) as session:
            return login_wait_s(session, username=username, address=address, settings=self.settings)

    def _record(self, username: str, address: str, succeeded: bool, token: str | None) -> None:
        with session_scope(self.database_url) as session:
            record_login(session, username=username, address=address, succeeded=succeeded)
            version = session_version(session, username=username) if token else None
        if token is not None and version is not None:
            self.sessions[token] = (username, version)
        # The audit log names the user and address, never what was typed as the password.
        log.info("login %s for %r from %s", "succeeded" if succeeded else "failed", username, address)
