"""HTTP guard before the Gradio app: allowed hosts and origins, the routes the app uses, framing and cookie rules,
login throttling, revoked sessions, logout, admin-only monitoring and owner-only cancelling."""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import socket
from typing import Any

import anyio
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import Settings, host_name
from db.logins import reserve_login, settle_login
from db.session import session_scope
from db.users import get_user, session_version
from webapp.gradio_routes import (
    CANCEL_PATH,
    LOGIN_PATH,
    LOGOUT_PATH,
    STATIC_PREFIXES,
    asks_for_deep_link,
    is_monitoring,
    normal_path,
    page_session_hash,
    route_allowed,
)
from webapp.sessions import TOKEN_COOKIE_PREFIX, LoginSessions, gradio_token, token_cookie_values

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_SMALL_BODY_BYTES = 16_384  # a login form or a cancel request
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = ("0.0.0.0", "::", "")
ALLOW_POST = {"allow": "POST"}
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


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when the client left or it is longer than `limit`."""
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body"):
            return body


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the already-read body to the app first."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


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


def default_hosts(bind_host: str) -> set[str]:
    """The host names a server listening on `bind_host` answers to when CRITIC_ALLOWED_HOSTS is unset."""
    hosts = {*LOCAL_HOSTS, host_name(bind_host)} - {""}
    if bind_host in WILDCARD_BINDS:
        hosts |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    return hosts


def _event_owners(app: Any, session_hash: str, event_id: str) -> set[str | None]:
    """The users whose queued or running events a cancel of (session_hash, event_id) would stop."""
    blocks = app.get_blocks() if hasattr(app, "get_blocks") else None
    queue = getattr(blocks, "_queue", None)
    if queue is None:
        return set()
    events = [e for jobs in queue.active_jobs if jobs for e in jobs]
    events += [e for waiting in queue.event_queue_per_concurrency_id.values() for e in waiting.queue]
    owners = {e.username for e in events if e.session_hash == session_hash or e._id == event_id}
    known = queue.event_ids_to_events.get(event_id)
    if known is not None:
        owners.add(known.username)
    return owners


class SecurityMiddleware:
    """Outermost ASGI layer of the web app; every rule answers before Gradio sees the request."""

    def __init__(
        self, app: ASGIApp, *, database_url: str | None, settings: Settings, bind_host: str = "127.0.0.1"
    ) -> None:
        self.app = app
        self.database_url = database_url
        self.settings = settings
        self.allowed_origins = set(settings.allowed_origin_list)
        origin_hosts = {host_name(origin.partition("://")[2]) for origin in self.allowed_origins}
        self.allowed_hosts = set(settings.allowed_host_list or default_hosts(bind_host)) | origin_hosts
        # Listening on every interface with no list: any of the machine's addresses, typed as a number, is fine (a
        # rebinding page needs a name it controls; an IP-address origin is never the attacker's).
        self.any_ip_host = not settings.allowed_host_list and bind_host in WILDCARD_BINDS
        self.sessions = LoginSessions()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        method, path = scope["method"], scope["path"]
        host = headers.get("host")
        if not self.host_allowed(host):
            log.warning("refused a %s %s for host %r", method, path, host)
            await _send_reply(send, 400, "unknown host: this server answers only to CRITIC_ALLOWED_HOSTS")
            return
        origin = headers.get("origin")
        if origin is not None and not self.origin_allowed(origin, host):
            log.warning("refused a %s %s from origin %r", method, path, origin)
            await _send_reply(send, 403, f"requests from {origin} are refused (see CRITIC_ALLOWED_ORIGINS)")
            return
        if method not in SAFE_METHODS and headers.get("sec-fetch-site") == "cross-site":
            await _send_reply(send, 403, "requests started by another site are refused")
            return
        if not route_allowed(method, path):
            if normal_path(path) == LOGOUT_PATH:
                await _send_reply(send, 405, "log out with the Log out button (a POST from the app's page)", ALLOW_POST)
            else:
                await _send_reply(send, 404, "Not Found")
            return
        if asks_for_deep_link(path, scope.get("query_string", b"")):
            await _send_reply(send, 404, "deep links are turned off")
            return
        send = self._with_headers(send)
        if path.startswith(STATIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        user = await self._session_user(scope, headers)
        path = normal_path(path)
        if method == "POST" and path == LOGIN_PATH:
            await self._login(scope, receive, send)
        elif method == "POST" and path == LOGOUT_PATH:
            await self._logout(scope, receive, send, headers, user)
        elif method == "POST" and path == CANCEL_PATH:
            await self._cancel(scope, receive, send, user)
        elif is_monitoring(path) and not await anyio.to_thread.run_sync(self._is_admin, user):
            await _send_reply(send, 403, "the monitoring pages are for admins only")
        elif (session_hash := page_session_hash(path, scope.get("query_string", b""))) is not None and (
            user is None or _event_owners(scope.get("app"), session_hash, "") - {user}
        ):
            # Closing a heartbeat or a stream ends that page session's events: only for the user who started them.
            await _send_reply(send, 401 if user is None else 404, "log in first" if user is None else "no such session")
        else:
            await self.app(scope, receive, send)

    def host_allowed(self, host: str | None) -> bool:
        if host is None:
            return False
        name = host_name(host)
        if name in self.allowed_hosts:
            return True
        if not self.any_ip_host:
            return False
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True

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

    # ---- sessions ------------------------------------------------------------------------------------------------

    async def _session_user(self, scope: Scope, headers: Headers) -> str | None:
        """The request's user as Gradio will see it, after every revoked token the request carries is forgotten."""
        app = scope.get("app")
        store = getattr(app, "tokens", None)
        if store is None:
            return None
        tokens = token_cookie_values(headers)
        if tokens & store.keys():
            await anyio.to_thread.run_sync(self.sessions.drop_revoked, store, tokens, self._session_version)
        token = gradio_token(app, headers)
        return store.get(token) if token else None

    def _session_version(self, username: str) -> int | None:
        with session_scope(self.database_url) as session:
            return session_version(session, username=username)

    def _is_admin(self, username: str | None) -> bool:
        if username is None:
            return False
        with session_scope(self.database_url) as session:
            try:
                user = get_user(session, username=username)
            except Exception:  # noqa: BLE001 - an unknown user is no admin
                return False
            return user.active and user.role == "admin"

    async def _logout(self, scope: Scope, receive: Receive, send: Send, headers: Headers, user: str | None) -> None:
        """End every session of the user, from the app's own page only (an <img> or a link elsewhere cannot)."""
        if headers.get("origin") is None and headers.get("sec-fetch-site") != "same-origin":
            await _send_reply(send, 403, "log out from the app's own page: the request names no origin")
            return
        store = getattr(scope.get("app"), "tokens", None)
        if user is not None and store is not None:
            self.sessions.end_all(store, user)
            log.info("logout of %r", user)
        response = RedirectResponse("./", status_code=303)
        cookie_id = getattr(scope.get("app"), "cookie_id", "")
        for name in (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}"):
            response.delete_cookie(name, path="/", httponly=True)
        await response(scope, receive, send)

    async def _cancel(self, scope: Scope, receive: Receive, send: Send, user: str | None) -> None:
        """Let a user stop only their own events (Gradio's route takes any session hash from anyone)."""
        if user is None:
            await _send_reply(send, 401, "log in first")
            return
        body = await _read_body(receive, MAX_SMALL_BODY_BYTES)
        if body is None:
            await _send_reply(send, 413, "cancel request too large")
            return
        try:
            request = json.loads(body)
            session_hash, event_id = str(request["session_hash"]), str(request["event_id"])
        except (ValueError, KeyError, TypeError):
            await _send_reply(send, 422, "a cancel names the session_hash, fn_index and event_id to stop")
            return
        if _event_owners(scope.get("app"), session_hash, event_id) - {user}:
            log.warning("refused %r cancelling another user's event", user)
            await _send_reply(send, 404, "no such event among yours")
            return
        await self.app(scope, _replaying(body, receive), send)

    # ---- logins --------------------------------------------------------------------------------------------------

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Reserve the try (refused while the username or the address must wait), then record how it ended."""
        body = await _read_body(receive, MAX_SMALL_BODY_BYTES)
        if body is None:
            await _send_reply(send, 413, "login form too large")
            return
        username = await _form_username(scope, body)
        address = (scope.get("client") or ("unknown",))[0]
        attempt_id, wait = await anyio.to_thread.run_sync(self._reserve, username, address)
        if attempt_id is None:
            seconds = max(1, math.ceil(wait))
            log.warning("login of %r from %s throttled for %d s", username, address, seconds)
            await _send_reply(
                send,
                429,
                f"Too many failed logins: try again in {seconds} s.",
                {"retry-after": str(seconds)},
            )
            return

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                succeeded = message["status"] == 200
                token = _issued_token(message) if succeeded else None
                await anyio.to_thread.run_sync(self._settle, attempt_id, username, address, succeeded, token)
            await send(message)

        await self.app(scope, _replaying(body, receive), recording_send)

    def _reserve(self, username: str, address: str) -> tuple[int | None, float]:
        with session_scope(self.database_url) as session:
            return reserve_login(session, username=username, address=address, settings=self.settings)

    def _settle(self, attempt_id: int, username: str, address: str, succeeded: bool, token: str | None) -> None:
        with session_scope(self.database_url) as session:
            settle_login(session, attempt_id=attempt_id, succeeded=succeeded)
            version = session_version(session, username=username) if token else None
        if token is not None and version is not None:
            self.sessions.issue(token, username, version)
        # The audit log names the user and address, never what was typed as the password.
        log.info("login %s for %r from %s", "succeeded" if succeeded else "failed", username, address)
