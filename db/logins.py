"""Login attempts: reserved per username and client address before the password is checked, and how long the next
try must wait (backoff)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, func, select, text, update
from sqlalchemy.orm import Session

from core.settings import Settings
from db.models import LoginAttempt, utcnow
from db.session import begin_write


def record_login(session: Session, *, username: str, address: str, succeeded: bool) -> None:
    """Store a finished attempt (imports and tests; the web app reserves with `reserve_login` instead)."""
    begin_write(session)
    session.add(LoginAttempt(username=username[:200], address=address[:100], succeeded=succeeded))
    session.commit()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)


def _account_since(session: Session, username: str, since: datetime) -> datetime:
    """The start of the account's count: the window's start, or its last successful login if later."""
    last_success = session.scalar(
        select(func.max(LoginAttempt.created_at)).where(
            LoginAttempt.username == username, LoginAttempt.succeeded.is_(True)
        )
    )
    return max(since, _aware(last_success)) if last_success is not None else since


def _wait(
    session: Session, where: ColumnElement[bool], since: datetime, free: int, settings: Settings, now: datetime
) -> float:
    """Seconds left before the next try: failures since `since` past `free` double the wait each time (counted
    from the last failure), up to the maximum."""
    failures, last_failure = session.execute(
        select(func.count(LoginAttempt.id), func.max(LoginAttempt.created_at)).where(
            where, LoginAttempt.succeeded.is_(False), LoginAttempt.created_at > since
        )
    ).one()
    if failures < free or last_failure is None:
        return 0.0
    wait = min(settings.login_backoff_s * 2 ** (failures - free), settings.login_backoff_max_s)
    return max(0.0, wait - (now - _aware(last_failure)).total_seconds())


def login_wait_s(session: Session, *, username: str, address: str, settings: Settings) -> float:
    """How long a login try of this username from this address must wait (0: try now).

    The address's own backoff comes first; its count never restarts at a success (an attacker with an account of
    their own would otherwise reset it between guesses). The username's delay (restarted by the user's successful
    login, capped by login_backoff_max_s) holds only for an address that has itself failed at this username since:
    a lockout someone else causes never blocks the account's owner logging in from an address that has not failed.
    """
    now = utcnow()
    window_start = now - timedelta(seconds=settings.login_window_s)
    address_wait = _wait(
        session,
        LoginAttempt.address == address,
        window_start,
        settings.login_address_free_failures,
        settings,
        now,
    )
    since = _account_since(session, username, window_start)
    failed_here = session.scalar(
        select(
            exists().where(
                LoginAttempt.username == username,
                LoginAttempt.address == address,
                LoginAttempt.succeeded.is_(False),
                LoginAttempt.created_at > since,
            )
        )
    )
    if not failed_here:
        return address_wait
    account_wait = _wait(session, LoginAttempt.username == username, since, settings.login_free_failures, settings, now)
    return max(address_wait, account_wait)


def reserve_login(session: Session, *, username: str, address: str, settings: Settings) -> tuple[int | None, float]:
    """One atomic step per login try, before the password is checked: (the reserved attempt's id, 0) when it may
    go ahead, else (None, seconds to wait).

    The check and the reservation happen under the database's write lock, and a reservation counts as a failure
    until `settle_login` says otherwise, so parallel guesses are counted like successive ones.
    """
    username, address = username[:200], address[:100]
    begin_write(session)
    if session.get_bind().dialect.name == "postgresql":
        # SQLite's BEGIN IMMEDIATE already serialises writers; PostgreSQL needs the table lock to do the same.
        session.execute(text("LOCK TABLE login_attempts IN SHARE ROW EXCLUSIVE MODE"))
    wait = login_wait_s(session, username=username, address=address, settings=settings)
    if wait > 0:
        session.rollback()
        return None, wait
    attempt = LoginAttempt(username=username, address=address, succeeded=False)
    session.add(attempt)
    session.commit()
    return attempt.id, 0.0


def settle_login(session: Session, *, attempt_id: int, succeeded: bool) -> None:
    """Record how a reserved try ended (a failure is already counted)."""
    if succeeded:
        begin_write(session)
        session.execute(update(LoginAttempt).where(LoginAttempt.id == attempt_id).values(succeeded=True))
        session.commit()
