"""The webhook dispatcher: a background thread that fans outbox events out and sends due deliveries, with retries."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import httpx

from core.settings import get_settings
from core.webhooks import backoff_s, event_body, send

log = logging.getLogger(__name__)

_WAKE = threading.Event()


def wake_dispatcher() -> None:
    """Ask this process's dispatcher to look now instead of at its next poll (after a replay, for instance)."""
    _WAKE.set()


def dispatch_once(database_url: str | None = None, *, client: httpx.Client | None = None) -> int:
    """Fan out new events and make one attempt at every due delivery; returns the number of attempts made."""
    from db.session import session_scope
    from db.webhooks import claim_due, fan_out, has_work, record_attempt

    settings = get_settings()
    with session_scope(database_url) as session:
        if not has_work(session):
            return 0
        fan_out(session)
        due = claim_due(session, lease_s=settings.webhook_timeout_s * 3 + 5)
        for delivery in due:
            body = event_body(delivery.message_id, delivery.event_type, delivery.payload, delivery.created_at)
            result = send(
                delivery.url,
                secret=delivery.secret,
                message_id=delivery.message_id,
                body=body,
                timeout_s=settings.webhook_timeout_s,
                allow_private=settings.webhook_allow_private,
                client=client,
            )
            retry = None
            if not result.ok and delivery.attempt < settings.webhook_max_attempts:
                retry = backoff_s(
                    delivery.attempt, base_s=settings.webhook_backoff_s, max_s=settings.webhook_backoff_max_s
                )
            status = record_attempt(
                session,
                delivery_id=delivery.delivery_id,
                attempt=delivery.attempt,
                ok=result.ok,
                response_code=result.response_code,
                error=result.error,
                retry_in_s=retry,
            )
            log.info("webhook delivery %s attempt %s: %s", delivery.delivery_id, delivery.attempt, status)
        return len(due)


@dataclass
class BackgroundDispatcher:
    """The dispatcher thread of a process (`critic serve`, `critic worker`)."""

    thread: threading.Thread
    stop_event: threading.Event

    def stop(self, timeout: float | None = 10.0) -> None:
        self.stop_event.set()
        _WAKE.set()
        self.thread.join(timeout)


def run_dispatcher_in_background(database_url: str | None = None) -> BackgroundDispatcher:
    """Start the dispatcher in a daemon thread: a slow receiver never holds up a user's click or a job."""
    stop = threading.Event()

    def loop() -> None:
        with httpx.Client(follow_redirects=False) as client:
            while not stop.is_set():
                try:
                    dispatch_once(database_url, client=client)
                except Exception:  # a database hiccup must not end deliveries for the life of the app
                    log.exception("webhook dispatcher: a round failed; trying again at the next poll")
                _WAKE.wait(get_settings().webhook_poll_s)
                _WAKE.clear()

    thread = threading.Thread(target=loop, name="webhook-dispatcher", daemon=True)
    thread.start()
    return BackgroundDispatcher(thread=thread, stop_event=stop)
