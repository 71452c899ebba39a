"""Benchmark: the whole retrain loop through the product's own code, base critic vs retrained, and the gate.

    .venv/bin/python bench/loop.py                          # the real run, then the shuffled-label control
    .venv/bin/python bench/loop.py --limit 24 --eval-items 8 --max-steps 2 --max-new-tokens 64   # a smoke run

Each run starts from an empty CRITIC_HOME (its own SQLite database) and goes through the paths a user's data
takes: ProcessBench GSM8K + MATH are written as PRM800K-format annotations (step ratings from the labels) and
imported by `db.importer.import_file`, all of them; the items of a held-out set of whole problems (chosen by the
stable problem hash) are registered as an evaluation set (`db.eval_sets`), so the job's snapshot drops them; the base
embedded critic is scored on that set (`training.gate.evaluate_on_set`, as `critic eval-set score` does); an SFT
job is queued (`training.queue`) and run by a worker (`training.worker`), which trains with TRL, scores the
candidate on the same set, reuses the base model's stored predictions and applies the gate (paired bootstrap).
The script then prints base vs retrained: parse rate, F1, error and correct accuracy, step AUROC, the bootstrap
interval of the F1 difference and the gate's decision.

`--synthetic` trains and evaluates on injected errors instead (training.synthetic: each correct solution beside a
copy with one step made wrong, the label known by construction), held out by problem as above. The last line is the
lift: `lift F1 <base> -> <candidate>, difference <d> [<lo>, <hi>], gate: ...; control: <d> [<lo>, <hi>], gate: ...`
for `--critic` (combined, the gate's, or llm, the model alone, scored again as `critic llm`: no checker findings in
its prompt), the other critic's line just above it.

The control run (`--runs shuffled`) permutes the training labels among the training solutions only before import
(`training.controls.shuffled_labels`: the same label mix, each label fitting its solution's length); its candidate
must not be promoted.

Budget (defaults, sized for one session on 2 shared CPU cores): full fine-tune of SmolLM2-135M, `--max-steps 12`
optimiser steps of 4 sequences (`--batch-size 1 --grad-accum 4`: one sequence in memory at a time) at
`--max-length 768` tokens (longer prompts lose their critique and are dropped), learning rate 1e-4, on template
critique targets in the critic's constrained format; the gate on `--eval-items 120` held-out items at
`--max-new-tokens 512`, both models scored greedily on a vLLM server (`--eval-backend auto`). The base model is
scored once: the shuffled run resumes its predictions, and each job reuses them from the database.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EVAL_SET = "loop-held-out"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="real,shuffled", help="real, shuffled (the control) or both, in order.")
    parser.add_argument("--subsets", default="gsm8k,math", help="ProcessBench subsets in the shared data.")
    parser.add_argument("--limit", type=int, default=None, help="Use N items per subset (spread evenly).")
    parser.add_argument("--eval-fraction", type=float, default=0.25, help="Share of problems held out (by hash).")
    parser.add_argument("--eval-items", type=int, default=120, help="Held-out items the gate scores (spread).")
    parser.add_argument("--max-steps", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--grad-accum", type=int, default=4, help="Micro-batches per optimiser step.")
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=768, help="Prompt + critique tokens (longer are cut).")
    parser.add_argument("--lora", action="store_true", help="LoRA adapters instead of a full fine-tune.")
    parser.add_argument("--max-new-tokens", type=int, default=512, help="Generation budget per critique.")
    parser.add_argument(
        "--eval-backend", default="auto", choices=["auto", "transformers"], help="Engine both models are scored with."
    )
    parser.add_argument("--gate-min-items", type=int, default=50)
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="Train and evaluate on injected errors (training.synthetic): each correct solution of --subsets and of "
        "--word-problems generated problems beside a copy with one step made wrong; held-out problems as above.",
    )
    parser.add_argument("--word-problems", type=int, default=200, help="--synthetic: generated word problems.")
    parser.add_argument(
        "--synthetic-max-steps",
        type=int,
        default=None,
        help="--synthetic: use only ProcessBench solutions of at most N steps (short critiques fit a small budget).",
    )
    parser.add_argument(
        "--objective",
        default="plain",
        choices=["plain", "judgements", "balanced"],
        help="SFT objective (SFTJobConfig.objective): plain, judgements (decision tokens weighted, solutions "
        "balanced) or balanced (as judgements, the error side's decisions weighed up to the right side's).",
    )
    parser.add_argument(
        "--critic",
        default="combined",
        choices=["combined", "llm"],
        help="Whose lift the last line reports: the combined critic (the gate's) or the model alone; both are printed.",
    )
    parser.add_argument(
        "--from-results",
        type=Path,
        nargs="+",
        default=None,
        help="Print the lift lines from saved loop_results.json files (e.g. a real and a shuffled run done in two "
        "processes side by side) instead of running anything.",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--home", type=Path, default=None, help="Keep each run's CRITIC_HOME under this directory.")
    return parser.parse_args(argv)


def _split(args: argparse.Namespace) -> tuple[list[Any], list[Any]]:
    """(training items, held-out items): whole problems on one side, by the same hash threshold the jobs use."""
    from core.benchmarks import load_benchmark
    from training.data import held_out_side

    benchmark = load_benchmark(f"processbench:{args.subsets}", limit=args.limit)
    items = [item.model_copy(update={"id": f"{subset}/{item.id}"}) for subset, item in benchmark.items()]
    if args.synthetic:
        from training.synthetic import injected_items

        if args.synthetic_max_steps:
            items = [i for i in items if len(i.steps) <= args.synthetic_max_steps]
        data = injected_items(word_problem_count=args.word_problems, correct_solutions=items, seed=args.seed)
        print(f"injected pairs: {data.sources}, kinds {data.kinds}", flush=True)
        items = data.items
    train, held = [], []
    for item in items:
        (held if held_out_side(item.problem, args.eval_fraction) else train).append(item)
    return train, held


def _annotation_file(items: list[Any], path: Path, *, shuffled: list[int] | None = None) -> Path:
    """PRM800K-format lines, one annotation per solution: steps before the first error rated 1, the error -1.

    `shuffled`: the control's labels for the first len(shuffled) items (the training ones), in their order.
    """
    from core.prm800k import to_prm800k
    from core.types import NO_ERROR

    labels = [item.first_error_step for item in items]
    if shuffled is not None:
        labels[: len(shuffled)] = shuffled
    with path.open("w", encoding="utf-8") as handle:
        for n, (item, label) in enumerate(zip(items, labels, strict=True)):
            ratings = [1] * len(item.steps) if label == NO_ERROR else [1] * (label - 1) + [-1]
            record = to_prm800k(item, ratings, finish_reason=None, labeler="processbench", timestamp=str(n))
            handle.write(json.dumps(record) + "\n")
    return path


def _summary(records: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    from core.metrics import score
    from training.evaluation import records_step_auroc

    rows = list(records.values())
    scores = score([int(r["label"]) for r in rows], [r["prediction"] for r in rows])
    return {
        "items": len(rows),
        "parse_rate": sum(r.get("parse_status") == "ok" for r in rows) / len(rows) if rows else None,
        "f1": scores.f1,
        "error_acc": scores.error_acc,
        "correct_acc": scores.correct_acc,
        "step_auroc": records_step_auroc(rows),
    }


def run_loop(args: argparse.Namespace, *, shuffle: bool, home: Path) -> dict[str, Any]:
    """One full loop in a fresh CRITIC_HOME; returns the numbers it prints."""
    os.environ["CRITIC_HOME"] = str(home)
    # One converted base model for every run: the base predictions (keyed by model path) are scored once and resumed.
    os.environ.setdefault("CRITIC_MODELS_DIR", str(home.parent / "models"))
    os.environ.pop("CRITIC_DATABASE_URL", None)
    from core.settings import get_settings

    get_settings.cache_clear()
    from db.session import dispose_engines, init_db

    dispose_engines()
    init_db()
    started = time.perf_counter()
    gate_set = _import_and_hold_out(args, home, shuffle=shuffle)
    t0 = time.perf_counter()
    base = _score_base(args, gate_set, home)
    base_s = time.perf_counter() - t0
    config = _job_config(args)
    t0 = time.perf_counter()
    job = _train_and_gate(args, config, gate_set)
    job_s = time.perf_counter() - t0
    lift = {critic: _lift(base, job["candidate"] or {}, args, critic) for critic in ("llm", "combined")}
    alone: dict[str, Any] = {}
    if args.synthetic and job["candidate_path"]:
        # The model alone, scored on its own: in a combined run the checker's findings are in the prompt and its
        # proven step is forced into the critique, so that run's model view is not the model alone.
        t0 = time.perf_counter()
        base_alone = _score_model_alone(args, str(_base_model()), gate_set, home.parent / "eval-base-llm", None)
        cand_alone = _score_model_alone(
            args, job["candidate_path"], gate_set, home / "eval-candidate-llm", job["candidate_version"]
        )
        lift["llm"] = _lift(base_alone, cand_alone, args, "combined")
        alone = {"base": _summary(base_alone), "retrained": _summary(cand_alone)}
        alone["seconds"] = round(time.perf_counter() - t0)
    dispose_engines()
    return {
        "run": "shuffled" if shuffle else "real",
        "lift": lift,
        "model_alone": alone,
        "base": _summary(base),
        "retrained": _summary(job["candidate"] or {}),
        "gate": job["gate"],
        "status": job["status"],
        "data": job["data"],
        "train": job["train"],
        "seconds": {"base_eval": round(base_s), "job": round(job_s), "total": round(time.perf_counter() - started)},
        "reused_base": any("stored predictions" in line for line in job["logs"]),
    }


def _import_and_hold_out(args: argparse.Namespace, home: Path, *, shuffle: bool) -> Any:
    """Import every solution's annotation and register the held-out ones as the evaluation set; returns the gate set."""
    from db.eval_sets import create_eval_set
    from db.importer import import_file
    from db.session import session_scope
    from training.controls import shuffled_labels
    from training.gate import registered_set

    train, held = _split(args)
    # The control permutes the labels among the training solutions only: the same label mix, no link to the solution.
    control = (
        shuffled_labels([i.first_error_step for i in train], [len(i.steps) for i in train], seed=args.seed)
        if shuffle
        else None
    )
    # Every solution is imported, held-out ones too: the job's snapshot must leave the evaluation set's problems out.
    annotations = _annotation_file([*train, *held], home / "annotations.jsonl", shuffled=control)
    imported = import_file(annotations, fmt="prm800k")
    with session_scope() as session:
        create_eval_set(
            session,
            name=EVAL_SET,
            items=held,
            source=f"processbench:{args.subsets}, problems held out by hash < {args.eval_fraction}",
        )
        gate_set = registered_set(session, name=EVAL_SET, max_items=args.eval_items)
    print(
        f"[{'shuffled' if shuffle else 'real'}] {imported.new_annotations} annotations imported "
        f"({len(train)} of them trainable), evaluation set of {len(held)} held-out solutions, gate on "
        f"{len(gate_set.items)}",
        flush=True,
    )
    return gate_set


def _base_model() -> Path:
    from core.models import resolve_model
    from core.settings import get_settings

    return resolve_model(get_settings().model)


def _score_model_alone(
    args: argparse.Namespace, model: str, gate_set: Any, output: Path, version_id: int | None
) -> dict[Any, dict[str, Any]]:
    """The model without the checker (`critic llm`) on the gate's items, as `critic eval-set score` would score it."""
    from training.gate import evaluate_on_set

    return evaluate_on_set(
        model,
        gate_set,
        output=output,
        max_new_tokens=args.max_new_tokens,
        model_version_id=version_id,
        backend=args.eval_backend,
        critic="llm",
    )


def _score_base(args: argparse.Namespace, gate_set: Any, home: Path) -> dict[Any, dict[str, Any]]:
    from training.gate import evaluate_on_set

    return evaluate_on_set(
        str(_base_model()),
        gate_set,
        # One directory for every run: the base model's predictions on the same set are scored once and resumed
        # (skipped) by later runs, whose databases still record the run for the job's gate to reuse.
        output=home.parent / "eval-base",
        max_new_tokens=args.max_new_tokens,
        model_version_id=None,
        backend=args.eval_backend,
    )


def _job_config(args: argparse.Namespace) -> Any:
    from training.config import load_config

    return load_config(
        "sft",
        None,
        {
            "base_model": "active",
            "use_lora": args.lora,
            "max_steps": args.max_steps,
            "per_device_batch_size": args.batch_size,
            "gradient_accumulation_steps": args.grad_accum,
            "learning_rate": args.learning_rate,
            "max_length": args.max_length,
            "teacher_backend": "template",
            "validation_fraction": 0.0,
            "eval_sets": [EVAL_SET],
            "eval_max_items": args.eval_items,
            "eval_max_new_tokens": args.max_new_tokens,
            "eval_backend": args.eval_backend,
            "objective": args.objective,
            "gate_min_items": args.gate_min_items,
            "seed": args.seed,
        },
    )


def _train_and_gate(args: argparse.Namespace, config: Any, gate_set: Any) -> dict[str, Any]:
    """Queue the SFT job and run it in a worker; returns the candidate's scores, the gate, the job's metrics, logs."""
    from db.session import session_scope
    from training import queue, registry
    from training.gate import stored_scores
    from training.worker import Worker, WorkerOptions

    with session_scope() as session:
        job_id = queue.enqueue_job(session, config=config).id
    Worker(WorkerOptions(exit_when_idle=True, poll_interval_s=0.5)).run()
    with session_scope() as session:
        job = queue.get_job(session, job_id=job_id)
        logs = [line.message for line in queue.job_logs(session, job_id=job_id)]
        if job.status != "succeeded":
            raise SystemExit(f"job {job_id} {job.status}: {job.error}\n" + "\n".join(logs[-20:]))
        version = registry.get_version(session, version_id=job.result_model_version_id)
        candidate = stored_scores(
            session,
            model_version_id=version.id,
            model=version.path,
            gate_set=gate_set,
            max_new_tokens=args.max_new_tokens,
            backend=args.eval_backend,
            min_parse_rate=0.0,  # the candidate's own scores, whatever they read like
        )
        return {
            "candidate": candidate,
            "candidate_path": version.path,
            "candidate_version": version.id,
            "gate": dict(version.metrics.get("gate") or {}),
            "status": version.status,
            "train": dict((job.metrics or {}).get("train") or {}),
            "data": dict((job.metrics or {}).get("data") or {}),
            "logs": logs,
        }


def _as_critic(records: dict[Any, dict[str, Any]], critic: str) -> dict[Any, dict[str, Any]]:
    """The records as `critic` predicted: the combined critic's own, or the model's alone (its `llm_prediction`)."""
    if critic == "combined":
        return records
    return {k: {**r, "prediction": r.get("llm_prediction", r["prediction"])} for k, r in records.items()}


def _lift(base: dict[Any, Any], candidate: dict[Any, Any], args: argparse.Namespace, critic: str) -> dict[str, Any]:
    """The gate's rule (training.gate.decide, same items, paired bootstrap) on one view of both models' predictions."""
    from training.gate import decide

    decision = decide(
        _as_critic(candidate, critic),
        _as_critic(base, critic),
        min_lift=0.0,
        min_items=args.gate_min_items,
        auto_promote=True,
        seed=args.seed,
    )
    return {
        "base": decision.active_score,
        "candidate": decision.candidate_score,
        "interval": decision.interval,
        "promoted": decision.promoted,
        "reason": decision.reason,
    }


def lift_line(results: list[dict[str, Any]], critic: str) -> str:
    """`lift F1 <base> -> <candidate>, difference <d> [<lo>, <hi>], gate: ...; control: <d> [<lo>, <hi>], gate: ...`"""

    def part(lift: dict[str, Any] | None) -> tuple[str, str]:
        if not lift or lift["base"] is None or lift["candidate"] is None or lift["interval"] is None:
            return "-", "kept"
        low, high = lift["interval"]
        diff = lift["candidate"] - lift["base"]
        return f"{diff:+.3f} [{low:+.3f}, {high:+.3f}]", "promoted" if lift["promoted"] else "kept"

    by_run = {r["run"]: r["lift"][critic] for r in results}
    real, control = by_run.get("real"), by_run.get("shuffled")
    base = "-" if not real or real["base"] is None else f"{real['base']:.3f}"
    cand = "-" if not real or real["candidate"] is None else f"{real['candidate']:.3f}"
    real_diff, real_gate = part(real)
    control_diff, control_gate = part(control)
    return (
        f"lift F1 {base} -> {cand}, difference {real_diff}, gate: {real_gate}; "
        f"control: {control_diff}, gate: {control_gate}"
    )


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def report(result: dict[str, Any]) -> str:
    lines = [f"== {result['run']} labels: {result['data'].get('train', '?')} training solutions "
             f"({result['data'].get('eval_set_excluded', '?')} left out as evaluation-set problems)"]  # fmt: skip
    lines.append(f"{'':<14}{'items':>6}{'parse%':>8}{'F1':>7}{'err%':>7}{'corr%':>7}{'AUROC':>7}")
    rows = [(name, result[name]) for name in ("base", "retrained")]
    alone = result.get("model_alone") or {}
    rows += [(f"{name} llm", alone[name]) for name in ("base", "retrained") if name in alone]
    for name, s in rows:
        auroc = "-" if s["step_auroc"] is None else f"{s['step_auroc']:.3f}"
        lines.append(
            f"{name:<14}{s['items']:>6}{_pct(s['parse_rate']):>8}{_pct(s['f1']):>7}{_pct(s['error_acc']):>7}"
            f"{_pct(s['correct_acc']):>7}{auroc:>7}"
        )
    gate = result["gate"]
    interval = gate.get("interval")
    shown = "-" if not interval else f"[{interval[0]:+.3f}, {interval[1]:+.3f}]"
    lines.append(f"F1 difference 95% interval: {shown}; gate: {'PROMOTED' if gate.get('promoted') else 'kept'}")
    lines.append(f"  reason: {gate.get('reason')}")
    lines.append(f"  status: {result['status']}; base predictions reused by the job: {result['reused_base']}")
    lines.append(f"  seconds: {result['seconds']}; train: {result['train']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.from_results:
        saved = [r for path in args.from_results for r in json.loads(path.read_text(encoding="utf-8"))]
        other = "llm" if args.critic == "combined" else "combined"
        print(f"({other} critic) {lift_line(saved, other)}")
        print(lift_line(saved, args.critic))
        return 0
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    unknown = set(runs) - {"real", "shuffled"}
    if unknown:
        raise SystemExit(f"--runs takes real and/or shuffled, not {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    root = args.home or Path(tempfile.mkdtemp(prefix="critic-loop-"))
    results = []
    for run in runs:
        result = run_loop(args, shuffle=run == "shuffled", home=root / run)
        print(report(result), flush=True)
        results.append(result)
    (root / "loop_results.json").write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    print(f"results: {root / 'loop_results.json'}; wall {time.perf_counter() - started:.0f} s, load {os.getloadavg()}")
    other = "llm" if args.critic == "combined" else "combined"
    print(f"({other} critic) {lift_line(results, other)}")
    print(lift_line(results, args.critic))
    return 0


if __name__ == "__main__":
    sys.exit(main())
