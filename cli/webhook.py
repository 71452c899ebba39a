"""`critic webhook add|list|pause|resume|deliveries|replay|dispatch`: webhooks from the command line."""

from __future__ import annotations

import typer

from cli.options import database_session, echo_rows

app = typer.Typer()


@app.command("add")
def add(
    url: str = typer.Argument(..., help="The receiver's http:// or https:// URL."),
    event: list[str] = typer.Option(
        ..., "--event", "-e", help="An event to send (repeatable): annotation.submitted, annotation.approved, ..."
    ),
    description: str = typer.Option("", help="What the receiver is, for the list."),
) -> None:
    """Register a webhook; prints its signing secret once (receivers verify each delivery with it)."""
    from db.webhooks import add_subscription

    with database_session() as session:
        subscription = add_subscription(session, url=url, events=event, description=description)
    typer.echo(f"registered webhook {subscription.id} for {', '.join(subscription.events)}")
    typer.echo(f"signing secret (shown only now): {subscription.secret}")


@app.command("list")
def list_webhooks() -> None:
    """List webhooks: id, active, URL and events."""
    from core.webhooks import EVENT_TYPES
    from db.webhooks import list_subscriptions

    with database_session() as session:
        rows = list_subscriptions(session)
    echo_rows(
        rows,
        lambda s: f"{s.id:>4}  {'active' if s.active else 'paused':<7} {s.url}  [{', '.join(s.events)}]",
        f"no webhooks yet; add one with `critic webhook add URL --event E` (events: {', '.join(EVENT_TYPES)})",
    )


@app.command("pause")
def pause(subscription_id: int = typer.Argument(..., help="The webhook (see `critic webhook list`).")) -> None:
    """Stop making deliveries for a webhook (events until `resume` are not sent to it)."""
    _set_active(subscription_id, active=False)


@app.command("resume")
def resume(subscription_id: int = typer.Argument(..., help="The webhook (see `critic webhook list`).")) -> None:
    """Make deliveries for a paused webhook again, from the next event on."""
    _set_active(subscription_id, active=True)


def _set_active(subscription_id: int, *, active: bool) -> None:
    from db.webhooks import set_subscription_active

    with database_session() as session:
        subscription = set_subscription_active(session, subscription_id=subscription_id, active=active)
    typer.echo(f"webhook {subscription.id} ({subscription.url}) {'resumed' if active else 'paused'}")


@app.command("deliveries")
def deliveries(limit: int = typer.Option(20, help="How many of the newest deliveries.")) -> None:
    """List recent deliveries: status, attempts, the receiver's answer or the error."""
    from db.webhooks import recent_deliveries

    with database_session() as session:
        rows = recent_deliveries(session, limit=limit)
    echo_rows(
        rows,
        lambda d: (
            f"{d.id:>5}  {d.status:<9} attempts {d.attempts}  {d.event_type:<20} {d.url}  "
            f"{d.response_code or '-'} {d.last_error[:120]}"
        ),
        "no deliveries yet",
    )


@app.command("replay")
def replay(
    delivery_id: int = typer.Argument(..., help="The delivery to send again (see `critic webhook deliveries`)."),
) -> None:
    """Queue a delivery to be sent again (same event and message id); `critic serve` or `dispatch` sends it."""
    from db.webhooks import replay_delivery

    with database_session() as session:
        replay_delivery(session, delivery_id=delivery_id)
    typer.echo(f"delivery {delivery_id} queued again; `critic serve` sends it (or run `critic webhook dispatch`)")


@app.command("dispatch")
def dispatch() -> None:
    """Send what is due now, once (`critic serve` does this in the background all the time)."""
    from training.webhook_dispatcher import dispatch_once

    with database_session():
        pass  # creates or upgrades the database first
    typer.echo(f"made {dispatch_once()} delivery attempt(s)")
