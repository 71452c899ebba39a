"""What the browser journeys share: `critic serve` in a subprocess, the system Chromium, and the steps a person takes.

The fixtures that use these (`served`, `browser`, the last-page screenshot) are in tests/webapp/conftest.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.vllm_server import free_port
from tests.conftest import MODEL_CACHE, REPO_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO_ROOT / "artifacts"
ADMIN_PASSWORD = "pw-admin-journey"
PEOPLE = {"annotator": "annotator", "reviewer": "reviewer", "teacher": "teacher"}
OPEN_PAGES: list = []
"""Pages `page_as` opened in the running test: the screenshot fixture saves and closes them after it."""


@dataclass
class Served:
    url: str
    database_url: str
    home: Path


def wait_for_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"critic serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=5)  # noqa: S310 (a local test server)
            return
        except urllib.error.HTTPError:
            return  # it answers (the login page may redirect or refuse): it is up
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"critic serve did not answer within {timeout:.0f}s:\n{log.read_text()[-3000:]}")


@contextmanager
def critic_serve(
    home: Path,
    env: dict[str, str],
    *,
    drop: tuple[str, ...] = (),
    warm_up: bool = False,
    log_name: str = "journeys-serve.log",
) -> Iterator[Served]:
    """`critic serve` in a subprocess on `home` with its own SQLite database: this environment plus `env`, less the
    variables named in `drop`; its log is kept under artifacts/ as `log_name`."""
    database_url = f"sqlite:///{home}/critic.db"
    full_env = {
        **{k: v for k, v in os.environ.items() if k not in drop},
        "CRITIC_HOME": str(home),
        "CRITIC_DATABASE_URL": database_url,
        "CRITIC_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "CRITIC_MODELS_DIR": str(MODEL_CACHE),
        "PYTHONPATH": str(REPO_ROOT),
        **env,
    }
    port = free_port()
    log = home / "serve.log"
    command = [sys.executable, "-c", "from cli.main import main; main()", "serve", "--port", str(port)]
    with log.open("w") as out:
        proc = subprocess.Popen(
            command if warm_up else [*command, "--no-warm-up"],
            cwd=REPO_ROOT,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_http(url, proc, log)
        yield Served(url=url, database_url=database_url, home=home)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / log_name).write_text(log.read_text())


def page_as(browser, served: Served, user: str, password: str):
    """A fresh browser context (no shared cookies) logged in as `user`."""
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    page = context.new_page()
    OPEN_PAGES.append(page)
    page.set_default_timeout(30_000)
    page.goto(served.url)
    page.fill("input[type=text]", user)
    page.fill("input[type=password]", password)
    page.keyboard.press("Enter")
    wait_text(page, "#whoami", "Logged in as")
    return page


def wait_text(page, selector: str, text: str, timeout: int = 30_000) -> None:
    page.wait_for_function(
        "([sel, text]) => { const el = document.querySelector(sel); return el && el.innerText.includes(text); }",
        arg=[selector, text],
        timeout=timeout,
    )


def press(page, button: str, selector: str, text: str, timeout: int = 30_000) -> None:
    """Click the button, then wait until `selector` shows `text` (the answer to the click)."""
    page.click(button)
    wait_text(page, selector, text, timeout=timeout)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"journey-{name}.png"), full_page=True)


def pick(page, dropdown: str, option: str) -> None:
    page.click(f"{dropdown} input")
    page.get_by_role("option", name=option, exact=True).first.click()


def wait_row(page, table: str, *cells: str, timeout: int = 30_000) -> None:
    """Wait until the table shows a row with these cells in this order (whitespace between them)."""
    pattern = r"(^|\s)" + r"\s+".join(re.escape(c) for c in cells) + r"(\s|$)"
    page.wait_for_function(
        "([sel, pat]) => { const el = document.querySelector(sel); return el && new RegExp(pat).test(el.innerText); }",
        arg=[table, pattern],
        timeout=timeout,
    )


def fill(page, elem_id: str, value: str) -> None:
    page.fill(f"{elem_id} :is(input, textarea)", value)


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the condition did not hold in time")
        time.sleep(0.2)
