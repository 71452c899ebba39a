"""`critic webhook` as an admin types it: register (secret shown once), list, send, see deliveries, replay."""

from __future__ import annotations

import re

import pytest
from standardwebhooks import Webhook

from core.settings import get_settings
from tests.cli.runner import critic
from tests.training.webhook_receiver import webhook_receiver


def test_a_private_receiver_is_refused_with_the_setting_named(sqlite_db_url: str) -> None:
    result = critic("webhook", "add", "http://127.0.0.1:9/hook", "-e", "job.finished")
    assert result.exit_code == 2
    assert "private, loopback or link-local address (127.0.0.1)" in result.stderr
    assert "CRITIC_WEBHOOK_ALLOW_PRIVATE=1" in result.stderr


def test_add_list_dispatch_deliveries_and_replay(sqlite_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from db.campaigns import create_campaign, update_campaign
    from db.session import session_scope

    monkeypatch.setenv("CRITIC_WEBHOOK_ALLOW_PRIVATE", "1")
    get_settings.cache_clear()
    with webhook_receiver() as receiver:
        result = critic("webhook", "add", receiver.url, "-e", "campaign.finished", "--description", "LMS")
        assert result.exit_code == 0, result.output
        secret = re.search(r"signing secret \(shown only now\): (whsec_\S+)", result.stdout).group(1)
        assert receiver.url in critic("webhook", "list").stdout
        with session_scope() as session:
            campaign = create_campaign(session, name="spring")
            update_campaign(session, campaign_id=campaign.id, status="closed")
        assert "made 1 delivery attempt(s)" in critic("webhook", "dispatch").stdout
        assert re.search(r"1\s+succeeded\s+attempts 1\s+campaign\.finished", critic("webhook", "deliveries").stdout)
        assert "delivery 1 queued again" in critic("webhook", "replay", "1").stdout
        assert "made 1 delivery attempt(s)" in critic("webhook", "dispatch").stdout
    assert len(receiver.requests) == 2
    for body, headers in receiver.requests:
        assert Webhook(secret).verify(body, headers)["data"]["name"] == "spring"
    assert "attempts 2" in critic("webhook", "deliveries").stdout
    assert "webhook 1 (" in critic("webhook", "pause", "1").stdout and "paused" in critic("webhook", "list").stdout
    with session_scope() as session:
        update_campaign(session, campaign_id=create_campaign(session, name="summer").id, status="closed")
    assert "made 0 delivery attempt(s)" in critic("webhook", "dispatch").stdout  # a paused webhook gets nothing
    assert "resumed" in critic("webhook", "resume", "1").stdout
