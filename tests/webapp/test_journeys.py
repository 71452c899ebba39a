"""Each role's journey in the system Chromium against a real `critic serve` (tiny model, one shared server).

The tests run in file order and build on each other, as people would: the admin sets up a campaign, the annotator
labels it, the reviewer decides, the admin trains on the result, promotes and rolls back, the teacher grades a
class, and the viewer the admin created sees only what a viewer may.
"""

from __future__ import annotations

import json
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
from tests.webapp.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADMIN_PASSWORD = "pw-admin-journey"
PEOPLE = {"annotator": "annotator", "reviewer": "reviewer", "teacher": "teacher"}
# Small enough to train in well under a minute on 2 CPU cores with the tiny model.
JOB = {
    "base_model": "active",
    "max_steps": 2,
    "teacher_backend": "template",
    "per_device_batch_size": 2,
    "max_length": 2048,
    "validation_fraction": 0.0,
    "auto_promote": False,
    "eval_max_items": 2,
    "eval_max_new_tokens": 64,
}


@dataclass
class Served:
    url: str
    database_url: str
    home: Path


def _wait_for_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180.0) -> None:
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
        _wait_for_http(url, proc, log)
        yield Served(url=url, database_url=database_url, home=home)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / log_name).write_text(log.read_text())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[Served]:
    """`critic serve` (with its training worker) on the tiny model, a fresh home and database, and one user a role."""
    from db.session import session_scope
    from db.users import create_user

    env = {"CRITIC_MODEL": str(tiny_model_dir), "CRITIC_BACKEND": "transformers", "CRITIC_MAX_NEW_TOKENS": "160"}
    with critic_serve(tmp_path_factory.mktemp("served"), env) as served:
        with session_scope(served.database_url) as session:
            for role, name in PEOPLE.items():
                create_user(session, username=name, password=f"pw-{name}", role=role)
        yield served


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"system Chromium missing at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


OPEN_PAGES: list = []


@pytest.fixture(autouse=True)
def _screenshot_what_was_on_screen(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every journey leaves a screenshot of its last page under artifacts/ (the failing state, when it fails)."""
    OPEN_PAGES.clear()
    yield
    for page in OPEN_PAGES:
        _shot(page, f"{request.node.name.removeprefix('test_')}-last")
        page.context.close()


def _page(browser, served: Served, user: str, password: str):
    """A fresh browser context (no shared cookies) logged in as `user`."""
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    page = context.new_page()
    OPEN_PAGES.append(page)
    page.set_default_timeout(30_000)
    page.goto(served.url)
    page.fill("input[type=text]", user)
    page.fill("input[type=password]", password)
    page.keyboard.press("Enter")
    _wait_text(page, "#whoami", "Logged in as")
    return page


def _wait_text(page, selector: str, text: str, timeout: int = 30_000) -> None:
    page.wait_for_function(
        "([sel, text]) => { const el = document.querySelector(sel); return el && el.innerText.includes(text); }",
        arg=[selector, text],
        timeout=timeout,
    )


def _press(page, button: str, selector: str, text: str, timeout: int = 30_000) -> None:
    """Click the button, then wait until `selector` shows `text` (the answer to the click)."""
    page.click(button)
    _wait_text(page, selector, text, timeout=timeout)


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"journey-{name}.png"), full_page=True)


def _pick(page, dropdown: str, option: str) -> None:
    page.click(f"{dropdown} input")
    page.get_by_role("option", name=option, exact=True).first.click()


def _wait_row(page, table: str, *cells: str, timeout: int = 30_000) -> None:
    """Wait until the table shows a row with these cells in this order (whitespace between them)."""
    pattern = r"(^|\s)" + r"\s+".join(re.escape(c) for c in cells) + r"(\s|$)"
    page.wait_for_function(
        "([sel, pat]) => { const el = document.querySelector(sel); return el && new RegExp(pat).test(el.innerText); }",
        arg=[table, pattern],
        timeout=timeout,
    )


def _fill(page, elem_id: str, value: str) -> None:
    page.fill(f"{elem_id} :is(input, textarea)", value)


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def test_admin_adds_a_user_and_sets_up_a_campaign(served: Served, browser, campaign_file: Path) -> None:
    page = _page(browser, served, "admin", ADMIN_PASSWORD)
    _tab(page, "Admin")
    _fill(page, "#admin-username", "newbie")
    _fill(page, "#admin-password", "pw-newbie-1")
    _pick(page, "#admin-role", "viewer")
    _press(page, "#admin-add-user", "#admin-status", "Created newbie (viewer)")
    _wait_text(page, "#admin-users", "newbie")

    _tab(page, "Campaigns")
    _fill(page, "#admin-campaign-name", "journey")
    _fill(page, "#admin-overlap", "2")
    _fill(page, "#admin-guidelines", "Rate **every** step.")
    _press(page, "#admin-create-campaign", "#admin-status", "Created campaign journey (overlap 2)")
    assert page.input_value("#admin-campaign input") == "journey (#1)"  # the new campaign is the picked one

    page.set_input_files("#admin-data-file input[type=file]", str(campaign_file))
    page.wait_for_selector("#admin-data-file :text('campaign.json')")
    _press(page, "#admin-import", "#admin-status", "Imported 4 record(s) into journey")
    _wait_text(page, "#admin-status", "The critic labels its new items in the background (job 1")

    _pick(page, "#admin-annotators", "annotator")
    page.keyboard.press("Escape")
    _press(page, "#admin-assign", "#admin-status", "Assigned 1 annotator(s): annotator")
    # The table refreshes on its own: 4 items, overlap 2.
    _wait_row(page, "#admin-campaigns", "1", "journey", "active", "2", "4")
    _shot(page, "admin-campaign")
    assert "Error" not in page.inner_text("#admin-status")

    _tab(page, "Training")  # the worker critiques the imported items; the jobs table shows it finish
    _wait_row(page, "#admin-jobs", "1", "critique_items", "succeeded", "100%", timeout=180_000)


def test_annotator_labels_with_the_keyboard_goes_back_and_reopens(served: Served, browser) -> None:
    page = _page(browser, served, "annotator", "pw-annotator")
    _tab(page, "Annotate")
    _pick(page, "#ann-campaign", "journey (0/4 done)")
    page.click(".kbd-help")  # focus leaves the dropdown: from here on, only keys
    page.keyboard.press("n")
    page.wait_for_selector("#ann-step-2")
    assert "first wrong step: not rated yet" in page.inner_text("#ann-info")
    first_item = page.inner_text("#ann-info").split("·")[0].strip()

    steps = [
        ("+", "#ann-step-1", "you: +1 good"),
        ("j", "#ann-info", "current step 2 of"),
        ("-", "#ann-step-2", "you: −1 wrong"),
    ]
    for key, selector, text in steps:
        page.keyboard.press(key)
        _wait_text(page, selector, text)
    assert "current step 2 of" in page.inner_text("#ann-info")  # rating did not move on by itself
    assert "first wrong step: step 2" in page.inner_text("#ann-info")
    page.keyboard.press("u")  # undo the −1
    page.wait_for_function("() => !document.querySelector('#ann-step-2').innerText.includes('you:')")
    page.keyboard.press("-")
    _wait_text(page, "#ann-step-2", "you: −1 wrong")
    page.keyboard.press("s")
    _wait_text(page, "#ann-status", "Submitted (version 1)")

    page.keyboard.press("n")
    page.wait_for_function(
        "(first) => !document.querySelector('#ann-info').innerText.startsWith(first)", arg=first_item
    )
    # The imported items were critiqued in the background: the critic's verdict is there to accept.
    verdict = re.search(r"critic: (correct|incorrect)", page.inner_text("#ann-step-1"))
    assert verdict, page.inner_text("#ann-step-1")
    page.keyboard.press("a")
    _wait_text(page, "#ann-step-1", "you: +1 good" if verdict.group(1) == "correct" else "you: −1 wrong")
    page.keyboard.press("-")
    _wait_text(page, "#ann-step-1", "you: −1 wrong")
    page.keyboard.press("s")
    _wait_text(page, "#ann-status", "Submitted (version 1)")

    page.keyboard.press("p")  # back to the first item, reopened with its labels
    _wait_text(page, "#ann-info", first_item)
    _wait_text(page, "#ann-status", "Reopened your submitted annotation")
    assert "you: −1 wrong" in page.inner_text("#ann-step-2")
    page.keyboard.press("j")
    _wait_text(page, "#ann-info", "current step 2 of")
    page.keyboard.press("0")
    _wait_text(page, "#ann-step-2", "you: 0 neutral")
    page.keyboard.press("s")
    _wait_text(page, "#ann-status", "Submitted (version 2)")
    legend = page.inner_text("#tab-annotate")
    assert "rate the current step +1 (good; stays on it)" in legend and "undo the last change" in legend
    _shot(page, "annotator")


def _second_opinion(served: Served) -> None:
    """Another annotator submits the first annotated item, blaming step 1 (the annotator rated it +1, step 2 0)."""
    from sqlalchemy import select

    from db.annotations import create_annotation
    from db.models import Annotation
    from db.session import session_scope
    from db.users import create_user

    with session_scope(served.database_url) as session:
        first = session.scalars(select(Annotation).order_by(Annotation.id)).first()
        other = create_user(session, username="second", password="pw-second", role="annotator")
        n = len(first.item.steps)
        create_annotation(
            session,
            item_id=first.item_id,
            annotator_id=other.id,
            campaign_id=first.campaign_id,
            ratings=[-1] + [None] * (n - 1),
            finish_reason="found_error",
            status="submitted",
            actor_id=other.id,
        )


def test_reviewer_approves_and_rejects(served: Served, browser) -> None:
    _second_opinion(served)
    page = _page(browser, served, "reviewer", "pw-reviewer")
    _tab(page, "Review")
    page.wait_for_selector("#rev-table [data-testid=cell-2-0]")  # three submissions to review
    _press(page, "#rev-table [data-testid=cell-0-0]", "#rev-status", "Annotator annotator says first wrong step")
    # The two annotators of the item, step by step: step 1 is where they differ, and the page says so.
    _wait_text(page, "#rev-diff", "second (submitted)")
    step_1 = page.inner_text("#rev-diff #diff-step-1.differs")
    assert "differs" in step_1 and "+1 good" in step_1 and "−1 wrong" in step_1, step_1
    step_2 = page.inner_text("#rev-diff #diff-step-2.differs")
    assert "0 neutral" in step_2 and "unrated" in step_2, step_2
    assert page.query_selector("#rev-diff #diff-status.same") is not None  # both submitted: not highlighted
    _press(page, "#rev-approve", "#rev-status", "Approved annotation")

    _press(page, "#rev-table [data-testid=cell-1-0]", "#rev-status", "Status: submitted")
    page.click("#rev-reject")  # no comment: refused, and the page says why
    page.wait_for_selector(".toast-body, .toast-wrap", timeout=10_000)
    _fill(page, "#rev-comment", "Step 1 is fine; look again.")
    _press(page, "#rev-reject", "#rev-status", "Rejected annotation")
    _shot(page, "reviewer")


def test_a_user_corrects_the_critique_of_their_solution_and_a_reviewer_sees_it(served: Served, browser) -> None:
    page = _page(browser, served, "annotator", "pw-annotator")
    assert not page.is_visible("#critique-save-labels")  # nothing to label before a critique
    _fill(page, "#critique-problem", "What is 2 + 3, then doubled?")
    _fill(page, "#critique-solution", "Step 1: 2 + 3 = 5.\nStep 2: Doubled is 5 * 2 = 12.\nThe answer is 12.")
    page.click("#critique-run")
    page.wait_for_selector("#critique-save-labels", state="visible", timeout=120_000)
    page.click("#critique-first-wrong label:has-text('Step 2')")
    _press(
        page, "#critique-save-labels", "#critique-label-status", "Saved: step 2 is the first wrong step (annotation #"
    )
    assert "linked to critique run #" in page.inner_text("#critique-label-status")
    _shot(page, "critique-label")

    annotation_id = page.inner_text("#critique-label-status").split("annotation #")[1].split(",")[0]

    reviewer = _page(browser, served, "reviewer", "pw-reviewer")
    _tab(reviewer, "Review")
    # Waiting for review: the submission the reviewer left undecided and this label; pick this label's row.
    reviewer.wait_for_selector("#rev-table [data-testid=cell-1-0]")
    rows = [reviewer.inner_text(f"#rev-table [data-testid=cell-{row}-0]").strip() for row in range(2)]
    reviewer.click(f"#rev-table [data-testid=cell-{rows.index(annotation_id)}-0]")
    _wait_text(reviewer, "#rev-status", "Annotator annotator says first wrong step = 2")


def test_admin_trains_promotes_and_rolls_back(served: Served, browser, processbench_dir: Path, tmp_path: Path) -> None:
    # One correct and one wrong solution (F1 needs both), none of them from the campaign's four.
    records = json.loads((processbench_dir / "gsm8k.json").read_text())[4:]
    pair = [next(r for r in records if r["label"] == -1), next(r for r in records if r["label"] >= 0)]
    held_out = tmp_path / "held-out.json"
    held_out.write_text(json.dumps(pair))
    page = _page(browser, served, "admin", ADMIN_PASSWORD)
    _tab(page, "Admin")
    _tab(page, "Evaluation sets")  # the gate scores every new version on it
    _fill(page, "#admin-eval-set-name", "held-out-2")
    page.set_input_files("#admin-eval-set-file input[type=file]", str(held_out))
    page.wait_for_selector("#admin-eval-set-file :text('held-out.json')")
    _press(page, "#admin-add-eval-set", "#admin-status", "Registered evaluation set held-out-2: 2 items")
    _tab(page, "Training")
    page.click("#admin-job-config .cm-content")
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(json.dumps(JOB))
    page.click("#admin-start-training")
    _wait_text(page, "#admin-status", "Queued sft job 2")  # job 1 critiqued the imported items
    seen: set[str] = set()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # the table refreshes itself; watch it as a person would
        row = " ".join(page.locator("#admin-jobs [data-row='0']").all_inner_texts())
        seen.add(" ".join(row.split()))
        if "succeeded" in row or "failed" in row:
            break
        page.wait_for_timeout(500)
    assert any("succeeded" in r and "100% · 2 of 2 steps" in r for r in seen), seen
    assert any("running" in r for r in seen), seen  # it was seen working, not only queued then done
    _shot(page, "admin-training")

    _tab(page, "Models")
    page.wait_for_selector("#admin-models [data-testid=cell-0-0]")
    # The new version's F1 on the registered set, in percent (a score, even if the tiny model's is poor).
    f1 = page.inner_text("#admin-models [data-testid=cell-0-3]")
    assert re.fullmatch(r"\d+\.\d on eval-set:held-out-2", f1.strip()), f1
    page.click("#admin-model input")
    page.get_by_role("option").first.click()
    _press(page, "#admin-promote", "#admin-status", "now serves")
    _wait_row(page, "#admin-models", "1", "v1-sft-job2", "serving")
    _press(page, "#admin-rollback", "#admin-status", "Rolled back")
    _shot(page, "admin-models")


def test_teacher_uploads_a_class_corrects_and_exports(served: Served, browser, tmp_path: Path) -> None:
    class_file = tmp_path / "class-7b.csv"
    class_file.write_text(
        "student,problem,solution\n"
        'Ann,"What is 2 + 3 * 4?","Step 1: 3 * 4 = 12.\nStep 2: 2 + 12 = 14.\nThe answer is 14."\n'
        'Ben,"What is 2 + 3 * 4?","Step 1: 2 + 3 = 5.\nStep 2: 5 * 4 = 20.\nThe answer is 20."\n'
    )
    older_class = _class_from_last_term(served)
    page = _page(browser, served, "teacher", "pw-teacher")
    tabs = [t.inner_text() for t in page.query_selector_all("[role=tab]") if t.is_visible()]
    assert "Teacher" in tabs and "Admin" not in tabs and "Review" not in tabs
    _tab(page, "Teacher")
    _fill(page, "#teach-name", "Class 7B")
    page.set_input_files("#teach-file input[type=file]", str(class_file))
    _wait_text(page, "#teach-file", "class-7b.csv")
    _press(page, "#teach-start", "#teach-status", "critiquing 2 solutions")
    _wait_text(page, "#teach-progress", "2 of 2 solutions critiqued", timeout=120_000)
    assert page.query_selector("#teach-progress [role=progressbar]") is not None

    page.click("#teach-table [data-testid=cell-1-0]")  # Ben
    page.wait_for_selector("#teach-cards #step-2")
    _pick(page, "#teach-first", "step 2")
    _fill(page, "#teach-comment", "5 * 4 is right, but 3 * 4 comes first.")
    _press(page, "#teach-save", "#teach-status", "Correction saved.")
    _wait_text(page, "#teach-table", "3 * 4 comes first")
    _press(page, "#teach-export", "#teach-status", "Report ready.")
    _wait_text(page, "#teach-files", ".csv")
    _shot(page, "teacher")

    # The class picked last is shown again after a reload, though a newer one (7B) exists.
    _pick(page, "#teach-class", "class: Class 6A")
    _wait_for(lambda: _last_class(served) == older_class)
    page.reload()
    _wait_text(page, "#whoami", "Logged in as")
    _tab(page, "Teacher")
    page.wait_for_function("() => document.querySelector('#teach-class input')?.value === 'class: Class 6A'")


def _class_from_last_term(served: Served) -> int:
    """A class the teacher already has (older than the one they upload), stored directly like an earlier upload."""
    from core.types import SolutionItem
    from db.classes import create_class
    from db.session import session_scope
    from db.users import get_user

    item = SolutionItem(problem="What is 1 + 1?", steps=["1 + 1 = 2.", "The answer is 2."])
    with session_scope(served.database_url) as session:
        teacher_id = get_user(session, username="teacher").id
        return create_class(session, name="Class 6A", submissions=[("Cat", item)], created_by_id=teacher_id).id


def _last_class(served: Served) -> int | None:
    from db.classes import remembered_class
    from db.session import session_scope
    from db.users import get_user

    with session_scope(served.database_url) as session:
        teacher = get_user(session, username="teacher")
        return remembered_class(session, user_id=teacher.id, role=teacher.role)


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the condition did not hold in time")
        time.sleep(0.2)


def test_a_viewer_sees_only_what_a_viewer_may(served: Served, browser) -> None:
    page = _page(browser, served, "newbie", "pw-newbie-1")  # the user the admin created in the browser
    assert page.inner_text("#whoami").strip() == "Logged in as newbie (viewer)"
    page.wait_for_timeout(1000)  # tabs are revealed by the page load
    tabs = [t.inner_text().strip() for t in page.query_selector_all("[role=tab]") if t.is_visible()]
    assert tabs == ["Critique", "Dashboard"], tabs
    _tab(page, "Dashboard")
    _wait_text(page, "#dash-summary", "annotations")
    # All campaigns: the approved and the other annotator's submitted annotation, and the annotator's label of their
    # own critique (Critique tab, no campaign); the teacher's correction apart.
    assert page.input_value("#dash-campaign input") == "All campaigns"
    assert page.inner_text("#dash-total") == "3"
    assert "Teachers' corrections (not counted as annotations): 1" in page.inner_text("#dash-summary")
    _pick(page, "#dash-campaign", "journey (#1)")
    page.wait_for_function("() => !document.querySelector('#dash-summary').innerText.includes('Teachers')")
    assert page.inner_text("#dash-total") == "2"
    for hidden in ("#admin-add-user", "#ann-next-item", "#rev-approve", "#teach-start"):
        assert not page.is_visible(hidden)
    _shot(page, "viewer")
