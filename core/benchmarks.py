"""Load evaluation benchmarks as labelled items: ProcessBench subsets, MR-GSM8K, PRM800K, any ProcessBench file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import BadInputError
from core.items_io import read_items
from core.prm800k import BadLine, read_prm800k
from core.settings import Settings, get_settings
from core.types import SolutionItem

PROCESSBENCH_SUBSETS = ("gsm8k", "math", "olympiadbench", "omnimath")
BENCHMARK_HELP = (
    "processbench (every subset in the data dir), processbench:gsm8k,math (chosen subsets), "
    "mr-gsm8k or mr-gsm8k:FILE (DeepCritic's processed MR-GSM8K test file), prm800k:FILE (PRM800K JSONL), "
    "or FILE (a JSON/JSONL file in the ProcessBench schema)"
)


@dataclass
class Benchmark:
    """Labelled solutions grouped by subset; item ids are unique within a subset."""

    name: str
    subsets: dict[str, list[SolutionItem]]
    skipped: dict[str, int] = field(default_factory=dict)  # subset -> items without a usable label

    def items(self) -> Iterator[tuple[str, SolutionItem]]:
        for subset, items in self.subsets.items():
            for item in items:
                yield subset, item

    def __len__(self) -> int:
        return sum(len(items) for items in self.subsets.values())


def load_benchmark(spec: str, *, limit: int | None = None, settings: Settings | None = None) -> Benchmark:
    """Load a benchmark by spec (see BENCHMARK_HELP); `limit` keeps N items of each subset, spread evenly."""
    settings = settings or get_settings()
    spec = spec.strip()
    if limit is not None and limit < 1:
        raise BadInputError(f"limit must be at least 1, got {limit}")
    name, _, argument = spec.partition(":")
    kind = name.lower()
    if kind == "processbench":
        subsets = _processbench(settings.data_dir / "processbench", argument)
    elif kind in {"mr-gsm8k", "mr_gsm8k", "mrgsm8k"}:
        subsets = {"mr-gsm8k": _read_processbench_file(_mr_gsm8k_path(argument, settings), "mr-gsm8k")}
    elif kind == "prm800k":
        path = Path(argument) if argument else settings.data_dir / "prm800k" / "phase2_test.jsonl"
        items, skipped = _read_prm800k(path)
        benchmark = Benchmark(spec, {"prm800k": items}, {"prm800k": skipped})
        return _limited(benchmark, limit)
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise BadInputError(f"unknown benchmark {spec!r}: not a file; use {BENCHMARK_HELP}")
        subsets = {path.stem: _read_processbench_file(path, path.stem)}
    return _limited(Benchmark(spec, subsets), limit)


def _limited(benchmark: Benchmark, limit: int | None) -> Benchmark:
    # ProcessBench files list erroneous solutions first, so the first N would have no correct ones:
    # take N items spread evenly over each subset instead (deterministic, in file order).
    if limit is not None:
        benchmark.subsets = {name: spread(items, limit) for name, items in benchmark.subsets.items()}
    return benchmark


def spread(items: list[SolutionItem], limit: int) -> list[SolutionItem]:
    """`limit` items spaced evenly over `items`, first item included, order kept."""
    if limit >= len(items):
        return list(items)
    return [items[i * len(items) // limit] for i in range(limit)]


def _processbench(directory: Path, argument: str) -> dict[str, list[SolutionItem]]:
    if not directory.is_dir():
        raise BadInputError(
            f"ProcessBench data not found at {directory}: set CRITIC_DATA_DIR to a directory holding "
            "processbench/<subset>.json"
        )
    available = {p.stem: p for p in directory.glob("*.json")}
    order = [s for s in PROCESSBENCH_SUBSETS if s in available] + sorted(set(available) - set(PROCESSBENCH_SUBSETS))
    wanted = [s.strip() for s in argument.split(",") if s.strip()] if argument else order
    missing = [s for s in wanted if s not in available]
    if missing:
        raise BadInputError(
            f"ProcessBench subset(s) {', '.join(missing)} not in {directory}; available: {', '.join(order) or 'none'}"
        )
    return {subset: _read_processbench_file(available[subset], subset) for subset in wanted}


def _mr_gsm8k_path(argument: str, settings: Settings) -> Path:
    if argument:
        path = Path(argument).expanduser()
        if not path.is_file():
            raise BadInputError(f"MR-GSM8K file {path} does not exist")
        return path
    names = [f"{stem}{ext}" for stem in ("mr-gsm8k", "mr_gsm8k") for ext in (".json", ".jsonl")]
    candidates = [settings.data_dir / name for name in names]
    candidates += sorted((settings.data_dir / "mr-gsm8k").glob("*.json*"))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise BadInputError(
        f"MR-GSM8K is not in the data dir {settings.data_dir} (it is not part of the shared data): "
        "pass mr-gsm8k:FILE with DeepCritic's processed MR-GSM8K test file"
    )


def _read_processbench_file(path: Path, subset: str) -> list[SolutionItem]:
    """Every item of a ProcessBench-schema file; the first bad item stops the load with its position and field."""
    items: list[SolutionItem] = []
    for position, result in enumerate(read_items(path, strip_step_prefixes=subset == "mr-gsm8k"), start=1):
        if isinstance(result, BadInputError):
            raise BadInputError(f"{path}: {result}") from None
        if result.first_error_step is None:
            raise BadInputError(
                f"{path}: item {position} id={result.id!r}: field 'label' is missing; a benchmark item needs the "
                "0-based index of its first wrong step, or -1"
            )
        items.append(result)
    if not items:
        raise BadInputError(f"{path}: no items")
    return unique_ids(items, subset)


def _read_prm800k(path: Path) -> tuple[list[SolutionItem], int]:
    if not path.is_file():
        raise BadInputError(f"PRM800K file {path} does not exist: pass prm800k:FILE (phase2_test.jsonl)")
    items: list[SolutionItem] = []
    skipped = 0
    for record in read_prm800k(path):
        if isinstance(record, BadLine):
            raise BadInputError(f"{path}: line {record.line_number}: {record.error}")
        if record.first_error_step is None:  # give_up / bad_problem: no usable label
            skipped += 1
            continue
        item = record.item.model_copy(update={"id": record.item.id or f"prm800k-{record.line_number}"})
        items.append(item)
    if not items:
        raise BadInputError(f"{path}: no labelled solutions")
    return unique_ids(items, "prm800k"), skipped


def unique_ids(items: list[SolutionItem], subset: str) -> list[SolutionItem]:
    """Give id-less items `<subset>-<n>` and repeated ids a `#n` suffix, so results can be keyed by id."""
    seen: dict[str, int] = {}
    out = []
    for position, item in enumerate(items):
        item_id = item.id or f"{subset}-{position}"
        count = seen.get(item_id, 0)
        seen[item_id] = count + 1
        if count:
            item_id = f"{item_id}#{count}"
        out.append(item if item_id == item.id else item.model_copy(update={"id": item_id}))
    return out
