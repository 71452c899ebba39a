"""Time from a step's judgement being generated to its judged card in the stream and on the page (Critique tab).

Starts `critic serve` with every default (the `auto` backend and the embedded model unless CRITIC_BACKEND /
CRITIC_MODEL say otherwise) on a fresh CRITIC_HOME, warms it with one critique, then critiques the same 4-step
solution (issue #26's pencils example) `--runs` times on each side, alternating:

- stream: the `/critique_stream` API read as server-sent events over HTTP, as the page's own JavaScript reads them;
  a step's card is "in the stream" when the first event with that step's verdict arrives;
- page: the Critique tab in the system Chromium (Playwright), the Critique button pressed as a person does; a step's
  card is "in the page" when the DOM first shows it with a verdict (a MutationObserver stamps the moment).

The moment a judgement was generated is the engine's own stamp (`judged_step_N_at` in the result's timings: the
time the token reached the critic from the generating thread on transformers, or arrived from the server on the
openai / vLLM-server path). Both sides run on one machine, so the browser's clock is the server's. Prints, per
side, the median and worst latency of the first judged card and of every judged card, and the time from the
click to the first judged card and to the final result.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO_ROOT))

from bench.webapp import start_server  # noqa: E402 - after the sys.path fix above
from core.vllm_server import free_port  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PROBLEM = (
    "A stationery shop sells pencils at $2 each and erasers at $1 each. Ana buys 6 pencils and 3 erasers and pays "
    "with a $20 bill. How much change does she get?"
)
STEPS = [
    "6 pencils cost 6 * 2 = 12 dollars.",
    "3 erasers cost 3 * 1 = 3 dollars.",
    "Together she spends 12 + 3 = 16 dollars.",
    "Her change is 20 - 16 = 4 dollars.",
]
# Stamps (Date.now() / 1000, the system clock) when each step card first shows a verdict, and when the summary
# says the critique is finished.
OBSERVE_JS = """() => {
  window.__cards = {}; window.__final = null;
  const root = document.querySelector('#critique-cards');
  const look = () => {
    const now = Date.now() / 1000;
    for (const card of root.querySelectorAll('.step-card')) {
      const judged = card.classList.contains('verdict-correct') || card.classList.contains('verdict-incorrect');
      if (judged && !(card.id in window.__cards)) window.__cards[card.id] = now;
    }
    const summary = root.querySelector('.critic-summary');
    if (summary && !summary.classList.contains('running') && window.__final === null) window.__final = now;
  };
  new MutationObserver(look).observe(root, {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def _judged_at(timings: dict[str, float]) -> dict[int, float]:
    return {int(k.split("_")[2]): v for k, v in timings.items() if k.startswith("judged_step_") and k.endswith("_at")}


def stream_side(url: str, steps: list[str] = STEPS) -> dict[str, Any]:
    """One critique through /critique_stream: when each step's verdict arrived, against when it was generated."""
    import httpx

    http = httpx.Client(base_url=url, timeout=3600)
    http.post("login", data={"username": "admin", "password": "bench-admin"}).raise_for_status()
    body = {"data": [PROBLEM, "\n".join(steps), "", "", "single", 1], "session_hash": uuid.uuid4().hex}
    started = time.time()
    event_id = http.post("gradio_api/call/critique_stream", json=body).json()["event_id"]
    arrived: dict[int, float] = {}
    final: dict[str, Any] = {}
    event = ""
    with http.stream("GET", f"gradio_api/call/critique_stream/{event_id}") as response:
        for line in response.iter_lines():
            now = time.time()
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:") and event in ("generating", "complete"):
                result = json.loads(line.removeprefix("data:"))[0]
                for step in result["steps"]:
                    if step["verdict"] != "unchecked" and step["index"] not in arrived and not result["finished"]:
                        arrived[step["index"]] = now
                if result["finished"]:
                    final = result
            elif line.startswith("data:") and event == "error":
                raise RuntimeError(f"critique_stream failed: {line}")
    return {"started": started, "shown": arrived, "ended": time.time(), "judged": _judged_at(final["timings"])}


def page_side(page: Any, home: Path) -> dict[str, Any]:
    """One critique in the Critique tab: when each judged card appeared in the DOM, against when it was generated."""
    from sqlalchemy import select

    from db.models import CritiqueRun
    from db.session import session_scope

    page.fill("#critique-problem textarea", PROBLEM)
    page.fill("#critique-solution textarea", "\n".join(STEPS))
    page.evaluate(OBSERVE_JS)
    started = time.time()
    page.click("#critique-run")
    page.wait_for_function("() => window.__final !== null", timeout=3_600_000)
    cards = page.evaluate("() => window.__cards")
    ended = page.evaluate("() => window.__final")
    with session_scope(f"sqlite:///{home / 'critic.db'}") as session:
        run = session.scalars(select(CritiqueRun).order_by(CritiqueRun.id.desc()).limit(1)).one()
        timings = dict(run.result["timings"])
    shown = {int(card_id.removeprefix("step-")): at for card_id, at in cards.items()}
    return {"started": started, "shown": shown, "ended": ended, "judged": _judged_at(timings)}


def summarize(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Latencies (card shown minus judgement generated) of the first judged card and of all, and wall times."""
    first, every, to_first, to_final, missing = [], [], [], [], 0
    for run in runs:
        judged, shown = run["judged"], run["shown"]
        steps = sorted(set(judged) & set(shown))
        missing += len(set(judged) - set(shown))
        if steps:
            first.append(shown[steps[0]] - judged[steps[0]])
            to_first.append(shown[steps[0]] - run["started"])
        every += [shown[i] - judged[i] for i in steps]
        to_final.append(run["ended"] - run["started"])
    return {
        "first_judged_card_latency_s": statistics.median(first) if first else float("nan"),
        "worst_card_latency_s": max(every) if every else float("nan"),
        "median_card_latency_s": statistics.median(every) if every else float("nan"),
        "cards_measured": len(every),
        "judged_steps_never_shown_while_streaming": missing,
        "click_to_first_judged_card_s": statistics.median(to_first) if to_first else float("nan"),
        "click_to_final_result_s": statistics.median(to_final),
    }


def _wait_until_answering(url: str, timeout_s: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            httpx.get(url, timeout=5)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="Critiques per side (medians reported).")
    parser.add_argument("--target-s", type=float, default=1.0, help="Target: judgement generated -> card shown.")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-streaming-") as tmp:
        home = Path(tmp)
        port = free_port()
        proc = start_server(home, port)
        # Its output is read (and dropped) so the pipe never fills and stalls the server.
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}/"
        _wait_until_answering(url)
        sides: dict[str, list[dict[str, Any]]] = {"stream": [], "page": []}
        try:
            # The model loaded and one (short) critique written: neither side pays for a first call.
            warm = stream_side(url, STEPS[:1])
            print(
                f"warm-up critique: {warm['ended'] - warm['started']:.1f} s; load {os.getloadavg()[0]:.1f}", flush=True
            )
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 1100})
                page.goto(url)
                page.fill("input[type=text]", "admin")
                page.fill("input[type=password]", "bench-admin")
                page.keyboard.press("Enter")
                page.wait_for_selector("#critique-run")
                for run in range(args.runs):
                    for side, measure in (
                        ("stream", lambda: stream_side(url)),
                        ("page", lambda: page_side(page, home)),
                    ):
                        sides[side].append(measure())
                        numbers = summarize(sides[side][-1:])
                        print(f"run {run + 1} {side}: " + ", ".join(f"{k} {v:.2f}" for k, v in numbers.items()))
                        print(f"  load {os.getloadavg()[0]:.1f}", flush=True)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    backend = os.environ.get("CRITIC_BACKEND", "auto (default)")
    model = os.environ.get("CRITIC_MODEL", "embedded (default)")
    print(
        f"{len(STEPS)}-step pencils solution, {args.runs} runs per side alternating, model {model}, backend "
        f"{backend}; one warm server (model loaded, grammar compiled, fresh CRITIC_HOME); load at the end "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    for side, runs in sides.items():
        numbers = summarize(runs)
        print(f"{side}:")
        for key, value in numbers.items():
            print(f"  {key:42s} {value:7.2f}" if isinstance(value, float) else f"  {key:42s} {value:7d}")
        met = numbers["first_judged_card_latency_s"] <= args.target_s
        print(f"  target first judged card within {args.target_s:.1f} s of its judgement: {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
