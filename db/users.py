"""User accounts: create, authenticate (argon2 hashes), change role or password, labeler users for imports."""

from __future__ import annotations

from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import BadInputError, NotFoundError
from db.models import ROLES, User
from db.session import begin_write, commit_unique

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise BadInputError(f"role {role!r} is not one of {', '.join(ROLES)}")


def create_user(
    session: Session, *, username: str, password: str | None, role: str = "annotator", active: bool = True
) -> User:
    """Create a user; `password=None` makes an account nobody can log into (e.g. an imported labeler)."""
    username = username.strip()
    if not username:
        raise BadInputError("username must not be empty")
    _check_role(role)
    begin_write(session)
    user = User(
        username=username, password_hash=hash_password(password) if password else None, role=role, active=active
    )
    session.add(user)
    commit_unique(session, f"user {username!r} already exists")
    return user


def get_user(session: Session, *, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"no user named {username!r}")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def authenticate(session: Session, *, username: str, password: str) -> User | None:
    """The active user with this username and password, or None (same answer for unknown user and bad password)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active or not user.password_hash:
        # Hash anyway so timing does not reveal whether the username exists.
        _hasher.hash(password)
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        begin_write(session)
        user.password_hash = hash_password(password)
        session.commit()
    return user


def set_password(session: Session, *, username: str, password: str) -> User:
    if not password:
        raise BadInputError("password must not be empty")
    hashed = hash_password(password)
    begin_write(session)
    user = get_user(session, username=username)
    user.password_hash = hashed
    user.session_version += 1  # whoever knew the old password is logged out everywhere
    session.commit()
    return user


def set_role(session: Session, *, username: str, role: str, active: bool | None = None) -> User:
    """Change a user's role (and whether they may log in); deactivating logs them out everywhere."""
    _check_role(role)
    begin_write(session)
    user = get_user(session, username=username)
    user.role = role
    if active is not None:
        if user.active and not active:
            user.session_version += 1
        user.active = active
    session.commit()
    return user


def set_active(session: Session, *, username: str, active: bool) -> User:
    """Let a user log in again, or not; deactivating logs them out everywhere (their labels stay)."""
    begin_write(session)
    user = get_user(session, username=username)
    if user.active and not active:
        user.session_version += 1
    user.active = active
    session.commit()
    return user


def session_version(session: Session, *, username: str) -> int | None:
    """The user's current session version, or None when they may not be logged in (unknown or deactivated)."""
    row = session.execute(select(User.active, User.session_version).where(User.username == username)).first()
    return row.session_version if row is not None and row.active else None


def labeler_user_ids(session: Session, usernames: set[str]) -> dict[str, int]:
    """Ids of imported labelers (role annotator, inactive, no password), creating missing ones.

    Runs inside the caller's transaction (the import batch) and does not commit.
    """
    if not usernames:
        return {}
    found = dict(session.execute(select(User.username, User.id).where(User.username.in_(usernames))).all())
    for name in sorted(usernames - found.keys()):
        user = User(username=name, password_hash=None, role="annotator", active=False)
        session.add(user)
        session.flush()
        found[name] = user.id
    return found


def has_login(session: Session) -> bool:
    """Whether any account can log in (has a password)."""
    return session.scalar(select(User.id).where(User.password_hash.is_not(None)).limit(1)) is not None


def usernames(session: Session, user_ids: Iterable[int] | None = None) -> dict[int, str]:
    """User id -> username, for the given ids (all users if None)."""
    query = select(User.id, User.username)
    if user_ids is not None:
        query = query.where(User.id.in_(list(user_ids)))
    return dict(session.execute(query).tuples().all())
