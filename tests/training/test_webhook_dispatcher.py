"""Webhooks end to end: a change writes its event, the dispatcher signs and sends it, retries, and replays."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from standardwebhooks import Webhook

from core.errors import ConflictError
from core.settings import get_settings
from db.annotations import create_annotation, review_annotation, save_annotation
from db.models import WebhookEvent
from db.webhooks import add_subscription, recent_deliveries, replay_delivery
from tests.training.webhook_receiver import webhook_receiver
from training.webhook_dispatcher import dispatch_once


@pytest.fixture
def webhook_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRITIC_WEBHOOK_ALLOW_PRIVATE", "1")  # the receiver listens on 127.0.0.1
    monkeypatch.setenv("CRITIC_WEBHOOK_BACKOFF_S", "0.01")
    monkeypatch.setenv("CRITIC_WEBHOOK_MAX_ATTEMPTS", "2")
    get_settings.cache_clear()


def _events(session) -> int:
    count = session.scalar(select(func.count()).select_from(WebhookEvent))
    session.commit()
    return count


def _submitted_and_approved(session, make_user, make_item):
    annotator, reviewer = make_user(session, "ann"), make_user(session, "rev", role="reviewer")
    item = make_item(session, "Q?", ["s1", "s2"])
    draft = create_annotation(session, item_id=item.id, annotator_id=annotator.id, ratings=[1, -1])
    submitted = save_annotation(
        session, annotation_id=draft.id, expected_version=1, actor_id=annotator.id, status="submitted"
    )
    review_annotation(session, annotation_id=draft.id, expected_version=2, reviewer_id=reviewer.id, approve=True)
    return submitted, reviewer


def test_with_no_subscription_a_change_writes_no_event(db_session, make_user, make_item) -> None:
    _submitted_and_approved(db_session, make_user, make_item)
    assert _events(db_session) == 0


def test_a_delivery_is_signed_so_the_receiver_verifies_it(
    db_url, db_session, make_user, make_item, webhook_settings
) -> None:
    with webhook_receiver() as receiver:
        subscription = add_subscription(db_session, url=receiver.url, events=["annotation.approved"])
        annotation, reviewer = _submitted_and_approved(db_session, make_user, make_item)
        assert _events(db_session) == 2  # submitted and approved: the outbox holds both, one is subscribed to
        assert dispatch_once(db_url) == 1
        assert len(receiver.requests) == 1
        body, headers = receiver.requests[0]
        event = Webhook(subscription.secret).verify(body, headers)
    assert event["type"] == "annotation.approved"
    assert event["data"]["annotation_id"] == annotation.id and event["data"]["reviewer_id"] == reviewer.id
    (delivery,) = recent_deliveries(db_session)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 1, 200)
    assert dispatch_once(db_url) == 0  # nothing is sent twice


def test_a_failed_change_writes_no_event(db_session, make_user, make_item, webhook_settings) -> None:
    add_subscription(db_session, url="http://127.0.0.1:9/hook", events=["annotation.submitted"])
    annotator = make_user(db_session, "ann")
    item = make_item(db_session, "Q?", ["s1"])
    draft = create_annotation(db_session, item_id=item.id, annotator_id=annotator.id, ratings=[1])
    with pytest.raises(ConflictError):
        save_annotation(
            db_session, annotation_id=draft.id, expected_version=5, actor_id=annotator.id, status="submitted"
        )
    assert _events(db_session) == 0


def test_a_failing_receiver_is_retried_then_given_up_and_a_replay_resends_the_same_message(
    db_url, db_session, make_user, make_item, webhook_settings
) -> None:
    import time

    with webhook_receiver(status=500) as receiver:
        subscription = add_subscription(db_session, url=receiver.url, events=["annotation.submitted"])
        _submitted_and_approved(db_session, make_user, make_item)
        dispatch_once(db_url)
        (first,) = recent_deliveries(db_session)
        assert (first.status, first.attempts, first.response_code) == ("pending", 1, 500)
        assert "HTTP 500" in first.last_error
        time.sleep(0.05)  # the backoff (0.01 s here) has passed
        dispatch_once(db_url)
        (gave_up,) = recent_deliveries(db_session)
        assert (gave_up.status, gave_up.attempts) == ("failed", 2)  # CRITIC_WEBHOOK_MAX_ATTEMPTS=2
        assert dispatch_once(db_url) == 0
        receiver.status = 200
        replay_delivery(db_session, delivery_id=gave_up.id)
        assert dispatch_once(db_url) == 1
        (replayed,) = recent_deliveries(db_session)
        ids = {headers["webhook-id"] for _, headers in receiver.requests}
        for body, headers in receiver.requests:
            Webhook(subscription.secret).verify(body, headers)
    assert (replayed.status, replayed.attempts, replayed.response_code) == ("succeeded", 3, 200)
    assert len(receiver.requests) == 3 and ids == {replayed.message_id}


def test_promotion_and_job_end_emit_their_events(db_url, db_session, webhook_settings) -> None:
    from db.models import ModelVersion, TrainingJob
    from training.queue import claim_next_job, finish_job
    from training.registry import promote, rollback

    add_subscription(db_session, url="http://127.0.0.1:9/hook", events=["model.promoted", "job.finished"])
    db_session.add(ModelVersion(name="v1", path="/tmp/v1", kind="critic", status="candidate"))
    db_session.add(TrainingJob(kind="sft", status="queued", config={}, max_attempts=1, attempts=0))
    db_session.commit()
    promote(db_session, version_id=1)
    rollback(db_session)
    job = claim_next_job(db_session, worker_id="w")
    finish_job(db_session, job_id=job.id, worker_id="w", attempt=job.attempts, status="failed", error="boom")
    types = [e.type for e in db_session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))]
    db_session.commit()
    assert types == ["model.promoted", "model.rolled_back", "job.finished"]
    dispatch_once(db_url)
    assert sorted(d.event_type for d in recent_deliveries(db_session)) == ["job.finished", "model.promoted"]
