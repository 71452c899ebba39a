"""Users: argon2-hashed passwords, roles, authentication."""

from __future__ import annotations

import pytest

from core.errors import BadInputError, ConflictError
from db.users import authenticate, create_user, set_password, set_role


def test_passwords_are_hashed_and_checked(db_session) -> None:
    user = create_user(db_session, username="alice", password="s3cret!", role="reviewer")
    assert user.password_hash and "s3cret!" not in user.password_hash
    assert user.password_hash.startswith("$argon2")
    assert authenticate(db_session, username="alice", password="s3cret!").id == user.id
    assert authenticate(db_session, username="alice", password="wrong") is None
    assert authenticate(db_session, username="nobody", password="s3cret!") is None


def test_inactive_and_passwordless_users_cannot_log_in(db_session) -> None:
    create_user(db_session, username="labeler", password=None)
    assert authenticate(db_session, username="labeler", password="") is None
    create_user(db_session, username="bob", password="pw")
    set_role(db_session, username="bob", role="viewer", active=False)
    assert authenticate(db_session, username="bob", password="pw") is None
    set_role(db_session, username="bob", role="viewer", active=True)
    set_password(db_session, username="bob", password="new")
    assert authenticate(db_session, username="bob", password="new").role == "viewer"


def test_duplicate_username_and_unknown_role_are_clear_errors(db_session) -> None:
    create_user(db_session, username="carol", password="pw")
    with pytest.raises(ConflictError, match="already exists"):
        create_user(db_session, username="carol", password="pw")
    with pytest.raises(BadInputError, match="role 'boss'"):
        create_user(db_session, username="dave", password="pw", role="boss")
