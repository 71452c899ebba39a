"""Webhook storage: subscriptions, the event outbox written with each change, deliveries and their attempts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, String, bindparam, exists, insert, select, update
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from core.settings import get_settings
from core.webhooks import EVENT_TYPES, check_event_types, check_url, new_message_id, new_secret
from db.models import WebhookDelivery, WebhookEvent, WebhookSubscription, utcnow
from db.session import begin_write

PENDING, SENDING, SUCCEEDED, FAILED = "pending", "sending", "succeeded", "failed"

# The outbox row is written only while some subscription is active: with no webhooks, a change costs nothing more.
_RECORD_EVENT = insert(WebhookEvent.__table__).from_select(
    ["message_id", "type", "payload", "created_at"],
    select(
        bindparam("message_id", type_=String(64)),
        bindparam("type", type_=String(40)),
        bindparam("payload", type_=JSON()),
        bindparam("created_at", type_=DateTime(timezone=True)),
    ).where(exists().where(WebhookSubscription.active.is_(True))),
)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for timezone-aware columns; everything stored here is UTC.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def record_event(connection: Connection, event_type: str, payload: dict[str, Any]) -> None:
    """Put an event in the outbox, inside the caller's write transaction: it exists iff the change commits."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event_type!r}")
    connection.execute(
        _RECORD_EVENT,
        {"message_id": new_message_id(), "type": event_type, "payload": payload, "created_at": utcnow()},
    )


# --- subscriptions -----------------------------------------------------------------------------------------------


def add_subscription(
    session: Session, *, url: str, events: Sequence[str], description: str = "", created_by_id: int | None = None
) -> WebhookSubscription:
    """Store a subscription with a fresh secret (shown to the admin once); a URL refused by core.webhooks.check_url
    (not http(s), or a private address while CRITIC_WEBHOOK_ALLOW_PRIVATE is off) raises BadInputError."""
    url = check_url(url, allow_private=get_settings().webhook_allow_private)
    events = check_event_types(events)
    begin_write(session)
    subscription = WebhookSubscription(
        url=url,
        events=events,
        secret=new_secret(),
        description=description.strip(),
        active=True,
        created_by_id=created_by_id,
    )
    session.add(subscription)
    session.commit()
    return subscription


def list_subscriptions(session: Session) -> list[WebhookSubscription]:
    subscriptions = list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))
    session.commit()
    return subscriptions


def set_subscription_active(session: Session, *, subscription_id: int, active: bool) -> WebhookSubscription:
    """Pause (no new deliveries) or resume a subscription."""
    begin_write(session)
    subscription = session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        session.rollback()
        raise NotFoundError(f"no webhook subscription with id {subscription_id}")
    subscription.active = active
    session.commit()
    return subscription


# --- dispatching -------------------------------------------------------------------------------------------------


def fan_out(session: Session, *, limit: int = 100) -> int:
    """Turn undispatched outbox events into one pending delivery per active subscription to their type.

    Each event is claimed by a conditional UPDATE, so two dispatchers never fan one event out twice.
    Returns the number of deliveries made.
    """
    events = list(
        session.execute(
            select(WebhookEvent.id, WebhookEvent.type)
            .where(WebhookEvent.dispatched_at.is_(None))
            .order_by(WebhookEvent.id)
            .limit(limit)
        )
    )
    session.commit()
    if not events:
        return 0
    made = 0
    now = utcnow()
    begin_write(session)
    subscriptions = list(
        session.execute(select(WebhookSubscription.id, WebhookSubscription.events).where(WebhookSubscription.active))
    )
    for event_id, event_type in events:
        claimed = session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id == event_id, WebhookEvent.dispatched_at.is_(None))
            .values(dispatched_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            continue
        for subscription_id, wanted in subscriptions:
            if event_type in (wanted or []):
                session.add(
                    WebhookDelivery(
                        subscription_id=subscription_id,
                        event_id=event_id,
                        status=PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        last_error="",
                    )
                )
                made += 1
    session.commit()
    return made


@dataclass(frozen=True)
class DueDelivery:
    """A delivery claimed for one attempt, with everything needed to send it."""

    delivery_id: int
    attempt: int
    url: str
    secret: str
    message_id: str
    event_type: str
    payload: dict[str, Any]
    created_at: datetime


def claim_due(session: Session, *, lease_s: float, limit: int = 20, now: datetime | None = None) -> list[DueDelivery]:
    """Claim deliveries whose next attempt is due (or whose sender died): each is `sending` for `lease_s`."""
    now = now or utcnow()
    rows = list(
        session.execute(
            select(WebhookDelivery.id, WebhookDelivery.attempts)
            .where(WebhookDelivery.status.in_((PENDING, SENDING)), WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
    )
    session.commit()
    claimed: list[DueDelivery] = []
    for delivery_id, attempts in rows:
        begin_write(session)
        won = session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.attempts == attempts,
                WebhookDelivery.status.in_((PENDING, SENDING)),
            )
            .values(status=SENDING, attempts=attempts + 1, next_attempt_at=now + timedelta(seconds=lease_s))
            .execution_options(synchronize_session=False)
        )
        session.commit()
        if won.rowcount != 1:
            continue  # another dispatcher claimed it first
        row = session.execute(
            select(WebhookSubscription.url, WebhookSubscription.secret, WebhookEvent)
            .join(WebhookDelivery, WebhookDelivery.subscription_id == WebhookSubscription.id)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.id == delivery_id)
        ).one()
        session.commit()
        url, secret, event = row
        claimed.append(
            DueDelivery(
                delivery_id=delivery_id,
                attempt=attempts + 1,
                url=url,
                secret=secret,
                message_id=event.message_id,
                event_type=event.type,
                payload=dict(event.payload),
                created_at=_aware(event.created_at) or now,
            )
        )
    return claimed


def record_attempt(
    session: Session,
    *,
    delivery_id: int,
    attempt: int,
    ok: bool,
    response_code: int | None,
    error: str,
    retry_in_s: float | None,
) -> str:
    """Store how an attempt went: succeeded, pending again (retry in `retry_in_s`), or failed (None: gave up)."""
    now = utcnow()
    if ok:
        status, next_at = SUCCEEDED, None
    elif retry_in_s is not None:
        status, next_at = PENDING, now + timedelta(seconds=retry_in_s)
    else:
        status, next_at = FAILED, None
    begin_write(session)
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.attempts == attempt)
        .values(
            status=status,
            next_attempt_at=next_at,
            last_attempt_at=now,
            response_code=response_code,
            last_error=error[:2000],
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return status


def replay_delivery(session: Session, *, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again (same event, same message id) as a new attempt, as soon as the dispatcher runs."""
    begin_write(session)
    delivery = session.get(WebhookDelivery, delivery_id, populate_existing=True)
    if delivery is None:
        session.rollback()
        raise NotFoundError(f"no webhook delivery with id {delivery_id}")
    delivery.status = PENDING
    delivery.next_attempt_at = utcnow()
    session.commit()
    return delivery


@dataclass(frozen=True)
class DeliveryRow:
    """A delivery as the Admin tab and the CLI list it."""

    id: int
    subscription_id: int
    url: str
    event_type: str
    message_id: str
    status: str
    attempts: int
    response_code: int | None
    last_error: str
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None


def recent_deliveries(session: Session, *, limit: int = 50, subscription_id: int | None = None) -> list[DeliveryRow]:
    """The newest deliveries first, with their subscription's URL and their event."""
    query = (
        select(WebhookDelivery, WebhookSubscription.url, WebhookEvent.type, WebhookEvent.message_id)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if subscription_id is not None:
        query = query.where(WebhookDelivery.subscription_id == subscription_id)
    rows = [
        DeliveryRow(
            id=delivery.id,
            subscription_id=delivery.subscription_id,
            url=url,
            event_type=event_type,
            message_id=message_id,
            status=delivery.status,
            attempts=delivery.attempts,
            response_code=delivery.response_code,
            last_error=delivery.last_error,
            last_attempt_at=_aware(delivery.last_attempt_at),
            next_attempt_at=_aware(delivery.next_attempt_at),
        )
        for delivery, url, event_type, message_id in session.execute(query)
    ]
    session.commit()
    return rows


def has_work(session: Session, *, now: datetime | None = None) -> bool:
    """Whether an event waits to be fanned out or a delivery is due: the dispatcher's cheap idle check."""
    now = now or utcnow()
    waiting = session.scalar(
        select(
            exists().where(WebhookEvent.dispatched_at.is_(None))
            | exists().where(WebhookDelivery.status.in_((PENDING, SENDING)), WebhookDelivery.next_attempt_at <= now)
        )
    )
    session.commit()
    return bool(waiting)
