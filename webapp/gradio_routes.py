"""The Gradio routes the app uses (an allow-list): every other route Gradio serves answers 404."""

from __future__ import annotations

from urllib.parse import parse_qsl

# Files of the page itself: no user data, so no session check (the page loads dozens of them).
STATIC_PREFIXES = ("/assets/", "/static/", "/svelte/", "/favicon")
MONITORING_PREFIX = "/monitoring"
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
CANCEL_PATH = "/gradio_api/cancel"
HEARTBEAT_PREFIX = "/gradio_api/heartbeat/"
QUEUE_DATA_PATH = "/gradio_api/queue/data"
# Gradio serves a page with another session's component values (inputs typed, passwords included) to whoever
# asks with its hash; the app never creates deep links, so neither the route nor the page parameter is served.
DEEP_LINK_PARAMETER = "deep_link"

_READ_PATHS = frozenset(
    {
        "/",
        "/config",
        "/theme.css",
        "/manifest.json",
        "/robots.txt",
        "/gradio_api/info",  # the API page and gradio_client
        "/gradio_api/login_check",
        QUEUE_DATA_PATH,
        "/gradio_api/upload_progress",
    }
)
_READ_PREFIXES = (
    *STATIC_PREFIXES,
    HEARTBEAT_PREFIX,
    "/gradio_api/file=",  # downloads (exports); Gradio serves only the files it created
    "/gradio_api/call/",  # a named API call's result stream
    MONITORING_PREFIX,  # admins only (the middleware checks the role)
)
_WRITE_PATHS = frozenset(
    {LOGIN_PATH, LOGOUT_PATH, CANCEL_PATH, "/gradio_api/queue/join", "/gradio_api/upload", "/gradio_api/reset"}
)
_WRITE_PREFIXES = ("/gradio_api/call/", "/gradio_api/run/", "/gradio_api/api/")  # the named API


def normal_path(path: str) -> str:
    """The path as the allow-list spells it: no trailing slash (Gradio serves both)."""
    return path.rstrip("/") or "/"


def route_allowed(method: str, path: str) -> bool:
    """Whether the app uses this route; preflights (OPTIONS) are allowed where the real request is."""
    path = normal_path(path)
    reads = path in _READ_PATHS or path.startswith(_READ_PREFIXES)
    writes = path in _WRITE_PATHS or path.startswith(_WRITE_PREFIXES)
    if method in ("GET", "HEAD"):
        return reads
    if method == "POST":
        return writes
    return method == "OPTIONS" and (reads or writes)


def asks_for_deep_link(path: str, query_string: bytes) -> bool:
    """A request for Gradio's deep-link route or a page with a deep link (`?deep_link=...`)."""
    if normal_path(path) == "/gradio_api/deep_link":
        return True
    query = query_string.decode("latin-1")
    return any(name.strip() == DEEP_LINK_PARAMETER for name, _ in parse_qsl(query, keep_blank_values=True))


def is_monitoring(path: str) -> bool:
    """Gradio's monitoring pages (every event's timing and outcome): for admins only."""
    return path.startswith(MONITORING_PREFIX)


def page_session_hash(path: str, query_string: bytes) -> str | None:
    """The page session a heartbeat or a queue-data stream is about (its end closes that session's events)."""
    path = normal_path(path)
    if path.startswith(HEARTBEAT_PREFIX):
        return path.removeprefix(HEARTBEAT_PREFIX)
    if path == QUEUE_DATA_PATH:
        query = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
        return query.get("session_hash", "")
    return None
