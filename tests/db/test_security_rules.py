"""Data-integrity rules of the database layer: where a label may go, who reviews it, who sees a class."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from core.errors import NotFoundError, PermissionDeniedError
from core.types import SolutionItem
from db.annotation_queue import check_may_label, set_assignments
from db.annotations import annotation_authors, create_annotation, review_annotation, save_annotation
from db.campaigns import create_campaign, update_campaign
from db.classes import create_class, get_class, list_classes, remember_class, remembered_class
from db.items import link_items
from db.models import Campaign, User
from db.session import begin_write


@pytest.fixture
def setup(db_session, make_user, make_item):
    ann = make_user(db_session, "ann")
    bob = make_user(db_session, "bob")
    rev = make_user(db_session, "rev", role="reviewer")
    boss = make_user(db_session, "boss", role="admin")
    item = make_item(db_session)
    other = make_item(db_session, "What is 2+2?")
    campaign = create_campaign(db_session, name="c1")
    link_items(db_session, campaign_id=campaign.id, item_ids=[item.id])
    db_session.commit()
    return {"ann": ann, "bob": bob, "rev": rev, "boss": boss, "item": item, "other": other, "campaign": campaign}


def _check(session, s, *, user: str = "ann", item: str = "item", campaign_id: int | None = -1) -> None:
    u = s[user]
    check_may_label(
        session,
        campaign_id=s["campaign"].id if campaign_id == -1 else campaign_id,
        item_id=s[item].id,
        user_id=u.id,
        role=u.role,
    )


def test_a_label_goes_only_into_an_active_campaign_holding_the_item_from_an_assigned_user(db_session, setup) -> None:
    s = setup
    _check(db_session, s)  # open campaign, item in it: allowed
    with pytest.raises(PermissionDeniedError, match="not in campaign"):
        _check(db_session, s, item="other")
    with pytest.raises(Exception, match="belong to a campaign"):
        _check(db_session, s, campaign_id=None)
    set_assignments(db_session, campaign_id=s["campaign"].id, user_ids=[s["bob"].id])
    with pytest.raises(PermissionDeniedError, match="not assigned"):
        _check(db_session, s)
    _check(db_session, s, user="bob")
    _check(db_session, s, user="boss")  # admins label any campaign
    for status in ("paused", "closed"):
        update_campaign(db_session, campaign_id=s["campaign"].id, status=status)
        with pytest.raises(PermissionDeniedError, match=f"is {status}"):
            _check(db_session, s, user="bob")


def test_nobody_approves_their_own_annotation(db_session, setup) -> None:
    s = setup
    own = create_annotation(
        db_session,
        item_id=s["item"].id,
        annotator_id=s["rev"].id,
        campaign_id=s["campaign"].id,
        ratings=[1, 1],
        status="submitted",
    )
    with pytest.raises(PermissionDeniedError, match="own annotation"):
        review_annotation(db_session, annotation_id=own.id, expected_version=1, reviewer_id=s["rev"].id, approve=True)
    approved = review_annotation(
        db_session, annotation_id=own.id, expected_version=1, reviewer_id=s["boss"].id, approve=True
    )
    assert approved.status == "approved"


def test_a_reviewer_who_edited_a_label_cannot_approve_it_and_another_one_must(db_session, setup, make_user) -> None:
    s = setup
    label = create_annotation(
        db_session,
        item_id=s["item"].id,
        annotator_id=s["ann"].id,
        campaign_id=s["campaign"].id,
        ratings=[1, 1],
        status="submitted",
    )
    edited = save_annotation(
        db_session, annotation_id=label.id, expected_version=1, actor_id=s["rev"].id, ratings=[1, -1]
    )
    assert annotation_authors(db_session, annotation_id=label.id) == [s["ann"].id, s["rev"].id]
    with pytest.raises(PermissionDeniedError, match="you edited annotation .* another reviewer approves"):
        review_annotation(
            db_session, annotation_id=label.id, expected_version=edited.version, reviewer_id=s["rev"].id, approve=True
        )
    second = make_user(db_session, "rev2", role="reviewer")
    approved = review_annotation(
        db_session, annotation_id=label.id, expected_version=edited.version, reviewer_id=second.id, approve=True
    )
    assert (approved.status, approved.ratings, approved.reviewer_id) == ("approved", [1, -1], second.id)
    # Editing an approved label sends it back for a fresh review.
    again = save_annotation(
        db_session, annotation_id=label.id, expected_version=approved.version, actor_id=s["rev"].id, ratings=[1, 1]
    )
    assert again.status == "submitted"


def test_a_class_is_seen_by_its_owner_and_admins_only(db_session, setup) -> None:
    s = setup
    item = SolutionItem(problem="What is 3+3?", steps=["3+3 = 6."])
    klass = create_class(db_session, name="7B", submissions=[("Ann", item)], created_by_id=s["ann"].id)
    assert klass.owner_id == s["ann"].id
    assert [c.id for c in list_classes(db_session, user_id=s["ann"].id, role="teacher")] == [klass.id]
    assert [c.id for c in list_classes(db_session, user_id=s["boss"].id, role="admin")] == [klass.id]
    assert list_classes(db_session, user_id=s["bob"].id, role="teacher") == []
    with pytest.raises(NotFoundError, match="no class with id"):
        get_class(db_session, class_id=klass.id, user_id=s["bob"].id, role="teacher")
    with pytest.raises(NotFoundError):  # an annotation campaign is not a class
        get_class(db_session, class_id=s["campaign"].id, user_id=s["boss"].id, role="admin")
    with pytest.raises(PermissionDeniedError, match="teacher's class"):
        check_may_label(db_session, campaign_id=klass.id, item_id=s["item"].id, user_id=s["boss"].id, role="admin")
    with pytest.raises(NotFoundError, match=f"^no campaign with id {klass.id}$"):  # its name stays the owner's
        check_may_label(db_session, campaign_id=klass.id, item_id=s["item"].id, user_id=s["bob"].id, role="teacher")


def test_the_class_a_teacher_picked_is_remembered_while_it_exists_and_is_theirs(db_session, setup) -> None:
    s = setup
    ann, bob = s["ann"], s["bob"]
    item = SolutionItem(problem="What is 3+3?", steps=["3+3 = 6."])
    older = create_class(db_session, name="7B", submissions=[("Ann", item)], created_by_id=ann.id)
    newer = create_class(db_session, name="8A", submissions=[("Ben", item)], created_by_id=ann.id)
    assert remembered_class(db_session, user_id=ann.id, role="teacher") is None
    remember_class(db_session, class_id=older.id, user_id=ann.id, role="teacher")
    assert remembered_class(db_session, user_id=ann.id, role="teacher") == older.id
    with pytest.raises(NotFoundError):  # another teacher's class, or an annotation campaign, is never kept
        remember_class(db_session, class_id=older.id, user_id=bob.id, role="teacher")
    with pytest.raises(NotFoundError):
        remember_class(db_session, class_id=s["campaign"].id, user_id=s["boss"].id, role="admin")
    assert remembered_class(db_session, user_id=bob.id, role="teacher") is None

    remember_class(db_session, class_id=newer.id, user_id=ann.id, role="teacher")
    begin_write(db_session)
    db_session.get(Campaign, newer.id).owner_id = bob.id  # handed to another teacher: no longer ann's
    db_session.commit()
    assert remembered_class(db_session, user_id=ann.id, role="teacher") is None
    begin_write(db_session)
    db_session.execute(delete(Campaign).where(Campaign.id == newer.id))
    db_session.commit()
    # The database clears it with the class.
    assert db_session.scalar(select(User.last_class_id).where(User.id == ann.id)) is None


def test_a_big_class_upload_never_holds_up_another_users_save_for_a_second(sqlite_db_url, make_user, make_item) -> None:
    import threading
    import time

    from db.annotations import save_annotation
    from db.session import session_scope

    with session_scope(sqlite_db_url) as session:
        teacher = make_user(session, "teach", role="teacher")
        ann = make_user(session, "ann")
        item = make_item(session)
        label = create_annotation(session, item_id=item.id, annotator_id=ann.id, ratings=[1, 1])
        label_id, teacher_id, ann_id = label.id, teacher.id, ann.id
    submissions = [
        (f"student {i}", SolutionItem(problem=f"What is {i}+{i}?", steps=[f"{i}+{i} = {2 * i}.", "Done."]))
        for i in range(6000)
    ]
    started = threading.Event()
    upload_s: list[float] = []

    def upload() -> None:
        with session_scope(sqlite_db_url) as session:
            started.set()
            t0 = time.perf_counter()
            create_class(session, name="big", submissions=submissions, created_by_id=teacher_id)
            upload_s.append(time.perf_counter() - t0)

    thread = threading.Thread(target=upload)
    thread.start()
    started.wait()
    waits, version = [], 1
    with session_scope(sqlite_db_url) as session:
        while thread.is_alive():
            t0 = time.perf_counter()
            row = save_annotation(
                session, annotation_id=label_id, expected_version=version, actor_id=ann_id, comment=str(version)
            )
            waits.append(time.perf_counter() - t0)
            version = row.version
            time.sleep(0.02)
    thread.join()
    assert upload_s and len(waits) >= 3, (upload_s, waits)
    assert max(waits) < 1.0, f"a save waited {max(waits):.2f} s during a {upload_s[0]:.1f} s class upload"


def test_password_change_and_deactivation_move_the_session_version(db_session, make_user) -> None:
    from db.users import session_version, set_password, set_role

    make_user(db_session, "sam")
    before = session_version(db_session, username="sam")
    set_password(db_session, username="sam", password="new")
    after_password = session_version(db_session, username="sam")
    assert after_password == before + 1
    set_role(db_session, username="sam", role="annotator", active=False)
    assert session_version(db_session, username="sam") is None  # deactivated: no session is valid


def test_login_waits_grow_after_the_free_failures_and_a_success_resets_only_the_user(db_session) -> None:
    from core.settings import Settings
    from db.logins import login_wait_s, record_login

    settings = Settings(login_free_failures=2, login_address_free_failures=3, login_backoff_s=10.0)
    for _ in range(2):
        record_login(db_session, username="eve", address="10.0.0.9", succeeded=False)
    assert 9 < login_wait_s(db_session, username="eve", address="10.0.0.9", settings=settings) <= 10
    record_login(db_session, username="eve", address="10.0.0.9", succeeded=False)
    assert 19 < login_wait_s(db_session, username="eve", address="10.0.0.9", settings=settings) <= 20
    # The account's lockout never holds up its owner at an address that has not failed.
    assert login_wait_s(db_session, username="eve", address="10.0.0.1", settings=settings) == 0
    record_login(db_session, username="eve", address="10.0.0.1", succeeded=True)
    # Eve's success restarts her count, not the address's: 10.0.0.9 still waits, for any name.
    assert 9 < login_wait_s(db_session, username="eve", address="10.0.0.9", settings=settings) <= 10
    assert login_wait_s(db_session, username="bob", address="10.0.0.9", settings=settings) > 0
    assert login_wait_s(db_session, username="eve", address="10.0.0.2", settings=settings) == 0


def test_parallel_login_tries_are_reserved_one_at_a_time(db_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from core.settings import Settings
    from db.logins import reserve_login, settle_login
    from db.session import session_scope

    settings = Settings(login_free_failures=3, login_address_free_failures=50, login_backoff_s=60.0)

    def reserve(_: int) -> int | None:
        with session_scope(db_url) as session:
            return reserve_login(session, username="admin", address="10.0.0.9", settings=settings)[0]

    with ThreadPoolExecutor(8) as pool:
        reserved = [r for r in pool.map(reserve, range(12)) if r is not None]
    assert len(reserved) == 3  # only the free tries reach a password check, however many run at once
    with session_scope(db_url) as session:
        first, _ = reserve_login(session, username="admin", address="10.0.0.1", settings=settings)
        assert first is not None  # the owner, from an address that has not failed
        settle_login(session, attempt_id=first, succeeded=True)
        assert reserve_login(session, username="admin", address="10.0.0.9", settings=settings)[0] is not None
