"""End to end in the system Chromium: log in, critique with the embedded model, label a step, see it counted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.webapp.conftest import INJECTIONS
from tests.webapp.journey import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.webapp.server import running_app
from webapp.context import AppContext
from webapp.handlers import admin

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def browser_page():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"system Chromium missing at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.dialogs = dialogs  # type: ignore[attr-defined]
        yield page
        browser.close()


@pytest.fixture
def embedded_ctx(web, embedded_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppContext:
    from core.settings import get_settings

    monkeypatch.setenv("CRITIC_MAX_NEW_TOKENS", "24")  # enough for a few streamed words; keeps the test short
    get_settings.cache_clear()
    return AppContext(database_url=web.url, default_model=str(embedded_model_dir), default_backend="transformers")


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _log_in(page, url: str, user: str, password: str) -> None:
    page.goto(url)
    page.fill("input[type=text]", user)
    page.fill("input[type=password]", password)
    page.keyboard.press("Enter")
    page.wait_for_selector("#critique-problem textarea", timeout=30_000)
    _wait_text(page, "#whoami", "Logged in as", 30_000)


def _wait_text(page, selector: str, text: str, timeout: int = 30_000) -> None:
    page.wait_for_function(
        "([sel, text]) => { const el = document.querySelector(sel); return el && el.innerText.includes(text); }",
        arg=[selector, text],
        timeout=timeout,
    )


def test_critique_label_and_dashboard_in_the_browser(web, embedded_ctx, campaign_file, browser_page) -> None:
    page = browser_page
    cid = admin.new_campaign(web.ctx, web["admin"], name="browser", guidelines="Rate **every** step.", overlap=1)
    admin.upload_campaign_data(web.ctx, web["admin"], campaign_id=cid, path=campaign_file)
    with running_app(embedded_ctx) as url:
        _log_in(page, url, "annotator", "pw-annotator")
        assert page.inner_text("#whoami").strip() == "Logged in as annotator (annotator)"
        assert "Admin" not in [t.inner_text() for t in page.query_selector_all("[role=tab]")]

        # Critique a pasted solution whose text tries to inject markup; cards stream in, then the verdict.
        page.fill("#critique-problem textarea", f"Compute $x^2$ for $x=3$. {INJECTIONS[0]}")
        page.fill("#critique-solution textarea", f"Step 1: $3^2 = 9$ {INJECTIONS[1]}\nStep 2: So 9. {INJECTIONS[2]}")
        page.click("#critique-run")
        page.wait_for_selector("#critique-cards #step-2", timeout=30_000)
        page.wait_for_function(
            "() => !document.querySelector('#critique-cards .critic-summary.running')"
            " && document.querySelector('#critique-cards .critic-summary')",
            timeout=300_000,
        )
        cards = page.inner_text("#critique-cards")
        assert INJECTIONS[0] in cards and INJECTIONS[1] in cards and INJECTIONS[2] in cards
        assert page.query_selector("#critique-cards script, #critique-cards img, #critique-cards a") is None
        assert page.query_selector("#critique-cards .katex") is not None  # the math rendered
        _shot(page, "browser-critique")

        # Label an item of the campaign with the keyboard (a rating stays on its step), correcting step 2.
        page.get_by_role("tab", name="Annotate").click()
        page.click("#ann-campaign input")
        page.get_by_role("option", name="browser (0/4 done)").click()
        page.click("#ann-next-item")
        page.wait_for_selector("#ann-step-1", timeout=20_000)
        assert "Keyboard:" in page.inner_text("#tab-annotate")
        # Each key is one round trip; wait for its effect so the next key sees the updated page.
        for key, selector, text in (
            ("+", "#ann-step-1", "you: +1"),
            ("j", "#ann-info", "current step 2 of"),
            ("+", "#ann-step-2", "you: +1"),
            ("-", "#ann-step-2", "you: −1"),
        ):
            page.keyboard.press(key)
            _wait_text(page, selector, text)
        assert "first wrong step: step 2" in page.inner_text("#ann-info")
        page.keyboard.press("s")
        _wait_text(page, "#ann-status", "Submitted")
        _shot(page, "browser-annotate")

        # The dashboard counts the submission.
        page.get_by_role("tab", name="Dashboard").click()
        page.click("#dash-refresh")
        _wait_text(page, "#dash-summary", "Finished annotations: 1", 20_000)
        _shot(page, "browser-dashboard")
    assert page.dialogs == []  # type: ignore[attr-defined]  # no injected alert() ever ran


PENS_PROBLEM = "A shop sells pens at $3 each. Tom buys 4 pens and pays with a $20 bill. How much change?"
PENS_STEPS = ["4 pens cost 4 × 3 = 12 dollars.", "Change is 20 − 12 = 9 dollars.", "The answer is 9."]


def test_the_pens_journey_every_critique_is_a_critique(web, embedded_ctx, browser_page) -> None:
    """A teacher pastes a solution with a subtraction slip: the embedded model's critique is readable, step 2 is
    judged wrong with the checker's proof, step 1 is judged with a confidence bar, step 3 is left unchecked."""
    page = browser_page
    with running_app(embedded_ctx) as url:
        _log_in(page, url, "teacher", "pw-teacher")
        page.fill("#critique-problem textarea", PENS_PROBLEM)
        page.fill("#critique-solution textarea", "\n\n".join(PENS_STEPS))
        page.click("#critique-run")
        page.wait_for_function(
            "() => !document.querySelector('#critique-cards .critic-summary.running')"
            " && document.querySelector('#critique-cards .critic-summary')",
            timeout=600_000,
        )
        _shot(page, "browser-pens-journey")
        cards = page.inner_text("#critique-cards")
        assert "could not be read" not in cards and "parse failed" not in cards
        step1, step2, step3 = (page.inner_text(f"#critique-cards #step-{i}") for i in (1, 2, 3))
        assert "✓ correct" in step1 or "✗ incorrect" in step1, "step 1 is judged"
        assert "✗ incorrect" in step2 and "checker's proof" in step2 and "20 - 12 = 8" in step2.replace("−", "-")
        assert "… unchecked" in step3
        bar = page.query_selector("#critique-cards #step-1 [role=meter]")
        assert bar is not None and "model confidence" in (bar.get_attribute("title") or "")
        assert "model confidence" in page.inner_text("#critique-cards #step-1 .sr-only"), "a screen reader hears it"
        # The proven step's verdict is the checker's (the grammar forced the model's), and step 3 was not judged.
        assert page.query_selector("#critique-cards #step-2 [role=meter]") is None
        assert page.query_selector("#critique-cards #step-3 [role=meter]") is None


def test_chromium_is_the_system_browser() -> None:
    assert shutil.which("chromium") or Path(CHROMIUM).exists()
