"""Benchmark the web app: time to the first streamed step card (embedded model) and concurrent annotation saves.

Starts `critic serve` in a subprocess on a fresh CRITIC_HOME and talks to it over HTTP, like users' browsers do.

1. Streaming: submit a GSM8K solution to `/critique_stream` and time (a) the first update with the step cards,
   (b) the first update carrying text the model generated, (c) a step with the model's parsed critique,
   (d) the final result.
2. Concurrency: N simulated users (own login each) save annotations through `/save_annotation` at the same
   time, each creating then updating its annotation with version checks; reports saves/s, p50/p99 latency,
   and checks that every save is in the database (version and audit events), i.e. zero lost saves.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder comes first on sys.path and its name would hide the `webapp` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO_ROOT))
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "processbench" / "gsm8k.json"

from core.vllm_server import free_port  # noqa: E402 - after the sys.path fix above


def start_server(home: Path, port: int, *options: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`critic serve` on `port` with its data in `home` (admin password bench-admin), once it says where it listens.

    `env` is the environment it starts from (default: this process's); its output stays on the returned pipe."""
    env = {**(os.environ if env is None else env), "CRITIC_HOME": str(home), "CRITIC_ADMIN_PASSWORD": "bench-admin"}
    critic = Path(sys.executable).with_name("critic")
    proc = subprocess.Popen(
        [str(critic), "serve", "--port", str(port), *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in proc.stdout:  # type: ignore[union-attr]
        if "Critic Studio on" in line:
            break
    return proc


class _HttpUser:
    """One logged-in user calling the app's HTTP API directly, as a browser does (no gradio_client).

    gradio_client costs far more CPU than the server's work for a save (measured: 163 % vs 27 % of the 2 cores
    during the save phase), so with it the bench would time the load generator rather than the app.
    """

    def __init__(self, url: str, user: str, password: str) -> None:
        import httpx

        self.http = httpx.Client(base_url=url, timeout=120)
        self.http.post("login", data={"username": user, "password": password}).raise_for_status()
        self.session_hash = uuid.uuid4().hex  # one session, as one browser tab (a new one per call costs the server)

    def call(self, api_name: str, *args: object) -> Any:
        """POST the call, then read its server-sent events until the result (Gradio's queue protocol)."""
        body = {"data": list(args), "session_hash": self.session_hash}
        event_id = self.http.post(f"gradio_api/call/{api_name}", json=body).json()["event_id"]
        event = ""
        with self.http.stream("GET", f"gradio_api/call/{api_name}/{event_id}") as response:
            for line in response.iter_lines():
                if line.startswith("event:"):
                    event = line.removeprefix("event:").strip()
                elif line.startswith("data:") and event == "complete":
                    return json.loads(line.removeprefix("data:"))[0]
                elif line.startswith("data:") and event == "error":
                    raise RuntimeError(f"{api_name} failed: {line.removeprefix('data:').strip()}")
        raise RuntimeError(f"{api_name}: the event stream ended without a result")


def _client(url: str, user: str, password: str):  # type: ignore[no-untyped-def]
    from gradio_client import Client

    deadline = time.monotonic() + 120
    while True:
        try:
            return Client(url, auth=(user, password), verbose=False)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def bench_streaming(url: str, item: dict, runs: int) -> dict[str, float]:
    client = _client(url, "admin", "bench-admin")
    solution = "\n\n".join(item["steps"])
    client.predict(item["problem"], solution, api_name="/critique")  # the model is loaded and warm after this
    marks: dict[str, list[float]] = {"first_step_cards_s": [], "first_model_text_s": [], "first_step_critique_s": []}
    final = []
    tests = {
        "first_step_cards_s": lambda o: bool(o.get("steps")),
        "first_model_text_s": lambda o: any(t.strip() for t in o.get("raw_outputs", [])),
        "first_step_critique_s": lambda o: any(s.get("critique") for s in o.get("steps", [])),
    }
    for _ in range(runs):
        start = time.perf_counter()
        job = client.submit(item["problem"], solution, api_name="/critique_stream")
        seen: dict[str, float] = {}
        while True:
            done = job.done()
            now = time.perf_counter() - start
            for output in job.outputs():
                for name, test in tests.items():
                    if name not in seen and test(output):
                        seen[name] = now
            if done:
                break
            time.sleep(0.01)
        job.result()
        final.append(time.perf_counter() - start)
        for name in marks:
            marks[name].append(seen.get(name, float("nan")))
    out = {name: statistics.median(values) for name, values in marks.items()}
    out["final_result_s"] = statistics.median(final)
    return out


def bench_saves(url: str, home: Path, users: int, saves_per_user: int) -> dict[str, float]:
    from db.models import AnnotationEvent
    from db.session import session_scope
    from webapp.auth import check_login
    from webapp.context import AppContext
    from webapp.handlers import admin

    db_url = f"sqlite:///{home / 'critic.db'}"
    ctx = AppContext(database_url=db_url)
    boss = check_login(db_url, "admin", "bench-admin")
    campaign = admin.new_campaign(ctx, boss, name="bench", overlap=users)
    admin.upload_campaign_data(ctx, boss, campaign_id=campaign, path=DEFAULT_DATA)
    from sqlalchemy import select

    from db.models import CampaignItem, Item

    with session_scope(db_url) as session:
        item_id, n_steps = session.execute(
            select(Item.id, Item.steps).join(CampaignItem, CampaignItem.item_id == Item.id).limit(1)
        ).one()
        n_steps = len(n_steps)
    for u in range(users):
        admin.add_user(ctx, boss, username=f"user{u}", password="pw", role="annotator")
    clients = [_HttpUser(url, f"user{u}", "pw") for u in range(users)]
    latencies: list[float] = []
    failures: list[str] = []
    results: dict[int, tuple[int, int]] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(users)

    def user(u: int) -> None:
        client = clients[u]
        ann_id = version = None
        barrier.wait()
        for s in range(saves_per_user):
            ratings = [1 if (s + k) % 3 else 0 for k in range(n_steps)]
            start = time.perf_counter()
            try:
                out = client.call(
                    "save_annotation", item_id, ratings, "", campaign, ann_id, version, [], f"save {s}", False
                )
            except Exception as exc:
                with lock:
                    failures.append(f"user{u} save {s}: {exc}")
                continue
            elapsed = time.perf_counter() - start
            if out["conflict"] or not out["saved"]:
                with lock:
                    failures.append(f"user{u} save {s}: conflict {out['message']}")
                continue
            ann_id, version = out["saved"]["annotation_id"], out["saved"]["version"]
            with lock:
                latencies.append(elapsed)
        results[u] = (ann_id, version)

    threads = [threading.Thread(target=user, args=(u,)) for u in range(users)]
    wall = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - wall
    lost = 0
    with session_scope(db_url) as session:
        for _u, (ann_id, version) in results.items():
            events = session.scalars(select(AnnotationEvent).where(AnnotationEvent.annotation_id == ann_id)).all()
            # Every acknowledged save must be one version and one audit event in the database.
            lost += abs(saves_per_user - version) + abs(saves_per_user - len(events))
    latencies.sort()
    return {
        "users": users,
        "saves": len(latencies),
        "failed": len(failures),
        "lost": lost,
        "saves_per_s": len(latencies) / wall,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "first_failures": failures[:3],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20, help="Simulated concurrent annotators.")
    parser.add_argument("--saves", type=int, default=10, help="Saves per user (one create, then updates).")
    parser.add_argument("--runs", type=int, default=3, help="Streaming runs (median reported).")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="Generation budget of the streamed critique.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="ProcessBench JSON file.")
    args = parser.parse_args(argv)
    item = json.loads(args.data.read_text())[0]
    with tempfile.TemporaryDirectory(prefix="bench-webapp-") as tmp:
        home = Path(tmp)
        port = free_port()
        env = {**os.environ, "CRITIC_MAX_NEW_TOKENS": str(args.max_new_tokens)}
        proc = start_server(home, port, "--no-worker", "--warm-up", env=env)
        url = f"http://127.0.0.1:{port}/"
        try:
            stream = bench_streaming(url, item, args.runs)
            print(f"streaming (embedded model, {len(item['steps'])} steps, median of {args.runs}):")
            for key, value in stream.items():
                print(f"  {key:24s} {value:7.2f} s")
            print(f"  target first step cards < 2 s: {'met' if stream['first_step_cards_s'] < 2 else 'MISSED'}")
            saves = bench_saves(url, home, args.users, args.saves)
            print(f"concurrent saves ({saves['users']} users x {args.saves} saves via the HTTP API):")
            print(
                f"  saves {saves['saves']}, failed {saves['failed']}, lost {saves['lost']}, "
                f"{saves['saves_per_s']:.1f} saves/s, p50 {saves['p50_ms']:.0f} ms, p99 {saves['p99_ms']:.0f} ms"
            )
            for failure in saves["first_failures"]:
                print(f"  failure: {failure}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
