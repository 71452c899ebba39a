"""Idle CPU of `critic serve`: four logged-in Chromium tabs (Critique, Annotate, Review, Admin), nobody clicking.

Starts `critic serve` (default model and backend: the embedded model, with its training worker) on a fresh
CRITIC_HOME, seeds a small realistic state (a campaign of 5 items, one submitted label), logs in four tabs of the
system Chromium as the admin, opens one main tab in each, waits `--settle` seconds (model warm-up, timers backing
off), then measures the CPU time (user + system) of the serve process and all its children over `--seconds`
and prints it as a percentage of one core. The browser's own CPU is not counted: it is the users' machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder comes first on sys.path and its name would hide the `webapp` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO_ROOT))

from core.vllm_server import free_port  # noqa: E402 - after the sys.path fix above

CHROMIUM = "/usr/bin/chromium"
ADMIN_PASSWORD = "bench-admin"
TABS = ("Critique", "Annotate", "Review", "Admin")


def start_serve(home: Path, port: int, models_dir: Path) -> subprocess.Popen[str]:
    """`critic serve` from this checkout on `port`, data in `home`, converted models read from `models_dir`."""
    env = {
        **os.environ,
        "CRITIC_HOME": str(home),
        "CRITIC_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "CRITIC_MODELS_DIR": str(models_dir),
        "PYTHONPATH": str(REPO_ROOT),
    }
    command = [sys.executable, "-c", "from cli.main import main; main()", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    for line in proc.stdout:  # type: ignore[union-attr]
        if "Critic Studio on" in line:
            print(line.strip(), flush=True)
            break
    # Its output is read (and dropped) so the pipe never fills and stalls the server.
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    return proc


def seed(database_url: str) -> str:
    """A campaign of five items with one submitted label: every tab has something to show. Returns the state."""
    from core.types import SolutionItem
    from db.annotations import create_annotation
    from db.campaigns import create_campaign
    from db.items import add_item, link_items
    from db.session import session_scope
    from db.users import create_user

    with session_scope(database_url) as session:
        annotator = create_user(session, username="ann", password="pw-ann", role="annotator").id
        campaign = create_campaign(session, name="Idle bench").id
        items = [
            add_item(session, item=SolutionItem(problem=f"What is {n} + {n}?", steps=[f"{n} + {n} = {2 * n}."])).id
            for n in range(1, 6)
        ]
        link_items(session, campaign_id=campaign, item_ids=items)
        session.commit()
        create_annotation(
            session,
            item_id=items[0],
            annotator_id=annotator,
            campaign_id=campaign,
            ratings=[1],
            finish_reason="solution",
            status="submitted",
        )
    return "2 users, 1 campaign of 5 items, 1 submitted label, no jobs"


def tree_cpu_seconds(pid: int) -> tuple[float, int]:
    """User + system CPU seconds of the process and its live descendants, and how many processes that is."""
    import psutil

    root = psutil.Process(pid)
    total, count = 0.0, 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
        count += 1
    return total, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300.0, help="Length of the measured window.")
    parser.add_argument("--settle", type=float, default=60.0, help="Seconds between the last login and the window.")
    parser.add_argument("--target", type=float, default=1.0, help="Target: at most this % of one core.")
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=None,
        help="Converted models (default: your CRITIC_MODELS_DIR, where `critic model prepare` put the embedded one).",
    )
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from core.settings import get_settings

    models_dir = args.models_dir or get_settings().models_dir
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
        home = Path(tmp)
        port = free_port()
        proc = start_serve(home, port, models_dir)
        url = f"http://127.0.0.1:{port}/"
        try:
            state = seed(f"sqlite:///{home}/critic.db")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
                for tab in TABS:
                    page = browser.new_context(viewport={"width": 1280, "height": 1100}).new_page()
                    page.goto(url)
                    page.fill("input[type=text]", "admin")
                    page.fill("input[type=password]", ADMIN_PASSWORD)
                    page.keyboard.press("Enter")
                    page.wait_for_selector("#whoami :text('Logged in as')")
                    page.get_by_role("tab", name=tab, exact=True).click()
                print(f"4 tabs logged in as admin ({', '.join(TABS)}); settling {args.settle:.0f} s", flush=True)
                time.sleep(args.settle)
                load_before = os.getloadavg()[0]
                cpu_before, _ = tree_cpu_seconds(proc.pid)
                wall_before = time.monotonic()
                time.sleep(args.seconds)
                cpu_after, processes = tree_cpu_seconds(proc.pid)
                wall = time.monotonic() - wall_before
                load_after = os.getloadavg()[0]
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    percent = 100.0 * (cpu_after - cpu_before) / wall
    model = os.environ.get("CRITIC_MODEL", "embedded (default)")
    backend = os.environ.get("CRITIC_BACKEND", "auto (default)")
    print(
        f"state: {state}; model {model}, backend {backend}, training worker on; "
        f"{processes} process(es) in the serve tree"
    )
    print(f"machine: load {load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} CPUs")
    print(f"idle CPU of critic serve over {wall:.0f} s: {percent:.2f} % of one core")
    met = percent <= args.target
    print(f"target at most {args.target:.1f} % of one core: {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
