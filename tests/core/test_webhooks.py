"""Webhook rules: only public http(s) receivers unless allowed, secrets in the spec's form, signatures that verify."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook

from core.errors import BadInputError
from core.webhooks import backoff_s, check_url, event_body, new_secret, signed_headers


def _resolves_to(*addresses: str):
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "192.168.0.5", "169.254.169.254", "::1", "fe80::1", "::ffff:127.0.0.1"]
)
def test_a_url_resolving_to_a_private_address_is_refused_and_the_message_names_the_setting(address: str) -> None:
    with pytest.raises(BadInputError, match="CRITIC_WEBHOOK_ALLOW_PRIVATE") as info:
        check_url("https://hooks.example.org/x", allow_private=False, resolve=_resolves_to("93.184.216.34", address))
    assert address in str(info.value)


def test_a_public_https_url_is_accepted_and_private_ones_only_when_allowed() -> None:
    url = "https://hooks.example.org/in"
    assert check_url(url, allow_private=False, resolve=_resolves_to("93.184.216.34")) == url
    assert check_url("http://127.0.0.1:9/x", allow_private=True) == "http://127.0.0.1:9/x"


@pytest.mark.parametrize("url", ["ftp://example.org/x", "file:///etc/passwd", "https://", "https://u:p@example.org/"])
def test_only_plain_http_and_https_urls_are_accepted(url: str) -> None:
    with pytest.raises(BadInputError):
        check_url(url, allow_private=True)


def test_the_signed_headers_verify_with_the_standard_webhooks_library() -> None:
    from datetime import UTC, datetime

    secret = new_secret()
    assert secret.startswith("whsec_")
    body = event_body("msg_1", "annotation.approved", {"annotation_id": 3, "note": "ünïcode"}, datetime.now(UTC))
    headers = signed_headers(secret, "msg_1", body)
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "annotation.approved" and payload["data"]["annotation_id"] == 3
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify(body, headers)


def test_the_backoff_doubles_and_stops_at_its_bound() -> None:
    assert [backoff_s(n, base_s=10, max_s=60) for n in range(1, 6)] == [10, 20, 40, 60, 60]
