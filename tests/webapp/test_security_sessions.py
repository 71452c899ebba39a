"""Second round of attacks on the running app: forged token cookies, Gradio's extra routes, parallel and forwarded
logins, foreign hosts, cross-site logout, other users' events and classes (HTTP, the named API, the CLI, Chromium)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from core.critic import Critic
from db.models import Annotation, LoginAttempt
from db.session import session_scope
from db.users import create_user
from tests.cli.runner import critic
from tests.core.scripted_backend import ScriptedBackend
from tests.webapp import test_security as first_round
from tests.webapp.conftest import scripted_critique
from tests.webapp.server import running_app
from tests.webapp.test_security import Attacker
from webapp.handlers import admin

pytestmark = pytest.mark.slow
evil_site = first_round.evil_site  # the fixture: a static site on another origin


@pytest.fixture
def app_url(web) -> Iterator[str]:
    with running_app(web.ctx) as url:
        yield url


def _token_cookie(client: Attacker) -> tuple[str, str]:
    """The (name, value) of the login cookie Gradio reads: access-token-<app id>."""
    return next((k, v) for k, v in client.http.cookies.items() if k.startswith("access-token-") and "unsecure" not in k)


def _forged(url: str, name: str, token: str) -> httpx.Client:
    """A client sending a junk token cookie first and the real one after it (the revocation check used to read
    only the first cookie named access-token*)."""
    return httpx.Client(base_url=url, timeout=30, headers={"Cookie": f"access-token-zzz=junk; {name}={token}"})


def _annotations(url: str) -> int:
    with session_scope(url) as session:
        return session.scalar(select(func.count(Annotation.id))) or 0


# ---- 1. sessions end, whatever cookies a request carries ------------------------------------------------------


def test_an_old_token_behind_a_junk_cookie_is_refused_after_a_password_change(web, app_url: str) -> None:
    victim = Attacker(app_url, "annotator", "pw-annotator")
    save = victim.fn_index(api_name="save_annotation")
    name, token = _token_cookie(victim)
    forged = _forged(app_url, name, token)
    assert forged.get("gradio_api/login_check").status_code == 200  # the forged header reads as the session
    admin.change_user(web.ctx, web["admin"], username="annotator", role="annotator", password="new-secret")
    assert forged.get("gradio_api/login_check").status_code == 401
    assert forged.get("config").status_code == 401
    victim.http = forged  # the same page session, now with the forged cookie header
    ok, message = victim.call(save, [1, [1], "", 1, None, None, [], "", True])
    assert not ok and _annotations(web.url) == 0, message


def test_critic_user_passwd_and_deactivate_end_every_session_of_the_user(web, app_url: str) -> None:
    annotator = [Attacker(app_url, "annotator", "pw-annotator") for _ in range(2)]  # two browsers
    reviewer = Attacker(app_url, "reviewer", "pw-reviewer")
    forged = _forged(app_url, *_token_cookie(annotator[0]))
    changed = critic("user", "passwd", "annotator", "--password", "new-secret", "--database-url", web.url)
    assert changed.exit_code == 0 and "sessions are ended" in changed.output, changed.output
    gone = critic("user", "deactivate", "reviewer", "--database-url", web.url)
    assert gone.exit_code == 0 and "deactivated 'reviewer'" in gone.output, gone.output
    for client in [*annotator, reviewer]:
        assert client.http.get("gradio_api/login_check").status_code == 401
    assert forged.get("gradio_api/login_check").status_code == 401
    assert Attacker(app_url, "annotator", "new-secret").http.get("gradio_api/login_check").status_code == 200
    refused = httpx.post(f"{app_url}login", data={"username": "reviewer", "password": "pw-reviewer"}, timeout=30)
    assert refused.status_code == 400
    # Typed at the prompt (hidden, twice), as a person does.
    prompted = critic("user", "passwd", "annotator", "--database-url", web.url, stdin="typed-pw\ntyped-pw\n")
    assert prompted.exit_code == 0, prompted.output
    assert Attacker(app_url, "annotator", "typed-pw").http.get("gradio_api/login_check").status_code == 200
    unknown = critic("user", "deactivate", "nobody", "--database-url", web.url)
    assert unknown.exit_code == 6 and "no user named 'nobody'" in unknown.output


# ---- 2. deep links and the routes the app does not use ---------------------------------------------------------


def test_deep_links_and_gradio_routes_the_app_does_not_use_are_closed(web, app_url: str) -> None:
    victim = Attacker(app_url, "admin", "pw-admin")
    victim.open_page()
    viewer = Attacker(app_url, "viewer", "pw-viewer").http
    link = viewer.get("gradio_api/deep_link", params={"session_hash": victim.session_hash})
    assert link.status_code == 404
    page = viewer.get("", params={"deep_link": "anything"})
    assert page.status_code == 404 and page.json()["detail"] == "deep links are turned off"
    for method, path in [
        ("GET", "gradio_api/token"),  # the login token, readable by page scripts
        ("GET", "gradio_api/user"),
        ("GET", "gradio_api/app_id"),
        ("GET", "gradio_api/openapi.json"),
        ("GET", "gradio_api/dev/reload"),
        ("POST", "gradio_api/process_recording"),
        ("POST", "gradio_api/vibe-edit"),
        ("GET", "gradio_api/stream/x/1/1/playlist.m3u8"),
    ]:
        assert viewer.request(method, path).status_code == 404, path
    assert viewer.get("").status_code == 200 and viewer.get("config").status_code == 200


def test_gradio_monitoring_is_for_admins_only(web, app_url: str) -> None:
    for client in (httpx.Client(base_url=app_url, timeout=30), Attacker(app_url, "reviewer", "pw-reviewer").http):
        for path in ("monitoring", "monitoring/summary", "monitoring/some-key"):
            answer = client.get(path)
            assert answer.status_code == 403 and "admins only" in answer.text, (path, answer.text)
    boss = Attacker(app_url, "admin", "pw-admin").http
    assert "admins only" not in boss.get("monitoring/summary").text


def test_cancel_needs_a_login_and_stops_only_the_callers_own_events(web) -> None:
    def slow(prompt: str, sample: int) -> str:
        time.sleep(3)
        return scripted_critique(prompt, sample)

    web.ctx._critics[("scripted", "scripted", "single")] = Critic(ScriptedBackend(slow))
    with running_app(web.ctx) as url:
        victim = Attacker(url, "viewer", "pw-viewer")
        joined = victim.http.post(
            "gradio_api/queue/join",
            json={
                "data": ["What is 1+1?", "1+1 = 2.", "", "", "single", 1],
                "fn_index": victim.fn_index(api_name="critique"),
                "session_hash": victim.session_hash,
            },
        )
        event = {"session_hash": victim.session_hash, "fn_index": 0, "event_id": joined.json()["event_id"]}
        anonymous = httpx.post(f"{url}gradio_api/cancel", json=event, timeout=30)
        assert anonymous.status_code == 401
        stranger = Attacker(url, "annotator", "pw-annotator").http
        other = stranger.post("gradio_api/cancel", json=event)
        assert other.status_code == 404 and "among yours" in other.text
        # Hanging up a heartbeat or a stream of that page would close its events too.
        heartbeat = f"gradio_api/heartbeat/{victim.session_hash}"
        assert httpx.get(f"{url}{heartbeat}", timeout=30).status_code == 401
        assert stranger.get(heartbeat).status_code == 404
        assert stranger.get("gradio_api/queue/data", params={"session_hash": victim.session_hash}).status_code == 404
        assert victim.http.post("gradio_api/cancel", json=event).json() == {"success": True}


# ---- 5. login throttling -----------------------------------------------------------------------------------------


def test_parallel_wrong_logins_get_only_the_free_password_checks(web) -> None:
    web.ctx.settings = web.ctx.settings.model_copy(
        update={"login_free_failures": 3, "login_address_free_failures": 100, "login_backoff_s": 60.0}
    )
    start = threading.Barrier(10)

    def guess(i: int) -> int:
        start.wait()
        return httpx.post(f"{url}login", data={"username": "admin", "password": f"guess-{i}"}, timeout=60).status_code

    with running_app(web.ctx) as url:
        with ThreadPoolExecutor(10) as pool:
            answers = sorted(pool.map(guess, range(10)))
    assert answers == [400] * 3 + [429] * 7  # 400: the password was checked (and wrong); 429: never checked
    with session_scope(web.url) as session:
        assert session.scalar(select(func.count(LoginAttempt.id))) == 3


def _login(url: str, username: str, password: str, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return httpx.post(
        f"{url}login", data={"username": username, "password": password}, headers=headers, timeout=30
    ).status_code


def test_forwarded_addresses_count_only_from_trusted_proxies_and_a_locked_account_logs_in_from_a_clean_one(
    web,
) -> None:
    web.ctx.settings = web.ctx.settings.model_copy(
        update={"login_free_failures": 2, "login_address_free_failures": 3, "login_backoff_s": 60.0}
    )
    with running_app(web.ctx) as url:  # default: no trusted proxy, so 127.0.0.1 is the address whatever it says
        rotated = [_login(url, user, "wrong", f"10.9.0.{i}") for i, user in enumerate(("viewer", "teacher", "x", "y"))]
        assert rotated == [400, 400, 400, 429]
    web.ctx.settings = web.ctx.settings.model_copy(update={"trusted_proxies": "127.0.0.1"})
    with running_app(web.ctx) as url:  # behind a proxy on 127.0.0.1: the forwarded address counts
        attacker = "203.0.113.66"
        guesses = [_login(url, "admin", f"guess-{i}", attacker) for i in range(3)]
        assert guesses == [400, 400, 429]  # the account's delay, at the address that failed
        assert _login(url, "admin", "pw-admin", attacker) == 429
        assert _login(url, "admin", "pw-admin", "198.51.100.7") == 200  # the owner, from an address that never failed


# ---- 6. hosts, logout, lookups, messages -------------------------------------------------------------------------


def test_a_foreign_host_is_refused_and_never_echoed(web, app_url: str) -> None:
    port = app_url.rstrip("/").rsplit(":", 1)[1]
    user = Attacker(app_url, "viewer", "pw-viewer").http
    evil = f"evil.example:{port}"
    for path in ("config", ""):
        answer = user.get(path, headers={"Host": evil, "Origin": f"http://{evil}"})
        assert answer.status_code == 400 and "CRITIC_ALLOWED_HOSTS" in answer.text
        assert "access-control-allow-origin" not in answer.headers and "evil" not in answer.text
    rebound = user.post("login", data={"username": "viewer", "password": "pw-viewer"}, headers={"Host": evil})
    assert rebound.status_code == 400
    local = user.get("config", headers={"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"})
    assert local.status_code == 200 and local.headers["access-control-allow-origin"] == f"http://localhost:{port}"


def test_logout_is_a_same_origin_post_that_ends_every_session_of_the_user(web, app_url: str) -> None:
    first, second = Attacker(app_url, "annotator", "pw-annotator"), Attacker(app_url, "annotator", "pw-annotator")
    other = Attacker(app_url, "viewer", "pw-viewer")
    own_origin = app_url.rstrip("/")
    tried = [
        first.http.get("logout"),  # what an <img src=.../logout> on another site sends
        first.http.post("logout"),  # no origin at all
        first.http.post("logout", headers={"Origin": "https://evil.example"}),
        first.http.post("logout", headers={"Origin": own_origin, "Sec-Fetch-Site": "cross-site"}),
    ]
    assert [r.status_code for r in tried] == [405, 403, 403, 403]
    assert first.http.get("gradio_api/login_check").status_code == 200
    done = first.http.post("logout", headers={"Origin": own_origin})
    assert done.status_code == 303 and done.headers["location"] == "./"
    assert all("max-age=0" in c.lower() for c in done.headers.get_list("set-cookie"))
    for client, status in ((first, 401), (second, 401), (other, 200)):
        assert client.http.get("gradio_api/login_check").status_code == status


def test_validation_errors_are_one_readable_line(web, app_url: str) -> None:
    viewer = Attacker(app_url, "viewer", "pw-viewer")
    ok, message = viewer.call(viewer.fn_index(api_name="critique"), ["What is 1+1?", "1+1 = 2.", "", "", "bogus", 1])
    assert not ok and "\n" not in message and "mode 'bogus' is not one of" in message, message
    assert "validation error" not in message.lower() and "pydantic" not in message.lower()


@pytest.mark.browser
def test_logout_in_chromium_and_another_sites_logout_link_does_nothing(
    web, app_url: str, tmp_path: Path, evil_site: tuple[Path, str]
) -> None:
    from playwright.sync_api import sync_playwright

    from tests.webapp.journey import CHROMIUM, CHROMIUM_ARGS
    from tests.webapp.test_browser import _log_in, _wait_text

    with session_scope(web.url) as session:
        create_user(session, username="o'brien", password="pw-obrien", role="viewer")
    folder, evil_url = evil_site
    (folder / "index.html").write_text(
        f'<!doctype html><img src="{app_url}logout"><a id="out" href="{app_url}logout">win a prize</a>'
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        _log_in(page, app_url, "o'brien", "pw-obrien")
        assert page.inner_text("#whoami").strip() == "Logged in as o'brien (viewer)"  # escaped once, shown as typed
        page.goto(evil_url)
        page.click("#out")  # a top-level GET from another site, cookies and all
        page.wait_for_load_state()
        page.goto(app_url)
        _wait_text(page, "#whoami", "Logged in as o'brien")  # still logged in
        page.click("#logout")
        page.wait_for_selector("input[type=password]", timeout=30_000)  # back at the login form
        page.goto(app_url)
        page.wait_for_selector("input[type=password]", timeout=30_000)
        assert page.query_selector("#whoami") is None or "Logged in" not in page.inner_text("#whoami")
        browser.close()


def test_the_default_hosts_follow_the_bind_address_and_a_list_replaces_them() -> None:
    from core.settings import Settings
    from webapp.security import SecurityMiddleware

    def hosts(bind: str, **settings: str) -> dict[str, bool]:
        guard = SecurityMiddleware(lambda *a: None, database_url=None, settings=Settings(**settings), bind_host=bind)
        names = ["127.0.0.1:7860", "localhost", "[::1]:7860", "10.1.2.3:80", "evil.example:7860", "Critic.School.org"]
        return {name: guard.host_allowed(name) for name in names}

    assert hosts("127.0.0.1") == {
        **dict.fromkeys(["127.0.0.1:7860", "localhost", "[::1]:7860"], True),
        **dict.fromkeys(["10.1.2.3:80", "evil.example:7860", "Critic.School.org"], False),
    }
    assert hosts("0.0.0.0")["10.1.2.3:80"] and not hosts("0.0.0.0")["evil.example:7860"]
    listed = hosts("0.0.0.0", allowed_hosts="critic.school.org", allowed_origins="https://portal.school.org")
    assert [name for name, ok in listed.items() if ok] == ["Critic.School.org"]
    portal = SecurityMiddleware(
        lambda *a: None, database_url=None, settings=Settings(allowed_origins="https://portal.school.org:8443")
    )
    assert portal.host_allowed("portal.school.org:8443") and not portal.host_allowed(None)
    for bad in ({"allowed_hosts": "https://critic.school.org"}, {"trusted_proxies": "*"}):
        with pytest.raises(ValueError, match="write"):
            Settings(**bad)
