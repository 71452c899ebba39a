"""An admin's webhook journey in the system Chromium against a real `critic serve`, with a local receiver.

The admin registers the receiver for "campaign finished" and closes a campaign; the receiver answers 500, so the
delivery is retried and given up; once the receiver is mended, the admin replays it from the Admin tab and every
request the receiver got carries a signature that verifies with the secret shown at registration.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from standardwebhooks import Webhook

from tests.training.webhook_receiver import webhook_receiver
from tests.webapp.journey import (
    ADMIN_PASSWORD,
    Served,
    critic_serve,
    fill,
    page_as,
    pick,
    press,
    shot,
    tab,
    wait_row,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`critic serve` allowed to send webhooks to this machine, retrying fast; no model is loaded."""
    env = {
        "CRITIC_WEBHOOK_ALLOW_PRIVATE": "1",  # the receiver listens on 127.0.0.1
        "CRITIC_WEBHOOK_MAX_ATTEMPTS": "2",
        "CRITIC_WEBHOOK_BACKOFF_S": "0.5",
        "CRITIC_WEBHOOK_POLL_S": "0.5",
    }
    with critic_serve(tmp_path_factory.mktemp("hooked"), env, log_name="journey-webhooks-serve.log") as served:
        yield served


def _refresh_until_row(page, *cells: str, timeout_s: float = 60.0) -> None:
    """Press ↻ Refresh until the deliveries table shows the row (the dispatcher works in the background)."""
    deadline = time.monotonic() + timeout_s
    while True:
        page.click("#webhooks-refresh")
        try:
            wait_row(page, "#webhooks-deliveries", *cells, timeout=2_000)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise


def test_admin_registers_a_webhook_sees_a_failing_receiver_retried_and_replays_it(
    hooked: Served,
    browser,  # noqa: F811
) -> None:
    with webhook_receiver(status=500) as receiver:
        page = page_as(browser, hooked, "admin", ADMIN_PASSWORD)
        tab(page, "Admin")
        tab(page, "Webhooks")
        fill(page, "#webhooks-url", "ftp://example.org/hook")
        page.click("#webhooks-events label:has-text('campaign.finished')")
        press(page, "#webhooks-add", "#webhooks-status", "must start with http:// or https://")

        fill(page, "#webhooks-url", receiver.url)
        press(page, "#webhooks-add", "#webhooks-status", "Registered webhook 1 for campaign.finished")
        secret = re.search(r"whsec_\S+", page.inner_text("#webhooks-status")).group(0)
        wait_row(page, "#webhooks-subscriptions", "1", receiver.url, "campaign.finished", "true")

        tab(page, "Campaigns")  # closing a campaign is the event
        fill(page, "#admin-campaign-name", "hooked")
        press(page, "#admin-create-campaign", "#admin-status", "Created campaign hooked")
        pick(page, "#admin-campaign-status", "closed")
        press(page, "#admin-save-campaign", "#admin-status", "Saved campaign hooked")

        tab(page, "Webhooks")  # the receiver answered 500 twice: retried, then given up
        _refresh_until_row(page, "1", "campaign.finished", receiver.url, "failed", "2", "500")
        assert "HTTP 500" in page.inner_text("#webhooks-deliveries")
        assert len(receiver.requests) == 2

        receiver.status = 200  # mended
        page.click("#webhooks-deliveries [data-testid=cell-0-0]")
        page.wait_for_function("() => document.querySelector('#webhooks-delivery input').value === '1'")
        press(page, "#webhooks-replay", "#webhooks-status", "Delivery 1 is queued to be sent again")
        _refresh_until_row(page, "1", "campaign.finished", receiver.url, "succeeded", "3", "200")
        shot(page, "admin-webhooks")

    assert len(receiver.requests) == 3
    message_ids = {headers["webhook-id"] for _, headers in receiver.requests}
    assert len(message_ids) == 1  # one event: every attempt and the replay carry its id
    for body, headers in receiver.requests:
        event = Webhook(secret).verify(body, headers)
        assert event["type"] == "campaign.finished" and event["data"]["name"] == "hooked"


def test_the_secret_is_not_shown_again_in_the_list(hooked: Served, browser) -> None:  # noqa: F811
    page = page_as(browser, hooked, "admin", ADMIN_PASSWORD)
    tab(page, "Admin")
    tab(page, "Webhooks")
    wait_row(page, "#webhooks-subscriptions", "1")
    assert "whsec_" not in page.inner_text("body")
