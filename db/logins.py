"""Login attempts: recorded per username and client address, and how long the next try must wait (backoff)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.settings import Settings
from db.models import LoginAttempt, utcnow
from db.session import begin_write


def record_login(session: Session, *, username: str, address: str, succeeded: bool) -> None:
    begin_write(session)
    session.add(LoginAttempt(username=username[:200], address=address[:100], succeeded=succeeded))
    session.commit()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)


def _wait(
    session: Session, column: Any, value: str, free: int, settings: Settings, now: datetime, *, reset: bool
) -> float:
    """Seconds left before the next try: failures within the window (since the last success, with `reset`)
    past `free` double the wait each time (counted from the last failure), up to the maximum."""
    since = now - timedelta(seconds=settings.login_window_s)
    if reset:
        last_success = session.scalar(
            select(func.max(LoginAttempt.created_at)).where(column == value, LoginAttempt.succeeded.is_(True))
        )
        if last_success is not None and _aware(last_success) > since:
            since = _aware(last_success)
    failures, last_failure = session.execute(
        select(func.count(LoginAttempt.id), func.max(LoginAttempt.created_at)).where(
            column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.created_at > since
        )
    ).one()
    if failures < free or last_failure is None:
        return 0.0
    wait = min(settings.login_backoff_s * 2 ** (failures - free), settings.login_backoff_max_s)
    return max(0.0, wait - (now - _aware(last_failure)).total_seconds())


def login_wait_s(session: Session, *, username: str, address: str, settings: Settings) -> float:
    """How long this username, or this address, must wait before its next login try (0: try now).

    A user's count restarts at their successful login; an address's does not (an attacker with an account of
    their own would otherwise reset it between guesses).
    """
    now = utcnow()
    return max(
        _wait(session, LoginAttempt.username, username, settings.login_free_failures, settings, now, reset=True),
        _wait(session, LoginAttempt.address, address, settings.login_address_free_failures, settings, now, reset=False),
    )
