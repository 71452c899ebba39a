"""Benchmark: the project's SFT step (training.sft.run_sft on TRL) vs a hand-written PyTorch AdamW loop, on CPU.

    .venv/bin/python bench/training.py                  # fp32 (and bf16 where the CPU has it), + GRPO split
    .venv/bin/python bench/training.py --steps 3 --loss-steps 0 --grpo-steps 0 --precisions fp32   # the SFT shapes

Same model (the embedded SmolLM2-135M), the same 4 sequences of 423 tokens per optimiser step on every side (loss
on the critique tokens only), the same precision, each measurement in its own process (so peak RSS is per path).
The raw loop takes the 4 sequences as one batch (4 x 1); the project's path runs in each --shapes micro-batch x
accumulation shape (default 1 x 4, the SFT default, and 4 x 1, the raw loop's). Prints time per optimiser step and
per sequence, trained tokens/s, the ratios, peak RSS, and the share of the compute bound (6 x params x tokens per
step against a measured fp32 matmul FLOP/s). Then: fp32 vs bf16-autocast loss curves from the same start on the
same batches, and for GRPO the split of a step between (batched) generation and optimisation.

bf16 autocast on a CPU without native bf16 instructions (avx512_bf16 / amx_bf16) is emulated and tens of times
slower than fp32: bf16 is skipped there (the bench says so) unless --precisions names it; the loss curves then run
in fp32 only. The data come from the data directory setting (CRITIC_DATA_DIR), like every other command.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEQ_LEN = 423
BATCH = 4
"""Sequences per optimiser step, on every side."""


def _gsm8k_rows() -> list[dict[str, Any]]:
    from core.settings import get_settings

    path = get_settings().data_dir / "processbench" / "gsm8k.json"
    if not path.is_file():
        raise SystemExit(f"{path} not found: set CRITIC_DATA_DIR to the directory holding processbench/")
    return json.loads(path.read_text())


def _chat_ids(tokenizer: Any, messages: list[dict[str, str]], *, generation_prompt: bool = False) -> list[int]:
    encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=generation_prompt)
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


def _examples(tokenizer: Any, n: int) -> list[dict[str, Any]]:
    """Critic-format prompt + template critique pairs whose prompt fits and whose total exceeds SEQ_LEN tokens,
    so truncation at SEQ_LEN makes every sequence exactly SEQ_LEN long with a non-empty critique."""
    from core.types import SolutionItem
    from training.targets import LabelledItem, build_sft_targets

    rows = _gsm8k_rows()
    chosen: list[LabelledItem] = []
    for row in rows:
        item = SolutionItem.from_processbench(row)
        # Drop trailing steps until the prompt leaves room for the critique.
        for keep in range(len(item.steps), 0, -1):
            labelled = LabelledItem(
                problem=item.problem,
                steps=tuple(item.steps[:keep]),
                first_error_step=-1,  # every kept step gets a critique block: long completions
                source="processbench",
                source_id=item.id,
            )
            example = build_sft_targets([labelled], teacher=None).examples[0]
            prompt_len = len(_chat_ids(tokenizer, example["prompt"], generation_prompt=True))
            if prompt_len <= SEQ_LEN - 40:
                break
        full = example["prompt"] + [{"role": "assistant", "content": example["completion"]}]
        if prompt_len <= SEQ_LEN - 40 and len(_chat_ids(tokenizer, full)) >= SEQ_LEN + 10:
            chosen.append(labelled)
        if len(chosen) == n:
            break
    if len(chosen) < n:
        raise SystemExit(f"only {len(chosen)} ProcessBench items fit {SEQ_LEN} tokens; ask for fewer steps")
    return build_sft_targets(chosen, teacher=None).examples


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _trl_default_run(
    model_dir: str, examples: list[dict[str, Any]], precision: str, steps: int, shape: tuple[int, int], queue: Any
) -> None:
    """run_sft with TRL's stock SFTTrainer loss (fused LM head over every position), for comparison."""
    from trl import SFTTrainer

    import training.sft

    training.sft._critique_only_trainer_class = lambda *_: SFTTrainer
    _project_run(model_dir, examples, precision, steps, shape, queue)


def _project_run(
    model_dir: str, examples: list[dict[str, Any]], precision: str, steps: int, shape: tuple[int, int], queue: Any
) -> None:
    """The project's path: training.sft.run_sft with the job config a user would queue, in the shape
    (micro-batch, accumulation) given; BATCH sequences per optimiser step either way."""
    from transformers import TrainerCallback

    from training.config import load_config
    from training.progress import MemoryReporter
    from training.sft import run_sft

    times: list[float] = []
    cpu: list[float] = []
    lengths: list[int] = []

    class StepTimer(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            lengths.extend(len(ids) for ids in kw["train_dataloader"].dataset["input_ids"])

        def on_step_begin(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            self.start, self.cpu = time.perf_counter(), time.process_time()

        def on_step_end(self, args, state, control, **kw):  # type: ignore[no-untyped-def]
            times.append(time.perf_counter() - self.start)
            cpu.append(time.process_time() - self.cpu)

    config = load_config(
        "sft",
        None,
        {
            "base_model": model_dir,
            "max_steps": steps,
            "per_device_batch_size": shape[0],
            "gradient_accumulation_steps": shape[1],
            "max_length": SEQ_LEN,
            "precision": precision,
            "learning_rate": 1e-5,
            "evaluate": False,
            "prm800k": None,
        },
    )
    reporter = MemoryReporter()
    with tempfile.TemporaryDirectory() as out:
        run_sft(
            config,
            model_path=model_dir,
            train_examples=examples,
            output_dir=Path(out),
            reporter=reporter,
            extra_callbacks=[StepTimer()],
            save=False,
        )
    losses = [value for _, name, value in reporter.metrics if name == "loss"]
    queue.put({"times": times, "cpu": cpu, "losses": losses, "rss_mb": _peak_rss_mb(), "lengths": sorted(set(lengths))})


def _raw_batches(model_dir: str, examples: list[dict[str, Any]]) -> list[tuple[list[int], list[int]]]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    batches = []
    for example in examples:
        prompt_len = len(_chat_ids(tokenizer, example["prompt"], generation_prompt=True))
        full = example["prompt"] + [{"role": "assistant", "content": example["completion"]}]
        ids = _chat_ids(tokenizer, full)[:SEQ_LEN]
        labels = [-100] * prompt_len + ids[prompt_len:]
        batches.append((ids, labels))
    return batches


def _raw_model(model_dir: str, **adamw: Any) -> tuple[Any, Any]:
    """The model in fp32 training mode (seed 0) and its AdamW optimizer, for the hand-written loops."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.train()
    return model, torch.optim.AdamW(model.parameters(), lr=1e-5, **adamw)


def _raw_step(model: Any, optimizer: Any, ids: Any, labels: Any, precision: str) -> float:
    """One step: forward with labels (under bf16 autocast for "bf16"), backward, AdamW step. Returns the loss."""
    import contextlib

    import torch

    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
    with autocast:
        loss = model(input_ids=ids, labels=labels).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def _raw_run(
    model_dir: str, examples: list[dict[str, Any]], precision: str, steps: int, shape: tuple[int, int], queue: Any
) -> None:
    """A minimal hand-written loop: forward with labels, backward, AdamW step. Nothing else."""
    import torch

    rows = _raw_batches(model_dir, examples)
    model, optimizer = _raw_model(model_dir, weight_decay=0.0)
    times, cpu, losses = [], [], []
    for step in range(steps):
        chunk = [rows[(step * BATCH + i) % len(rows)] for i in range(BATCH)]
        ids = torch.tensor([c[0] for c in chunk])
        labels = torch.tensor([c[1] for c in chunk])
        start, start_cpu = time.perf_counter(), time.process_time()
        losses.append(_raw_step(model, optimizer, ids, labels, precision))
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    queue.put({"times": times, "cpu": cpu, "losses": losses, "rss_mb": _peak_rss_mb(), "lengths": [SEQ_LEN]})


def _in_process(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    while True:
        try:
            result = queue.get(timeout=1.0)
            break
        except Exception:  # queue.Empty: keep waiting while the measurement process lives
            if not proc.is_alive():
                raise RuntimeError(f"{target.__name__} died with exit code {proc.exitcode}") from None
    proc.join()
    return result


def matmul_flops(size: tuple[int, int, int] = (BATCH * SEQ_LEN, 576, 1536), repeats: int = 10) -> float:
    """fp32 FLOP/s of a matmul shaped like the model's MLP on one batch."""
    import torch

    m, k, n = size
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(2):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * m * k * n * repeats / (time.perf_counter() - start)


def _timed(result: dict[str, Any], key: str = "times") -> float:
    times = result[key][1:] or result[key]  # the first step warms up allocators and kernels
    return sum(times) / len(times)


def bench_sft(
    model_dir: str, steps: int, precisions: list[str], shapes: list[tuple[int, int]], *, with_trl: bool
) -> dict[str, Any]:
    from transformers import AutoTokenizer

    from training.modeling import load_model

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    examples = _examples(tokenizer, BATCH * steps)
    params = sum(p.numel() for p in load_model(model_dir).parameters())
    flops = matmul_flops()
    bound_tokens_s = flops / (6 * params)
    print(
        f"model {model_dir}: {params / 1e6:.1f}M parameters; {BATCH} sequences x {SEQ_LEN} tokens per optimiser "
        f"step on every side; {steps} steps (the first not timed)"
    )
    print(f"matmul fp32 {flops / 1e9:.1f} GFLOP/s -> compute bound {bound_tokens_s:.0f} trained tokens/s")
    out: dict[str, Any] = {"params": params, "matmul_gflops": flops / 1e9}
    print(
        f"{'path (micro-batch x accumulation)':<40}{'step s':>8}{'CPU s':>8}{'s/seq':>8}{'tokens/s':>10}"
        f"{'bound %':>9}{'peak RSS MB':>13}  losses"
    )
    for precision in precisions:
        raw = _in_process(_raw_run, model_dir, examples, precision, steps, (BATCH, 1))
        rows = [(f"raw AdamW loop {BATCH}x1 {precision}", raw)]
        project: dict[tuple[int, int], dict[str, Any]] = {}
        for shape in shapes:
            project[shape] = _in_process(_project_run, model_dir, examples, precision, steps, shape)
            rows.append((f"project run_sft {shape[0]}x{shape[1]} {precision}", project[shape]))
        if with_trl:
            stock = _in_process(_trl_default_run, model_dir, examples, precision, steps, shapes[0])
            rows.append((f"TRL stock SFTTrainer {shapes[0][0]}x{shapes[0][1]} {precision}", stock))
        for name, result in rows:
            step_s = _timed(result)
            tokens_s = BATCH * SEQ_LEN / step_s
            losses = " ".join(f"{v:.3f}" for v in result["losses"])
            print(
                f"{name:<40}{step_s:>8.2f}{_timed(result, 'cpu'):>8.2f}{step_s / BATCH:>8.2f}{tokens_s:>10.1f}"
                f"{100 * tokens_s / bound_tokens_s:>8.0f}%{result['rss_mb']:>13.0f}  {losses}"
            )
        for shape, result in project.items():
            if result["lengths"] != [SEQ_LEN]:
                print(f"  note: project {shape[0]}x{shape[1]} sequences had lengths {result['lengths']}")
            print(
                f"  -> project {shape[0]}x{shape[1]} / raw {BATCH}x1 at {precision}: wall "
                f"{_timed(result) / _timed(raw):.2f}x, CPU time {_timed(result, 'cpu') / _timed(raw, 'cpu'):.2f}x, "
                f"peak RSS {result['rss_mb'] / raw['rss_mb']:.2f}x (target <= 1.10x time)"
            )
        if len(project) >= 2:
            (a, ra), (b, rb) = list(project.items())[:2]
            print(
                f"  -> project {a[0]}x{a[1]} vs {b[0]}x{b[1]} at {precision}: CPU time "
                f"{_timed(ra, 'cpu') / _timed(rb, 'cpu'):.2f}x, peak RSS {ra['rss_mb']:.0f} vs {rb['rss_mb']:.0f} MB"
            )
        out[precision] = {"raw": raw, "project": {f"{k[0]}x{k[1]}": v for k, v in project.items()}}
    return out


def _loss_curve_run(model_dir: str, examples: list[dict[str, Any]], precision: str, steps: int, queue: Any) -> None:
    # Batch 1 keeps this short; same start, same sequence order in both precisions.
    import torch

    rows = _raw_batches(model_dir, examples)
    model, optimizer = _raw_model(model_dir)
    losses = []
    for step in range(steps):
        ids, labels = rows[step % len(rows)]
        losses.append(_raw_step(model, optimizer, torch.tensor([ids]), torch.tensor([labels]), precision))
    queue.put({"losses": losses})


def bench_loss_curves(model_dir: str, steps: int) -> dict[str, Any]:
    from transformers import AutoTokenizer

    examples = _examples(AutoTokenizer.from_pretrained(model_dir), steps)
    fp32 = _in_process(_loss_curve_run, model_dir, examples, "fp32", steps)["losses"]
    bf16 = _in_process(_loss_curve_run, model_dir, examples, "bf16", steps)["losses"]
    diffs = [abs(a - b) / a for a, b in zip(fp32, bf16, strict=True)]
    print(f"loss curve, {steps} steps, batch 1 x {SEQ_LEN}, lr 1e-5, same start and order:")
    print("  fp32 " + " ".join(f"{v:.4f}" for v in fp32))
    print("  bf16 " + " ".join(f"{v:.4f}" for v in bf16))
    print(f"  relative difference: mean {100 * sum(diffs) / len(diffs):.2f}%  max {100 * max(diffs):.2f}%")
    print(f"  loss drop over the run: fp32 {fp32[0] - fp32[-1]:+.4f}  bf16 {bf16[0] - bf16[-1]:+.4f}")
    return {"fp32": fp32, "bf16": bf16, "mean_rel_diff": sum(diffs) / len(diffs), "max_rel_diff": max(diffs)}


def _grpo_run(model_dir: str, steps: int, completion_tokens: int, queue: Any) -> None:
    from trl import GRPOTrainer

    from core.types import SolutionItem
    from training.config import load_config
    from training.grpo import run_grpo
    from training.progress import MemoryReporter
    from training.targets import LabelledItem, grpo_prompts

    rows = _gsm8k_rows()[:8]
    items = [SolutionItem.from_processbench(r) for r in rows]
    labelled = [
        LabelledItem(problem=i.problem, steps=tuple(i.steps), first_error_step=i.first_error_step, source="pb",
                     source_id=i.id)
        for i in items
    ]  # fmt: skip
    timings: dict[str, list[float]] = {"generate": [], "generate_and_score": [], "training_step": []}
    batches: list[int] = []
    originals = {name: getattr(GRPOTrainer, name) for name in ("_generate", "_generate_and_score_completions")}
    original_step = GRPOTrainer.training_step
    original_single = GRPOTrainer._generate_single_turn

    def timed(name: str, fn: Any) -> Any:
        def wrapper(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return fn(self, *args, **kwargs)
            finally:
                timings[name].append(time.perf_counter() - start)

        return wrapper

    def single(self, prompt_ids, *args, **kwargs):  # type: ignore[no-untyped-def]
        batches.append(len(prompt_ids))
        return original_single(self, prompt_ids, *args, **kwargs)

    GRPOTrainer._generate = timed("generate", originals["_generate"])
    GRPOTrainer._generate_and_score_completions = timed(
        "generate_and_score", originals["_generate_and_score_completions"]
    )
    GRPOTrainer.training_step = timed("training_step", original_step)
    GRPOTrainer._generate_single_turn = single
    config = load_config(
        "grpo",
        None,
        {
            "base_model": model_dir,
            "max_steps": steps,
            "per_device_batch_size": 4,
            "num_generations": 4,
            "max_completion_length": completion_tokens,
            "evaluate": False,
        },
    )
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        run_grpo(
            config, model_path=model_dir, train_rows=grpo_prompts(labelled), output_dir=Path(out),
            reporter=MemoryReporter(),
        )  # fmt: skip
        total = time.perf_counter() - started
    queue.put({"timings": timings, "batches": batches, "total": total, "rss_mb": _peak_rss_mb()})


def bench_grpo(model_dir: str, steps: int, completion_tokens: int) -> dict[str, Any]:
    result = _in_process(_grpo_run, model_dir, steps, completion_tokens)
    t = result["timings"]
    generate, scored, step = sum(t["generate"]), sum(t["generate_and_score"]), sum(t["training_step"])
    optimise = step - scored
    print(
        f"GRPO, {steps} steps of 1 prompt x 4 generations of <= {completion_tokens} tokens "
        f"(sequences per generate call: {result['batches']})"
    )
    print(
        f"  step time {step / steps:.2f}s: generation {100 * generate / step:.0f}%, "
        f"rewards + old/ref log-probs {100 * (scored - generate) / step:.0f}%, "
        f"optimisation (forward/backward) {100 * optimise / step:.0f}%; peak RSS {result['rss_mb']:.0f} MB"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded", help="Model to train (default: the embedded SmolLM2-135M).")
    parser.add_argument("--steps", type=int, default=3, help="SFT steps per path (the first is not timed).")
    parser.add_argument(
        "--precisions",
        default=None,
        help="Comma-separated: fp32, bf16 (default: both where the CPU has native bf16, else fp32 only: emulated bf16 "
        "autocast is tens of times slower and would take most of the bench's time).",
    )
    parser.add_argument(
        "--shapes",
        default="1x4,4x1",
        help=f"Project path shapes, micro-batch x accumulation, each {BATCH} sequences per optimiser step.",
    )
    parser.add_argument("--loss-steps", type=int, default=6, help="Steps of the fp32 vs bf16 loss curves (0 = skip).")
    parser.add_argument("--grpo-steps", type=int, default=2, help="GRPO steps (0 = skip).")
    parser.add_argument("--grpo-completion-tokens", type=int, default=64)
    parser.add_argument("--with-trl", action="store_true", help="Also time TRL's stock SFTTrainer loss.")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (OMP_NUM_THREADS) for every run.")
    args = parser.parse_args()
    if args.threads:
        import os

        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # inherited by the measurement processes

    from core.backends.cpu import has_native_bf16
    from core.models import resolve_model

    native_bf16 = has_native_bf16()
    if args.precisions is None and not native_bf16:
        print("this CPU has no native bf16 (avx512_bf16/amx_bf16): bf16 skipped; --precisions fp32,bf16 forces it")
    default = "fp32,bf16" if native_bf16 else "fp32"
    precisions = [p.strip() for p in (args.precisions or default).split(",") if p.strip()]
    shapes = []
    for text in args.shapes.split(","):
        micro, _, accumulation = text.strip().partition("x")
        if not (micro.isdigit() and accumulation.isdigit()) or int(micro) * int(accumulation) != BATCH:
            raise SystemExit(f"--shapes takes MICROxACCUMULATION with a product of {BATCH}, e.g. 1x4 or 4x1")
        shapes.append((int(micro), int(accumulation)))
    model_dir = str(resolve_model(args.model))
    if args.steps:
        bench_sft(model_dir, args.steps, precisions, shapes, with_trl=args.with_trl)
    if args.loss_steps:
        if "bf16" in precisions:
            bench_loss_curves(model_dir, args.loss_steps)
        else:
            print("loss curves fp32 vs bf16: skipped (bf16 not measured on this CPU)")
    if args.grpo_steps:
        bench_grpo(model_dir, args.grpo_steps, args.grpo_completion_tokens)


if __name__ == "__main__":
    main()
