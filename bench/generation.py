"""Benchmark: critique ProcessBench GSM8K items with the embedded model one at a time vs batched (tokens/s, RSS).

    .venv/bin/python bench/generation.py [--backend auto|transformers] [--items 32] [--max-new-tokens 256]
    ~/.cache/critic-studio/vllm-venv/bin/python bench/generation.py --backend vllm --kv-cache-gib 0.5

`--backend auto` (the default backend) is measured with its vLLM server already up, as the web app keeps it;
its peak RSS adds up the server's processes (they are where the model and KV cache live). `--backend vllm` runs
vllm.LLM in this process: start it with the vLLM environment's python (scripts/vllm_env.sh prints it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "processbench" / "gsm8k.json"


def _tree_peak_rss_mb(root_pid: int) -> float:
    """Sum of the peak RSS (VmHWM) of a live process and all its descendants (engine workers, a vLLM server's)."""
    parents: dict[int, int] = {}
    peaks_kib: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:  # the process ended meanwhile
            continue
        pid = int(status.parent.name)
        parents[pid] = int(fields["PPid"].strip())
        peaks_kib[pid] = int(fields.get("VmHWM", "0 kB").split()[0])

    def descends_from_root(pid: int) -> bool:
        while pid > 1:
            if pid == root_pid:
                return True
            pid = parents.get(pid, 0)
        return False

    return sum(kib for pid, kib in peaks_kib.items() if descends_from_root(pid)) / 1024


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=32, help="How many GSM8K items to critique (from the start).")
    parser.add_argument("--max-new-tokens", type=int, default=256, help="Generation budget per critique.")
    parser.add_argument("--batch-size", type=int, default=16, help="Rows per generate() call in the batched run.")
    parser.add_argument(
        "--backend",
        choices=["auto", "transformers", "vllm"],
        default="auto",
        help="auto: the default backend (its vLLM server when the vLLM environment exists); transformers: in-process; "
        "vllm: vllm.LLM in this process (run with the vLLM environment's python).",
    )
    parser.add_argument(
        "--kv-cache-gib",
        type=float,
        default=None,
        help="vLLM's KV cache on a CPU, GiB (default: setting vllm_cpu_kv_cache_gib, CRITIC_VLLM_CPU_KV_CACHE_GIB).",
    )
    parser.add_argument("--model", default="embedded", help="Critic model (default: the embedded SmolLM2-135M).")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="ProcessBench JSON file.")
    parser.add_argument("--cache", default=None, help="transformers cache_implementation (static); default dynamic.")
    parser.add_argument("--skip-single", action="store_true", help="Only run the batched pass.")
    parser.add_argument(
        "--single-items", type=int, default=None, help="Time one-at-a-time on only the first N items (a rate sample)."
    )
    return parser.parse_args(argv)


def _backend(args: argparse.Namespace, settings: Any) -> Any:
    """The backend to measure, loaded (the auto backend with its vLLM server up when it can start one)."""
    if args.backend == "auto":
        from core.backends.auto_backend import AutoBackend

        backend = AutoBackend(args.model, device="cpu", settings=settings)
        backend.prepare_for_traffic()
        if not backend.wait_for_server():
            print(f"auto backend without its vLLM server ({backend.server_error}): measuring transformers")
        return backend
    if args.backend == "vllm":
        from core.backends.vllm_backend import VLLMBackend

        return VLLMBackend(args.model, settings=settings)
    from core.backends.transformers_backend import TransformersBackend

    return TransformersBackend(
        args.model,
        device="cpu",
        max_batch_size=args.batch_size,
        cache_implementation=args.cache,
        settings=settings,
    )


def _timed_runs(args: argparse.Namespace, critic: Any, items: list[Any]) -> list[tuple[str, list[Any], float, float]]:
    """(name, results, wall seconds, CPU seconds) of the one-at-a-time pass (unless skipped) and the batched one."""
    rows = []
    if not args.skip_single:
        start, cpu_start = time.perf_counter(), time.process_time()
        single = [critic.critique(item) for item in items[: args.single_items or len(items)]]
        rows.append(("one at a time", single, time.perf_counter() - start, time.process_time() - cpu_start))
        print(f"one at a time done: {rows[-1][2]:.1f}s", flush=True)
    start, cpu_start = time.perf_counter(), time.process_time()
    batched = critic.critique_many(items)
    rows.append(("batched", batched, time.perf_counter() - start, time.process_time() - cpu_start))
    return rows


def _print_speeds(
    args: argparse.Namespace, rows: list[tuple[str, list[Any], float, float]]
) -> tuple[dict[str, float], dict[str, float]]:
    """Print each pass's tokens per wall and per CPU second; returns both per pass."""
    # CPU seconds are printed beside wall seconds: on a shared machine they show how much of the wall time
    # the process actually ran.
    speeds: dict[str, float] = {}
    cpu_speeds: dict[str, float] = {}
    for name, results, seconds, cpu_seconds in rows:
        tokens = sum(r.completion_tokens for r in results)
        speeds[name] = tokens / seconds
        cpu_speeds[name] = tokens / cpu_seconds
        statuses = Counter(r.parse_status for r in results)
        at_limit = sum(r.completion_tokens >= args.max_new_tokens for r in results)
        print(
            f"{name:>14}: {len(results)} items, {tokens:6d} generated tokens in {seconds:7.1f}s wall = "
            f"{speeds[name]:7.1f} tokens/s; {cpu_seconds:7.1f} CPU s = {cpu_speeds[name]:6.1f} tokens/CPU-s "
            f"({at_limit} hit max_new_tokens; parse status {dict(statuses)})"
        )
    if "one at a time" in speeds:
        print(
            f"{'ratio':>14}: batched / one at a time = {speeds['batched'] / speeds['one at a time']:.1f}x wall, "
            f"{cpu_speeds['batched'] / cpu_speeds['one at a time']:.1f}x per CPU second"
        )
    return speeds, cpu_speeds


def _print_peak_rss(backend: Any) -> float:
    """Print the peak RSS of this process and its children (split off the vLLM server's); returns the total."""
    peak_rss = _tree_peak_rss_mb(os.getpid())  # includes the vLLM server's processes: they are its children
    server = getattr(backend, "_server", None)
    if server is not None and server.process.poll() is None:
        server_rss = _tree_peak_rss_mb(server.process.pid)
        print(f"{'peak RSS':>14}: {peak_rss - server_rss:.0f} MB this process + {server_rss:.0f} MB vLLM server")
    print(f"{'peak RSS':>14}: {peak_rss:.0f} MB")
    return peak_rss


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)

    import torch

    from core.backends.cpu import cpu_dtype_name, has_native_bf16
    from core.critic import Critic
    from core.items_io import read_items
    from core.settings import Settings, get_settings
    from core.types import SolutionItem

    items = [i for i in read_items(args.data) if isinstance(i, SolutionItem)][: args.items]
    load_start = time.perf_counter()
    settings = get_settings() if args.kv_cache_gib is None else Settings(vllm_cpu_kv_cache_gib=args.kv_cache_gib)
    backend = _backend(args, settings)
    critic = Critic(backend, max_new_tokens=args.max_new_tokens)
    dtype_setting = settings.cpu_dtype
    print(
        f"model {args.model} loaded in {time.perf_counter() - load_start:.1f}s, {torch.get_num_threads()} threads; "
        f"backend {backend.name}; {len(items)} items, max_new_tokens {args.max_new_tokens}, "
        f"transformers batch size {args.batch_size}, "
        f"cache {args.cache or 'dynamic'}, "
        f"vLLM CPU KV cache {settings.vllm_cpu_kv_cache_gib or 'sized for the model,'} GiB, "
        f"dtype {cpu_dtype_name(dtype_setting)} "
        f"(CRITIC_CPU_DTYPE={dtype_setting}; native bfloat16 on this CPU: {has_native_bf16()})",
        flush=True,
    )
    critic.critique(items[0], max_new_tokens=4)  # warm-up: first-call allocations are not generation speed
    speeds, cpu_speeds = _print_speeds(args, _timed_runs(args, critic, items))
    if backend.serves_concurrently:
        print(f"{'':>14}  (CPU seconds count this process only: the generation ran in the vLLM server's processes)")
    peak_rss = _print_peak_rss(backend)
    print(json.dumps({"tokens_per_s": speeds, "tokens_per_cpu_s": cpu_speeds, "peak_rss_mb": round(peak_rss)}))
    backend.close()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    sys.exit(main())
