"""Aggregate generated tokens/s of the transformers, in-process vLLM, vLLM-server and default backends, side by side.

The same ProcessBench GSM8K critique prompts go through (a) the transformers backend, (b) the in-process vLLM
backend (run with the vLLM environment's python, see scripts/vllm_env.sh), (c) vLLM's OpenAI-compatible
server through the openai backend and (d) the project's default path, the `auto` backend (which starts its own
vLLM server when the vLLM environment exists), at several concurrencies; every rate is also printed as a ratio
against (a) at concurrency 1. "Concurrency c" means: transformers generates in batches of c rows, the
in-process vLLM engine gets the prompts c at a time, the openai backend keeps c requests in flight, and the
default path serves c clients that each send one critique at a time through its public `generate`.

    .venv/bin/python bench/backends.py [--items 64] [--max-new-tokens 128] [--concurrency 1,8,32,64] [--backends ...]

Concurrency 1 runs only the first --c1-items prompts (default 8): one at a time, all 64 would take most of an
hour on 2 cores, and the rate of 8 sequential critiques is the same measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script, from either environment
    sys.path.insert(0, str(REPO_ROOT))

from core.backends.base import Backend, Generation, GenerationParams, Messages  # noqa: E402
from core.prompts import critique_messages  # noqa: E402

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "processbench" / "gsm8k.json"


def critique_prompts(data: Path, count: int) -> list[Messages]:
    items = json.loads(data.read_text())[:count]
    if len(items) < count:
        raise SystemExit(f"{data} has only {len(items)} items, {count} requested")
    return [critique_messages(item["problem"], item["steps"]) for item in items]


def _rate(prompts: int, generations: list[list[Generation]], seconds: float) -> dict[str, Any]:
    tokens = sum(g.completion_tokens for samples in generations for g in samples)
    return {"prompts": prompts, "tokens": tokens, "seconds": round(seconds, 2), "tps": tokens / seconds}


def measure(backend: Backend, prompts: list[Messages], params: GenerationParams, chunk: int | None) -> dict[str, Any]:
    """Generate for all prompts (in chunks of `chunk` calls when given) and return the aggregate rate."""
    started = time.perf_counter()
    generations = []
    step = chunk or len(prompts)
    for start in range(0, len(prompts), step):
        generations += backend.generate(prompts[start : start + step], params)
    return _rate(len(prompts), generations, time.perf_counter() - started)


def measure_users(backend: Backend, prompts: list[Messages], params: GenerationParams, users: int) -> dict[str, Any]:
    """`users` clients, each sending its next critique as soon as the last one came back (one prompt per call)."""
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=users) as pool:
        generations = list(pool.map(lambda prompt: backend.generate([prompt], params)[0], prompts))
    return _rate(len(prompts), generations, time.perf_counter() - started)


def sweep(
    label: str, args: argparse.Namespace, prompts: list[Messages], measure_at: Callable[[list[Messages], int], dict]
) -> dict[int, dict[str, Any]]:
    """Measure at every concurrency of --concurrency (only --c1-items prompts at 1) and print each rate."""
    results = {}
    for c in args.concurrency:
        results[c] = measure_at(prompts[: args.c1_items] if c == 1 else prompts, c)
        print(f"  {label} c={c}: {results[c]}", file=sys.stderr, flush=True)
    return results


def warm_up(backend: Backend, prompts: list[Messages]) -> None:
    # First calls compile / allocate; they are not part of any rate.
    backend.generate(prompts[:2], GenerationParams(max_new_tokens=8))


def sweep_backend(
    label: str, args: argparse.Namespace, prompts: list[Messages], backend: Backend, concurrency_setting: str = ""
) -> dict[int, dict[str, Any]]:
    """Warm the backend up, sweep the concurrencies and close it. At concurrency c the backend's
    `concurrency_setting` (its batch size or requests in flight) is set to c; without one, prompts go c per call."""
    warm_up(backend, prompts)
    params = GenerationParams(max_new_tokens=args.max_new_tokens)

    def measure_at(batch: list[Messages], c: int) -> dict[str, Any]:
        if not concurrency_setting:
            return measure(backend, batch, params, chunk=c)
        setattr(backend, concurrency_setting, c)
        return measure(backend, batch, params, chunk=None)

    results = sweep(label, args, prompts, measure_at)
    backend.close()
    return results


def run_transformers(args: argparse.Namespace, prompts: list[Messages]) -> dict[int, dict[str, Any]]:
    from core.backends.transformers_backend import TransformersBackend

    return sweep_backend("transformers", args, prompts, TransformersBackend(args.model, device="cpu"), "max_batch_size")


def run_vllm_in_process(args: argparse.Namespace, prompts: list[Messages]) -> dict[int, dict[str, Any]]:
    """In this process when vLLM is importable, else in a subprocess of the vLLM environment's python."""
    from core.backends.vllm_backend import VLLMBackend

    return sweep_backend("vllm", args, prompts, VLLMBackend(args.model))


def run_vllm_subprocess(args: argparse.Namespace) -> dict[int, dict[str, Any]]:
    from core.settings import get_settings

    python = args.vllm_python or get_settings().vllm_python
    command = [str(python), str(Path(__file__).resolve()), "--worker", "vllm", *args.forward]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the in-process vLLM run failed (exit {done.returncode}); see its output above")
    # vLLM logs to stdout as well: the results are the last line that is a JSON object.
    last = next(line for line in reversed(done.stdout.splitlines()) if line.startswith("{"))
    return {int(c): r for c, r in json.loads(last).items()}


def run_openai_server(args: argparse.Namespace, prompts: list[Messages]) -> dict[int, dict[str, Any]]:
    from core.backends.openai_backend import OpenAIBackend
    from core.vllm_server import start_vllm_server

    log = Path(args.server_log)
    server = start_vllm_server(args.model, port=args.port, vllm_python=args.vllm_python, log_file=log)
    try:
        server.wait_until_serving(900)
        backend = OpenAIBackend(server.served_name, base_url=server.base_url, timeout_s=600)
        return sweep_backend("openai->vllm server", args, prompts, backend, "max_concurrency")
    finally:
        server.stop()


def run_default(args: argparse.Namespace, prompts: list[Messages]) -> dict[int, dict[str, Any]]:
    """The backend a user gets without choosing one: `auto`, warmed up the way the web app warms it."""
    from core.backends.auto_backend import AutoBackend

    backend = AutoBackend(args.model, device="cpu")
    backend.prepare_for_traffic()
    if not backend.wait_for_server():
        print(f"  auto: no vLLM server ({backend.server_error}); measuring transformers", file=sys.stderr)
    warm_up(backend, prompts)
    params = GenerationParams(max_new_tokens=args.max_new_tokens)

    def c_users(batch: list[Messages], c: int) -> dict[str, Any]:
        return {**measure_users(backend, batch, params, users=c), "engine": backend.engine}

    results = sweep("default (auto)", args, prompts, c_users)
    backend.close()
    return results


def print_table(all_results: dict[str, dict[int, dict[str, Any]]], concurrency: list[int]) -> None:
    base = all_results.get("transformers", {}).get(1, {}).get("tps")
    print(f"\n{'backend':<24}" + "".join(f"{'c=' + str(c):>18}" for c in concurrency))
    for name, results in all_results.items():
        cells = []
        for c in concurrency:
            tps = results.get(c, {}).get("tps")
            ratio = f" ({tps / base:4.1f}x)" if tps and base else ""
            cells.append(f"{tps:8.1f}{ratio}" if tps else "-")
        print(f"{name:<24}" + "".join(f"{cell:>18}" for cell in cells))
    print("\naggregate generated tokens/s; (Nx) = ratio against transformers at c=1")
    default = all_results.get("default (auto)")
    others = {name: results for name, results in all_results.items() if name != "default (auto)"}
    if default and others:
        cells = []
        for c in concurrency:
            best = max((r.get(c, {}).get("tps") or 0.0 for r in others.values()), default=0.0)
            tps = default.get(c, {}).get("tps")
            cells.append(f"{tps / best:8.2f}x" if tps and best else "-")
        print(f"{'default / best other':<24}" + "".join(f"{cell:>18}" for cell in cells))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=64, help="ProcessBench GSM8K items to critique.")
    parser.add_argument("--c1-items", type=int, default=8, help="Items used at concurrency 1 (sequential).")
    parser.add_argument("--concurrency", default="1,8,32,64", help="Comma-separated concurrency levels.")
    parser.add_argument("--max-new-tokens", type=int, default=128, help="Generated tokens per critique (at most).")
    parser.add_argument("--model", default="embedded", help="Critic model for every backend.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="ProcessBench gsm8k.json.")
    parser.add_argument(
        "--backends", default="transformers,vllm,openai,default", help="Which of the four to run (comma-separated)."
    )
    parser.add_argument("--port", type=int, default=8011, help="Loopback port of the vLLM server.")
    parser.add_argument("--vllm-python", type=Path, default=None, help="Python of the vLLM env (CRITIC_VLLM_PYTHON).")
    parser.add_argument("--server-log", default="/tmp/critic-bench-vllm-server.log", help="vLLM server output.")
    parser.add_argument("--output", type=Path, default=None, help="Also write the results as JSON here.")
    parser.add_argument("--worker", choices=["vllm"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.forward = list(argv if argv is not None else sys.argv[1:])
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.backends = args.backends.split(",")
    return args


def main() -> None:
    args = parse_args()
    prompts = critique_prompts(args.data, args.items)
    if args.worker == "vllm":  # inside the vLLM environment: print the results as the last line
        results = run_vllm_in_process(args, prompts)
        print(json.dumps(results))
        return
    all_results: dict[str, dict[int, dict[str, Any]]] = {}
    if "transformers" in args.backends:
        print("(a) transformers backend", file=sys.stderr, flush=True)
        all_results["transformers"] = run_transformers(args, prompts)
    if "vllm" in args.backends:
        print("(b) in-process vLLM backend", file=sys.stderr, flush=True)
        all_results["vllm (in-process)"] = run_vllm_subprocess(args)
    if "openai" in args.backends:
        print("(c) vLLM OpenAI server via the openai backend", file=sys.stderr, flush=True)
        all_results["openai -> vllm server"] = run_openai_server(args, prompts)
    if "default" in args.backends:
        print("(d) the default path: the auto backend", file=sys.stderr, flush=True)
        all_results["default (auto)"] = run_default(args, prompts)
    print_table(all_results, args.concurrency)
    if args.output:
        args.output.write_text(json.dumps(all_results, indent=2))


if __name__ == "__main__":  # vLLM starts worker processes that re-import the main module
    main()
