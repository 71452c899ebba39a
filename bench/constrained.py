"""Benchmark: the cost of constrained decoding, time per generated token with and without the critique grammar.

    ~/.cache/critic-studio/vllm-venv/bin/python bench/constrained.py [--items 64] [--max-new-tokens 512]

In-process vLLM (the engine the app's server runs), one engine with its prefix cache off, so no pass reuses
another's prompts. Three passes over the same ProcessBench GSM8K prompts after a warm-up: constrained,
unconstrained, constrained again. The unconstrained pass generates exactly as many tokens per prompt as the first
constrained pass did (min_tokens = max_tokens = that count), so both sides do the same work apart from the grammar;
the ratio compares it with the mean of the two constrained passes, which brackets drift on a shared machine.
Prints each pass, the ratio (target <= 1.15) and the parse rates.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "processbench" / "gsm8k.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=64, help="How many GSM8K items (from the start).")
    parser.add_argument("--max-new-tokens", type=int, default=512, help="The critic's token budget per critique.")
    parser.add_argument("--kv-cache-gib", type=float, default=1.0, help="vLLM's KV cache on a CPU, GiB.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="ProcessBench JSON file.")
    args = parser.parse_args(argv)

    from core.backends.base import GenerationParams
    from core.backends.vllm_backend import VLLMBackend
    from core.critic import JUDGEMENT_LOGPROBS
    from core.grammar import critique_constraint
    from core.items_io import read_items
    from core.parsing import parse_critique
    from core.prompts import critique_messages
    from core.settings import Settings
    from core.types import SolutionItem

    items = [i for i in read_items(args.data) if isinstance(i, SolutionItem)][: args.items]
    backend = VLLMBackend(
        "embedded", settings=Settings(vllm_cpu_kv_cache_gib=args.kv_cache_gib), enable_prefix_caching=False
    )
    prompts = [critique_messages(item.problem, item.steps) for item in items]
    constraints = [critique_constraint(len(item.steps), args.max_new_tokens) for item in items]
    params = GenerationParams(max_new_tokens=args.max_new_tokens, repetition_penalty=1.1, logprobs=JUDGEMENT_LOGPROBS)
    print(
        f"{len(items)} GSM8K items, in-process vLLM, prefix cache off (no pass reuses another's prompts), "
        f"KV cache {args.kv_cache_gib:g} GiB, budget {args.max_new_tokens} tokens",
        flush=True,
    )
    backend.generate(prompts[:2], GenerationParams(max_new_tokens=8))  # warm-up: compile and first allocations

    def constrained_pass() -> tuple[float, list[int], list[str]]:
        start = time.perf_counter()
        outputs = backend.generate(prompts, params, constraints)
        seconds = time.perf_counter() - start
        return seconds, [o[0].completion_tokens for o in outputs], [o[0].text for o in outputs]

    first_s, counts, texts = constrained_pass()
    vllm = backend._vllm
    same_length = [
        vllm.SamplingParams(max_tokens=n, min_tokens=n, temperature=0.0, repetition_penalty=1.1, logprobs=5)
        for n in counts
    ]
    start = time.perf_counter()
    free = backend.llm.chat([list(p) for p in prompts], same_length, use_tqdm=False)
    free_s = time.perf_counter() - start
    free_tokens = sum(len(r.outputs[0].token_ids) for r in free)
    second_s, second_counts, _ = constrained_pass()

    tokens = sum(counts)
    rows = [
        ("constrained (1st)", first_s, tokens),
        ("unconstrained, same tokens", free_s, free_tokens),
        ("constrained (2nd)", second_s, sum(second_counts)),
    ]
    for name, seconds, count in rows:
        print(f"{name:>27}: {count:6d} tokens in {seconds:7.1f} s = {1000 * seconds / count:6.2f} ms/token")
    constrained_ms = (first_s / tokens + second_s / sum(second_counts)) / 2
    ratio = constrained_ms / (free_s / free_tokens)
    parsed = [parse_critique(text, len(item.steps)) for text, item in zip(texts, items, strict=True)]
    free_parsed = [parse_critique(r.outputs[0].text, len(i.steps)) for r, i in zip(free, items, strict=True)]
    ok = sum(p.parse_status == "ok" for p in parsed)
    free_ok = sum(p.parse_status == "ok" for p in free_parsed)
    print(f"{'ratio':>27}: constrained / unconstrained time per token = {ratio:.2f}x (target <= 1.15)")
    print(f"{'parse ok':>27}: constrained {ok}/{len(items)}, unconstrained {free_ok}/{len(items)}")
    backend.close()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    sys.exit(main())
