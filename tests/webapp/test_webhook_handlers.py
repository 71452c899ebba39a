"""Webhook handlers: admins only; a private receiver is refused unless allowed; the secret is shown once."""

from __future__ import annotations

import pytest

from core.errors import BadInputError, NotFoundError, PermissionDeniedError
from core.settings import get_settings
from webapp.handlers import webhooks


@pytest.mark.parametrize("role", ("viewer", "annotator", "teacher", "reviewer"))
def test_only_admins_see_and_change_webhooks(web, role: str) -> None:
    actor = web[role]
    calls = [
        lambda: webhooks.subscriptions_table(web.ctx, actor),
        lambda: webhooks.add_webhook(web.ctx, actor, url="https://example.org/h", events=["job.finished"]),
        lambda: webhooks.deliveries_table(web.ctx, actor),
        lambda: webhooks.replay(web.ctx, actor, delivery_id=1),
    ]
    for call in calls:
        with pytest.raises(PermissionDeniedError):
            call()


def test_admin_registers_a_receiver_and_sees_its_secret_only_once(web, monkeypatch: pytest.MonkeyPatch) -> None:
    boss = web["admin"]
    with pytest.raises(BadInputError, match="CRITIC_WEBHOOK_ALLOW_PRIVATE"):
        webhooks.add_webhook(web.ctx, boss, url="http://127.0.0.1:8000/in", events=["job.finished"])
    monkeypatch.setenv("CRITIC_WEBHOOK_ALLOW_PRIVATE", "1")
    get_settings.cache_clear()
    with pytest.raises(BadInputError, match="pick at least one event"):
        webhooks.add_webhook(web.ctx, boss, url="http://127.0.0.1:8000/in", events=[])
    message = webhooks.add_webhook(
        web.ctx, boss, url="http://127.0.0.1:8000/in", events=["model.promoted", "job.finished"]
    )
    assert "Registered webhook 1 for job.finished, model.promoted" in message and "whsec_" in message
    (row,) = webhooks.subscriptions_table(web.ctx, boss)
    assert row["url"] == "http://127.0.0.1:8000/in" and row["active"] is True
    assert "whsec_" not in str(row)
    assert webhooks.deliveries_table(web.ctx, boss) == []
    with pytest.raises(NotFoundError):
        webhooks.replay(web.ctx, boss, delivery_id=9)
