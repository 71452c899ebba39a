"""Webhook handlers (admins only): register a URL for events, list subscriptions and deliveries, replay one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.webhooks import EVENT_TYPES
from db.session import session_scope
from db.webhooks import add_subscription, list_subscriptions, recent_deliveries, replay_delivery
from webapp.context import AppContext
from webapp.permissions import Action, Actor, require


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def event_choices() -> list[tuple[str, str]]:
    """(label, event type) for the event picker: what each event means, then its name."""
    return [(f"{name} — {meaning}", name) for name, meaning in EVENT_TYPES.items()]


def subscriptions_table(ctx: AppContext, actor: Actor | None) -> list[dict[str, Any]]:
    require(actor, Action.MANAGE_WEBHOOKS)
    with session_scope(ctx.database_url) as session:
        return [
            {
                "id": s.id,
                "url": s.url,
                "events": ", ".join(s.events),
                "active": s.active,
                "description": s.description,
                "created_at": _when(s.created_at),
            }
            for s in list_subscriptions(session)
        ]


def add_webhook(ctx: AppContext, actor: Actor | None, *, url: str, events: list[str], description: str = "") -> str:
    """Register a URL; the message carries the signing secret, which is shown this once."""
    actor = require(actor, Action.MANAGE_WEBHOOKS)
    with session_scope(ctx.database_url) as session:
        subscription = add_subscription(
            session, url=url, events=events, description=description, created_by_id=actor.id
        )
        return (
            f"Registered webhook {subscription.id} for {', '.join(subscription.events)}. Its signing secret, shown "
            f"only now (verify deliveries with it, Standard Webhooks): {subscription.secret}"
        )


def deliveries_table(ctx: AppContext, actor: Actor | None, *, limit: int = 50) -> list[dict[str, Any]]:
    require(actor, Action.MANAGE_WEBHOOKS)
    with session_scope(ctx.database_url) as session:
        return [
            {
                "id": d.id,
                "event": d.event_type,
                "url": d.url,
                "status": d.status,
                "attempts": d.attempts,
                "response": d.response_code if d.response_code is not None else "",
                "last_error": d.last_error,
                "last_attempt": _when(d.last_attempt_at),
                "message_id": d.message_id,
            }
            for d in recent_deliveries(session, limit=limit)
        ]


def replay(ctx: AppContext, actor: Actor | None, *, delivery_id: int) -> str:
    """Queue a new attempt of a delivery (same event, same message id); the dispatcher sends it, not this click."""
    from training.webhook_dispatcher import wake_dispatcher

    require(actor, Action.MANAGE_WEBHOOKS)
    with session_scope(ctx.database_url) as session:
        delivery = replay_delivery(session, delivery_id=delivery_id)
    wake_dispatcher()
    return f"Delivery {delivery.id} is queued to be sent again; its status updates here when the receiver answers."
