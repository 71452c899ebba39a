"""Web app fixtures: a migrated database with one user per role, and an app context with a scripted critic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.critic import Critic
from tests.core.scripted_backend import ScriptedBackend
from tests.webapp.journey import CHROMIUM, CHROMIUM_ARGS, OPEN_PAGES, PEOPLE, Served, critic_serve, shot
from webapp.context import AppContext
from webapp.permissions import Actor

ROLES = ("admin", "reviewer", "annotator", "teacher", "viewer")
INJECTIONS = ("<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "[x](javascript:alert(3))")

# A DeepCritic-format critique that marks the last step wrong (first error = the number of steps), with the
# injection strings inside the model's own words.
CRITIQUE_TEMPLATE = (
    "**Critique of Step {i}**: {body} Let me check again: {meta}\n"
    "**Judgement**: The correctness of Step {i} is: \\boxed{{{verdict}}}\n"
)


def scripted_critique(prompt: str, sample: int) -> str:
    # The prompt lists the solution as "Step 1: ...", "Step 2: ..."; the highest number is the step count.
    n = next((k for k in range(50, 0, -1) if f"Step {k}:" in prompt), 1)
    out = []
    for i in range(1, n + 1):
        wrong = i == n
        out.append(
            CRITIQUE_TEMPLATE.format(
                i=i,
                body=f"Step {i} {'is wrong ' + INJECTIONS[1] if wrong else 'holds ' + INJECTIONS[0]}.",
                meta=f"re-derived with $x<3$ {INJECTIONS[2]}",
                verdict=-1 if wrong else 1,
            )
        )
    out.append(f"**Answer**: \\boxed{{{n}}}")
    return "".join(out)


@dataclass
class Web:
    """A test app: context, one actor per role (password 'pw-ROLE'), and the database URL."""

    ctx: AppContext
    actors: dict[str, Actor]
    url: str

    def __getitem__(self, role: str) -> Actor:
        return self.actors[role]


def _web(url: str) -> Web:
    from db.session import session_scope
    from db.users import create_user

    actors = {}
    with session_scope(url) as session:
        for role in ROLES:
            user = create_user(session, username=role, password=f"pw-{role}", role=role)
            actors[role] = Actor(id=user.id, username=user.username, role=user.role)
    ctx = AppContext(database_url=url, default_model="scripted", default_backend="scripted")
    critic = Critic(ScriptedBackend(scripted_critique))
    ctx._critics[("scripted", "scripted", "single")] = critic
    return Web(ctx=ctx, actors=actors, url=url)


@pytest.fixture
def web(sqlite_db_url: str) -> Web:
    """The test app on SQLite."""
    return _web(sqlite_db_url)


@pytest.fixture
def web_any(db_url: str) -> Web:
    """The test app once on SQLite and once on PostgreSQL (skipped loudly when PostgreSQL is unavailable)."""
    return _web(db_url)


@pytest.fixture
def campaign_file(tmp_path: Path, processbench_dir: Path) -> Path:
    """Four ProcessBench GSM8K items; the first is marked gold (known label)."""
    items = json.loads((processbench_dir / "gsm8k.json").read_text())[:4]
    items[0]["is_gold"] = True
    path = tmp_path / "campaign.json"
    path.write_text(json.dumps(items))
    return path


def assert_inert(markup: str, *, web_links: bool = False) -> None:
    """Fail if the HTML has any element or attribute that can run script or navigate (or, with `web_links`,
    anything but plain http(s) links)."""
    from html.parser import HTMLParser

    class Checker(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if web_links and tag == "a":
                assert all(n != "href" or (v or "").startswith(("http://", "https://")) for n, v in attrs)
                attrs = [(n, v) for n, v in attrs if n != "href"]
            else:
                assert tag not in {"script", "img", "a", "iframe", "style", "svg", "object"}, f"<{tag}> in output"
            for name, value in attrs:
                assert not name.startswith("on"), f"{name}= on <{tag}>"
                assert name not in {"href", "src", "style"}, f"{name}= on <{tag}>"
                assert "javascript:" not in (value or "").lower()

    Checker().feed(markup)


# The browser journeys' fixtures (tests/webapp/journey.py): one server and one Chromium per test module.
@pytest.fixture(scope="module")
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> Iterator[Served]:
    """`critic serve` (with its training worker) on the tiny model, a fresh home and database, and one user a role."""
    from db.session import session_scope
    from db.users import create_user

    env = {"CRITIC_MODEL": str(tiny_model_dir), "CRITIC_BACKEND": "transformers", "CRITIC_MAX_NEW_TOKENS": "160"}
    # Each module's server log is kept under its own name: a failing journey's log is not overwritten by the next.
    log_name = f"{request.module.__name__.rsplit('.', 1)[-1]}-serve.log"
    with critic_serve(tmp_path_factory.mktemp("served"), env, log_name=log_name) as served:
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


@pytest.fixture(autouse=True)
def _screenshot_what_was_on_screen(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every journey leaves a screenshot of its last page under artifacts/ (the failing state, when it fails)."""
    OPEN_PAGES.clear()
    yield
    for page in OPEN_PAGES:
        shot(page, f"{request.node.name.removeprefix('test_')}-last")
        page.context.close()
