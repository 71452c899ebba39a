"""Webhooks as the Standard Webhooks spec sends them: event types, secrets, URL rules, signing, one attempt."""

from __future__ import annotations

import base64
import ipaddress
import json
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from standardwebhooks import Webhook

from core.errors import BadInputError

EVENT_TYPES: dict[str, str] = {
    "annotation.submitted": "an annotator submitted a label",
    "annotation.approved": "a reviewer approved a label",
    "annotation.rejected": "a reviewer rejected a label",
    "campaign.finished": "a campaign was closed",
    "job.finished": "a training or critique job ended (succeeded, failed or cancelled)",
    "model.promoted": "a model version was made to serve",
    "model.rolled_back": "the serving model version was rolled back",
}
"""Every event a subscription can receive, with what it means."""

Resolver = Callable[[str, int], Sequence[str]]


def new_secret() -> str:
    """A fresh signing secret in the spec's form: 'whsec_' + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def new_message_id() -> str:
    """A unique message id (the webhook-id header), kept for every attempt and replay of one event."""
    return "msg_" + secrets.token_hex(12)


def check_event_types(events: Sequence[str]) -> list[str]:
    """The events, deduplicated in the order of EVENT_TYPES; an unknown or empty list is refused."""
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise BadInputError(f"unknown webhook event(s) {', '.join(unknown)}; choose from {', '.join(EVENT_TYPES)}")
    if not events:
        raise BadInputError(f"pick at least one event: {', '.join(EVENT_TYPES)}")
    return [event for event in EVENT_TYPES if event in events]


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise BadInputError(f"webhook host {host!r} does not resolve ({exc.strerror})") from None
    return [str(info[4][0]) for info in infos]


def is_public_address(address: str) -> bool:
    """Whether an IP address is a public one (not private, loopback, link-local, multicast, reserved...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone such as fe80::1%eth0
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, allow_private: bool, resolve: Resolver = _resolve) -> str:
    """The URL if a webhook may be sent to it; raises BadInputError saying why not.

    Only http and https. Unless `allow_private`, every address the host resolves to must be public: a webhook
    must not become a way to reach this machine or its network (server-side request forgery).
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BadInputError(f"webhook URL {url!r} must start with http:// or https://")
    if not parts.hostname:
        raise BadInputError(f"webhook URL {url!r} names no host")
    if parts.username or parts.password:
        raise BadInputError("a webhook URL must not carry a user name or password; the signature authenticates it")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise BadInputError(f"webhook URL {url!r} has an invalid port") from None
    if allow_private:
        return url
    addresses = resolve(parts.hostname, port)
    private = sorted({address for address in addresses if not is_public_address(address)})
    if private or not addresses:
        raise BadInputError(
            f"webhook URL {url!r} points to a private, loopback or link-local address ({', '.join(private)}); "
            "only public addresses are allowed (set CRITIC_WEBHOOK_ALLOW_PRIVATE=1 to allow a receiver on this "
            "machine or network)"
        )
    return url


def event_body(message_id: str, event_type: str, payload: dict[str, Any], created_at: datetime) -> bytes:
    """The request body: the spec's envelope {type, timestamp, data}, as compact UTF-8 JSON."""
    if created_at.tzinfo is None:  # SQLite gives back naive UTC
        created_at = created_at.replace(tzinfo=UTC)
    envelope = {"type": event_type, "timestamp": created_at.isoformat(), "data": payload}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def signed_headers(secret: str, message_id: str, body: bytes, now: datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt: webhook-id, webhook-timestamp, webhook-signature."""
    now = now or datetime.now(UTC)
    signature = Webhook(secret).sign(message_id, now, body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": "critic-studio-webhooks",
    }


@dataclass(frozen=True)
class AttemptResult:
    """How one attempt went: ok (a 2xx answer), the HTTP status if any, and the error otherwise."""

    ok: bool
    response_code: int | None
    error: str


def send(
    url: str,
    *,
    secret: str,
    message_id: str,
    body: bytes,
    timeout_s: float,
    allow_private: bool,
    client: httpx.Client | None = None,
) -> AttemptResult:
    """POST one signed delivery; never raises for the receiver's faults (they are the result)."""
    try:
        check_url(url, allow_private=allow_private)  # again at send time: DNS may have changed since registration
    except BadInputError as exc:
        return AttemptResult(False, None, str(exc))
    headers = signed_headers(secret, message_id, body)
    try:
        if client is None:
            with httpx.Client(timeout=timeout_s, follow_redirects=False) as own:
                response = own.post(url, content=body, headers=headers)
        else:
            response = client.post(url, content=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return AttemptResult(False, None, f"{exc.__class__.__name__}: {exc}"[:500])
    if 200 <= response.status_code < 300:
        return AttemptResult(True, response.status_code, "")
    return AttemptResult(False, response.status_code, f"HTTP {response.status_code}: {response.text[:200]}")


def backoff_s(attempts: int, *, base_s: float, max_s: float) -> float:
    """The wait after the `attempts`-th failed attempt: base, 2 x base, 4 x base ... at most `max_s`."""
    return min(max_s, base_s * 2 ** max(0, attempts - 1))
