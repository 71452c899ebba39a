"""Attacks on the running app, as an outsider and as each role: through Gradio's queue protocol and in Chromium."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.errors import NotFoundError
from db.annotation_queue import set_assignments
from db.models import Annotation
from db.session import session_scope
from db.users import create_user
from tests.webapp.server import running_app
from webapp.handlers import admin, annotate, teacher
from webapp.permissions import Actor

pytestmark = pytest.mark.slow

CLASS_CSV = (
    "student,problem,solution\n"
    'Ann Private,"What is 2+3?","2+3 = 5.\n\nSo the answer is 5."\n'
    'Ben Private,"What is 2+4?","2+4 = 7.\n\nSo the answer is 7."\n'
)


class Attacker:
    """A logged-in (or anonymous) HTTP client calling event functions by `fn_index`, as the page's JavaScript does."""

    def __init__(self, url: str, username: str | None = None, password: str | None = None) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=60)
        if username is not None:
            response = self.http.post("login", data={"username": username, "password": password})
            assert response.status_code == 200, response.text
        self._config: dict[str, Any] | None = None
        self.session_hash = uuid.uuid4().hex[:11]  # one page: gr.State values live on the server per session

    @property
    def config(self) -> dict[str, Any]:
        if self._config is None:
            self._config = self.http.get("config").json()
        return self._config

    def fn_index(self, *, api_name: str | None = None, elem_id: str | None = None, event: str = "click") -> int:
        """The index of an event function, by its API name or by the elem_id and event of the component firing it."""
        config = self.config
        ids = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
        for dep in config["dependencies"]:
            if api_name is not None and dep.get("api_name") == api_name:
                return dep["id"]
            if elem_id is not None and any(ids.get(t) == elem_id and e == event for t, e in dep["targets"]):
                return dep["id"]
        raise AssertionError(f"no event function {api_name or elem_id!r}")

    def open_page(self) -> None:
        """Run the page-load events (they fill this session's dropdowns), as the browser does after login."""
        for dep in self.config["dependencies"]:
            if any(event == "load" for _target, event in dep["targets"]):
                self.call(dep["id"], [])

    def call(self, fn_index: int, data: list[Any]) -> tuple[bool, Any]:
        """Join the queue and read the event's outcome: (True, output data) or (False, the error message)."""
        session_hash = self.session_hash
        joined = self.http.post(
            "gradio_api/queue/join",
            json={"data": data, "fn_index": fn_index, "session_hash": session_hash, "event_data": None},
        )
        if joined.status_code != 200:
            return False, f"HTTP {joined.status_code}: {joined.text}"
        with self.http.stream("GET", "gradio_api/queue/data", params={"session_hash": session_hash}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    output = message.get("output") or {}
                    if message.get("success") and "error" not in output:
                        return True, output.get("data")
                    return False, output.get("error") or str(output)
        raise AssertionError("the queue stream ended without a result")


@pytest.fixture
def app_url(web) -> Iterator[str]:
    with running_app(web.ctx) as url:
        yield url


def _annotation_count(url: str) -> int:
    with session_scope(url) as session:
        return session.scalar(select(func.count(Annotation.id))) or 0


# ---- 2. labels cannot be poisoned --------------------------------------------------------------------------


@pytest.fixture
def campaigns(web, campaign_file: Path, tmp_path: Path) -> dict[str, Any]:
    """An open campaign, one restricted to the reviewer, a closed one, and a teacher's class."""
    a = web["admin"]
    out: dict[str, Any] = {}
    for name in ("open", "restricted", "closed"):
        cid = admin.new_campaign(web.ctx, a, name=name, overlap=2)
        admin.upload_campaign_data(web.ctx, a, campaign_id=cid, path=campaign_file)
        out[name] = cid
    with session_scope(web.url) as session:
        set_assignments(session, campaign_id=out["restricted"], user_ids=[web["reviewer"].id])
    admin.edit_campaign(web.ctx, a, campaign_id=out["closed"], status="closed")
    task = annotate.next_task(web.ctx, web["annotator"], campaign_id=out["open"])
    out["item_id"], out["n_steps"] = task.item_id, len(task.steps)
    path = tmp_path / "class.csv"
    path.write_text(CLASS_CSV)
    out["class"], _ = teacher.upload_class(web.ctx, web["teacher"], name="7B", path=path, start=False)
    out["class_item"] = teacher.report_rows(web.ctx, web["teacher"], class_id=out["class"])[0].item_id
    return out


def test_an_annotator_cannot_save_labels_outside_an_open_campaign_they_are_assigned_to(
    web, campaigns: dict[str, Any], app_url: str
) -> None:
    attacker = Attacker(app_url, "annotator", "pw-annotator")
    save = attacker.fn_index(api_name="save_annotation")
    item, n = campaigns["item_id"], campaigns["n_steps"]

    def attempt(item_id: int, campaign_id: int | None) -> tuple[bool, Any]:
        return attacker.call(save, [item_id, [1] * n, "", campaign_id, None, None, [], "", True, None])

    for item_id, campaign_id, why in [
        (item, campaigns["restricted"], "not assigned"),
        (campaigns["class_item"], campaigns["open"], "not in campaign"),
        (item, campaigns["class"], f"no campaign with id {campaigns['class']}"),  # as if it did not exist
        (item, 10_000, "no campaign with id 10000"),
        (item, None, "belong to a campaign"),
        (item, campaigns["closed"], "is closed"),
    ]:
        ok, message = attempt(item_id, campaign_id)
        assert not ok and why in message and "7B" not in message, (campaign_id, message)
    assert _annotation_count(web.url) == 0
    ok, [saved] = attempt(item, campaigns["open"])  # the legitimate save still works
    assert ok and saved["saved"]["status"] == "submitted"


def test_a_reviewer_cannot_approve_their_own_annotation(web, campaigns: dict[str, Any], app_url: str) -> None:
    reviewer = Attacker(app_url, "reviewer", "pw-reviewer")
    n = campaigns["n_steps"]
    ok, [saved] = reviewer.call(
        reviewer.fn_index(api_name="save_annotation"),
        [campaigns["item_id"], [1] * n, "", campaigns["open"], None, None, [], "", True, None],
    )
    assert ok
    ann = saved["saved"]
    assert reviewer.call(reviewer.fn_index(elem_id="rev-open"), [ann["annotation_id"]])[0]
    ok, message = reviewer.call(reviewer.fn_index(elem_id="rev-approve"), [ann["annotation_id"], ann["version"], ""])
    assert not ok and "own annotation" in message
    with session_scope(web.url) as session:
        assert session.get(Annotation, ann["annotation_id"]).status == "submitted"


# ---- 1. classes belong to their teacher ----------------------------------------------------------------------


def test_only_the_owner_and_admins_see_export_and_correct_a_class(web, campaigns: dict[str, Any], app_url: str) -> None:
    with session_scope(web.url) as session:
        user = create_user(session, username="teacher2", password="pw-teacher2", role="teacher")
        teacher2 = Actor(id=user.id, username=user.username, role=user.role)
    class_id, item_id = campaigns["class"], campaigns["class_item"]
    for user in ("teacher2", "annotator", "reviewer"):
        attacker = Attacker(app_url, user, f"pw-{user}")
        attacker.open_page()
        listed = attacker.call(attacker.fn_index(elem_id="teach-refresh"), [class_id])
        exported = attacker.call(attacker.fn_index(elem_id="teach-export"), [class_id])
        corrected = attacker.call(
            attacker.fn_index(elem_id="teach-save"), [class_id, item_id, 1, "pwned", 1, "pwned step"]
        )
        gradebook = attacker.call(
            attacker.fn_index(elem_id="teach-export-gradebook"), [class_id, "canvas", "SIS User ID", ""]
        )
        for ok, message in (listed, exported, corrected, gradebook):
            assert not ok and "Private" not in str(message), (user, message)
        actor = web.actors.get(user) or teacher2
        with pytest.raises(NotFoundError, match="no class with id"):
            teacher.report_rows(web.ctx, actor, class_id=class_id)
        with pytest.raises(NotFoundError, match="no class with id"):
            teacher.correct(web.ctx, actor, class_id=class_id, item_id=item_id, first_wrong_step=1, comment="pwned")
        assert teacher.classes(web.ctx, actor) == []
        assert "class: 7B" not in [c["name"] for c in admin.campaigns_table(web.ctx, actor)]
    assert _annotation_count(web.url) == 0
    owner = Attacker(app_url, "teacher", "pw-teacher")
    owner.open_page()
    ok, (table, *_rest) = owner.call(owner.fn_index(elem_id="teach-refresh"), [class_id])
    assert ok and {row[0] for row in table["data"]} == {"Ann Private", "Ben Private"}
    # As in the browser: picking the solution offers its steps, then the first wrong one is chosen from them.
    ok, _ = owner.call(owner.fn_index(elem_id="teach-item", event="change"), [class_id, item_id])
    assert ok
    ok, _ = owner.call(owner.fn_index(elem_id="teach-save"), [class_id, item_id, 1, "see step 1", None, ""])
    assert ok
    boss = Attacker(app_url, "admin", "pw-admin")
    boss.open_page()
    ok, (files, _status) = boss.call(boss.fn_index(elem_id="teach-export"), [class_id])
    assert ok and len(files) == 2


def test_a_reviewers_queue_does_not_list_teachers_corrections(web, campaigns: dict[str, Any]) -> None:
    from webapp.handlers import review

    item_id = campaigns["class_item"]
    teacher.correct(web.ctx, web["teacher"], class_id=campaigns["class"], item_id=item_id, first_wrong_step=1)
    assert [r for r in review.pending_reviews(web.ctx, web["reviewer"]) if r["item_id"] == item_id] == []


# ---- 7. error toasts show names as text ----------------------------------------------------------------------

PHISHING = '<a href="https://evil.example">log in again</a><form action="https://evil.example"><input type=password>'


def test_an_error_toast_quoting_a_campaign_name_shows_its_html_as_text(web, campaign_file: Path, app_url: str) -> None:
    cid = admin.new_campaign(web.ctx, web["admin"], name=PHISHING, overlap=1)
    admin.upload_campaign_data(web.ctx, web["admin"], campaign_id=cid, path=campaign_file)
    with session_scope(web.url) as session:
        set_assignments(session, campaign_id=cid, user_ids=[web["reviewer"].id])
    attacker = Attacker(app_url, "annotator", "pw-annotator")
    ok, message = attacker.call(
        attacker.fn_index(api_name="save_annotation"), [1, [1], "", cid, None, None, [], "", False, None]
    )
    assert not ok and "not assigned" in message
    assert "<form" not in message and "<a " not in message and "&lt;form action=" in message


# ---- 3. cross-site requests, cookies and framing -------------------------------------------------------------

PUBLIC_HOST = "critic.school.org"  # what the app sees behind a TLS proxy that keeps the Host header
EVIL = "https://evil.example"


@pytest.fixture
def public_app_url(web) -> Iterator[str]:
    """The app behind a TLS proxy that keeps the public Host header (so that name is an allowed host)."""
    web.ctx.settings = web.ctx.settings.model_copy(update={"allowed_hosts": f"{PUBLIC_HOST}, 127.0.0.1"})
    with running_app(web.ctx) as url:
        yield url


def test_requests_from_another_origin_are_refused_and_the_served_origin_works(web, public_app_url: str) -> None:
    app_url = public_app_url
    user = Attacker(app_url, "annotator", "pw-annotator")
    cookies = dict(user.http.cookies)
    plain = httpx.Client(base_url=app_url, timeout=30, cookies=cookies, headers={"Host": PUBLIC_HOST})
    read = plain.get("config", headers={"Origin": EVIL})
    assert read.status_code == 403 and "access-control-allow-origin" not in read.headers
    preflight = plain.options(
        "gradio_api/queue/join", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 403 and "access-control-allow-credentials" not in preflight.headers
    for path, body in [("login", {"username": "annotator", "password": "pw-annotator"}), ("gradio_api/cancel", {})]:
        assert plain.post(path, data=body, headers={"Origin": EVIL}).status_code == 403
    assert plain.post("gradio_api/cancel", json={}, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert plain.post("login", data={}, headers={"Origin": "null"}).status_code == 403
    same_site = plain.get("config", headers={"Origin": f"https://{PUBLIC_HOST}"})
    assert same_site.status_code == 200 and same_site.json()["dependencies"]


def test_an_allowed_origin_setting_admits_exactly_the_listed_origins(web, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import get_settings

    monkeypatch.setenv("CRITIC_ALLOWED_ORIGINS", f"https://{PUBLIC_HOST}, https://portal.school.org/")
    get_settings.cache_clear()
    web.ctx.settings = get_settings()
    with running_app(web.ctx) as url:
        # A proxy that rewrites Host to the app's own address: the public origin must be listed.
        http = httpx.Client(base_url=url, timeout=30)
        for origin, status in [(f"https://{PUBLIC_HOST}", 200), ("https://portal.school.org", 200), (EVIL, 403)]:
            assert http.get("config", headers={"Origin": origin}).status_code in (status, 401), origin
            assert http.post("login", data={}, headers={"Origin": origin}).status_code != 403 or status == 403
    monkeypatch.setenv("CRITIC_ALLOWED_ORIGINS", "evil.example")
    get_settings.cache_clear()
    with pytest.raises(Exception, match="https://host"):
        get_settings()


def test_login_cookies_are_same_site_lax_and_pages_refuse_framing(web, app_url: str) -> None:
    login = httpx.post(f"{app_url}login", data={"username": "viewer", "password": "pw-viewer"}, timeout=30)
    cookies = login.headers.get_list("set-cookie")
    assert cookies and all("samesite=lax" in c.lower() and "samesite=none" not in c.lower() for c in cookies)
    page = httpx.get(app_url, timeout=30)
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_event_streams_tell_proxies_not_to_hold_events_back(web, app_url: str) -> None:
    user = Attacker(app_url, "viewer", "pw-viewer")
    fn = user.fn_index(elem_id="critique-run")
    joined = user.http.post(
        "gradio_api/queue/join",
        json={"data": [], "fn_index": fn, "session_hash": user.session_hash, "event_data": None},
    )
    assert joined.status_code == 200, joined.text
    with user.http.stream("GET", "gradio_api/queue/data", params={"session_hash": user.session_hash}) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["x-accel-buffering"] == "no" and "no-transform" in stream.headers["cache-control"]


# ---- 5. accounts: throttled logins, revoked sessions ---------------------------------------------------------


def _login(url: str, username: str, password: str, *, multipart: bool = False) -> httpx.Response:
    if multipart:  # as Gradio's login page sends it
        fields = {"username": (None, username), "password": (None, password)}
        return httpx.post(f"{url}login", files=fields, timeout=30)
    return httpx.post(f"{url}login", data={"username": username, "password": password}, timeout=30)


def test_failed_logins_are_throttled_per_user_and_per_address(web) -> None:
    web.ctx.settings = web.ctx.settings.model_copy(
        update={"login_free_failures": 3, "login_address_free_failures": 5, "login_backoff_s": 60.0}
    )
    with running_app(web.ctx) as url:
        tries = [_login(url, "annotator", f"guess-{i}", multipart=i > 0).status_code for i in range(3)]
        assert tries == [400, 400, 400]
        throttled = _login(url, "annotator", "pw-annotator")  # even the right password waits now
        assert throttled.status_code == 429 and 50 <= int(throttled.headers["retry-after"]) <= 60
        assert "try again in" in throttled.json()["detail"]
        assert _login(url, "viewer", "pw-viewer").status_code == 200  # another user from the address: not yet
        assert _login(url, "reviewer", "wrong").status_code == 400
        assert _login(url, "teacher", "wrong").status_code == 400  # the address's fifth failure
        assert _login(url, "admin", "pw-admin").status_code == 429


def test_a_password_change_or_deactivation_ends_open_sessions(web, app_url: str) -> None:
    annotator = Attacker(app_url, "annotator", "pw-annotator")
    reviewer = Attacker(app_url, "reviewer", "pw-reviewer")
    save = annotator.fn_index(api_name="save_annotation")
    for client in (annotator, reviewer):
        assert client.http.get("gradio_api/login_check").status_code == 200
    admin.change_user(web.ctx, web["admin"], username="annotator", role="annotator", password="new-secret")
    admin.change_user(web.ctx, web["admin"], username="reviewer", role="reviewer", active=False)
    for client in (annotator, reviewer):
        assert client.http.get("gradio_api/login_check").status_code == 401
        upload = client.http.post("gradio_api/upload", files={"files": ("a.csv", b"x,y\n")})
        assert upload.status_code in (401, 403)
        ok, message = client.call(save, [1, [1], "", 1, None, None, [], "", False])
        assert not ok, message
    assert Attacker(app_url, "annotator", "new-secret").http.get("gradio_api/login_check").status_code == 200


# ---- 6. telemetry ----------------------------------------------------------------------------------------------


def test_the_app_reports_nothing_to_gradio_unless_analytics_are_turned_on(web, monkeypatch: pytest.MonkeyPatch) -> None:
    import gradio.analytics

    sent: list[str] = []
    monkeypatch.setattr(gradio.analytics, "_do_analytics_request", lambda topic, data: sent.append(topic))
    monkeypatch.setattr(gradio.analytics, "version_check", lambda: sent.append("version_check"))
    monkeypatch.delenv("GRADIO_ANALYTICS_ENABLED", raising=False)
    with running_app(web.ctx) as url:
        assert Attacker(url, "viewer", "pw-viewer").http.get("config").status_code == 200
        assert gradio.analytics.analytics_enabled() is False
    assert sent == []


@pytest.fixture
def evil_site(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A static site on another origin (localhost, while the app is on 127.0.0.1): (its folder, its URL)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield tmp_path, f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()


@pytest.mark.browser
def test_another_site_in_chromium_can_neither_use_the_login_nor_frame_the_app(
    web, campaigns: dict[str, Any], app_url: str, evil_site: tuple[Path, str]
) -> None:
    from tests.webapp.journey import CHROMIUM, CHROMIUM_ARGS
    from tests.webapp.test_browser import _log_in

    folder, evil_url = evil_site
    save = Attacker(app_url, "annotator", "pw-annotator").fn_index(api_name="save_annotation")
    body = {
        "data": [
            campaigns["item_id"],
            [1] * campaigns["n_steps"],
            "",
            campaigns["open"],
            None,
            None,
            [],
            "x",
            True,
            None,
        ],
        "fn_index": save,
        "session_hash": "evilsession",
    }
    (folder / "index.html").write_text(
        f"""<!doctype html><html><body><iframe id="app" src="{app_url}" width="800" height="600"></iframe>
<script>
window.results = {{}};
async function attempt(name, url, options) {{
  try {{ const r = await fetch(url, {{credentials: "include", ...options}});
         window.results[name] = r.status + " " + (await r.text()).slice(0, 200); }}
  catch (e) {{ window.results[name] = "blocked: " + e; }}
}}
Promise.all([
  attempt("config", "{app_url}config", {{}}),
  attempt("join", "{app_url}gradio_api/queue/join", {{method: "POST", headers: {{"Content-Type": "application/json"}},
                                                     body: JSON.stringify({json.dumps(body)})}}),
]).then(() => {{ window.done = true; }});
</script></body></html>"""
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        _log_in(page, app_url, "annotator", "pw-annotator")  # the victim is logged in
        page.goto(evil_url)
        page.wait_for_function("window.done === true", timeout=30_000)
        results = page.evaluate("window.results")
        framed = next(f for f in page.frames if f is not page.main_frame)
        page.wait_for_timeout(1000)
        framed_text = framed.evaluate("document.body ? document.body.innerText : ''") if framed.url == app_url else ""
        browser.close()
    assert not results["config"].startswith("200") and "dependencies" not in results["config"], results
    assert not results["join"].startswith("200"), results
    assert "Critic Studio" not in framed_text
    assert _annotation_count(web.url) == 0


# ---- 4. denial of service: uploads, models -------------------------------------------------------------------


def test_uploads_past_the_size_and_row_limits_are_refused_with_a_clear_message(web, tmp_path: Path) -> None:
    web.ctx.settings = web.ctx.settings.model_copy(update={"max_upload_mb": 0.01, "max_upload_rows": 3})
    with running_app(web.ctx) as url:
        user = Attacker(url, "teacher", "pw-teacher")
        big = user.http.post("gradio_api/upload", files={"files": ("big.csv", b"x" * 20_000)})
        assert big.status_code == 413 and "size" in big.text.lower()
        small = user.http.post("gradio_api/upload", files={"files": ("small.csv", b"x" * 100)})
        assert small.status_code == 200
    rows = "student,problem,solution\n" + "".join(f'S{i},"What is {i}+1?","{i}+1 = {i + 1}."\n' for i in range(4))
    path = tmp_path / "four.csv"
    path.write_text(rows)
    with pytest.raises(Exception, match="more than 3 solutions"):
        teacher.upload_class(web.ctx, web["teacher"], name="too big", path=path, start=False)
    assert teacher.classes(web.ctx, web["admin"]) == []


def test_users_pick_only_offered_models_and_learn_nothing_about_server_paths(web, app_url: str, tmp_path: Path) -> None:
    viewer = Attacker(app_url, "viewer", "pw-viewer")
    critique = viewer.fn_index(api_name="critique")
    answers = []
    for model in (str(tmp_path), str(tmp_path / "missing")):
        ok, message = viewer.call(critique, ["What is 1+1?", "1+1 = 2.", model, "", "single", 1])
        assert not ok and "not offered" in message
        answers.append(message.replace(model, "PATH"))
    assert answers[0] == answers[1]
    assert set(web.ctx._backends) <= {("scripted", "scripted")}
    ok, result = viewer.call(critique, ["What is 1+1?", "1+1 = 2.", "", "", "single", 1])
    assert ok and result[0]["model"] == "scripted"


def test_at_most_the_configured_number_of_models_stay_loaded(web) -> None:
    ctx = web.ctx
    ctx.settings = ctx.settings.model_copy(update={"web_models": "model-a, model-b", "web_model_cache": 1})
    ctx.critic_options = {"base_url": "http://127.0.0.1:9/v1"}  # nothing is sent until a critique
    first = ctx.critic("model-a", "openai")
    assert ctx.critic("model-a", "openai") is first  # cached
    ctx.critic("model-b", "openai")
    assert list(ctx._backends) == [("model-b", "openai")]
    assert ctx.critic("model-a", "openai") is not first  # loaded again after it was unloaded
