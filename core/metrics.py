"""ProcessBench metrics: error accuracy, correct accuracy and their harmonic mean (F1), per subset and averaged."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Scores:
    """ProcessBench scores of one set of solutions.

    `error_acc` is the share of erroneous solutions whose first wrong step was predicted exactly;
    `correct_acc` the share of fully correct solutions predicted as having no error; `f1` their
    harmonic mean. A side with no solutions has no accuracy (None), and then F1 is None too: a
    set of only-correct solutions says nothing about finding errors. An unparseable prediction
    (None) counts as wrong on whichever side its solution is.
    """

    total: int
    erroneous: int
    correct: int
    error_hits: int
    correct_hits: int
    unparseable: int

    @property
    def error_acc(self) -> float | None:
        return self.error_hits / self.erroneous if self.erroneous else None

    @property
    def correct_acc(self) -> float | None:
        return self.correct_hits / self.correct if self.correct else None

    @property
    def f1(self) -> float | None:
        return harmonic_mean(self.error_acc, self.correct_acc)

    def to_dict(self) -> dict[str, float | int | None]:
        return {**asdict(self), "error_acc": self.error_acc, "correct_acc": self.correct_acc, "f1": self.f1}


def harmonic_mean(a: float | None, b: float | None) -> float | None:
    """2ab/(a+b); 0 when both are 0; None when either is unknown."""
    if a is None or b is None:
        return None
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


def score(labels: Sequence[int], predictions: Sequence[int | None]) -> Scores:
    """Score predicted first-error steps against labels (both 1-based, -1 = no error, prediction None = unparseable)."""
    if len(labels) != len(predictions):
        raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
    erroneous = correct = error_hits = correct_hits = unparseable = 0
    for label, prediction in zip(labels, predictions, strict=True):
        if label is None:
            raise ValueError("a solution without a label cannot be scored")
        if prediction is None:
            unparseable += 1
        # Any negative label or prediction means "no error", as in the ProcessBench files.
        label_is_correct = label < 0
        hit = prediction is not None and (prediction < 0 if label_is_correct else prediction == label)
        if label_is_correct:
            correct += 1
            correct_hits += hit
        else:
            erroneous += 1
            error_hits += hit
    return Scores(
        total=len(labels),
        erroneous=erroneous,
        correct=correct,
        error_hits=error_hits,
        correct_hits=correct_hits,
        unparseable=unparseable,
    )


@dataclass(frozen=True)
class Report:
    """Scores per subset plus their average (the ProcessBench 'Avg. F1' is the mean of the subsets' F1)."""

    subsets: dict[str, Scores]

    @property
    def average_f1(self) -> float | None:
        values = [s.f1 for s in self.subsets.values()]
        return None if not values or any(v is None for v in values) else sum(values) / len(values)  # type: ignore[arg-type]

    @property
    def average_error_acc(self) -> float | None:
        return _mean([s.error_acc for s in self.subsets.values()])

    @property
    def average_correct_acc(self) -> float | None:
        return _mean([s.correct_acc for s in self.subsets.values()])

    def to_dict(self) -> dict[str, object]:
        return {
            "subsets": {name: s.to_dict() for name, s in self.subsets.items()},
            "average": {
                "error_acc": self.average_error_acc,
                "correct_acc": self.average_correct_acc,
                "f1": self.average_f1,
            },
        }


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def score_subsets(records: Iterable[tuple[str, int, int | None]]) -> Report:
    """Score (subset, label, prediction) records per subset, in first-seen subset order."""
    grouped: dict[str, tuple[list[int], list[int | None]]] = {}
    for subset, label, prediction in records:
        labels, predictions = grouped.setdefault(subset, ([], []))
        labels.append(label)
        predictions.append(prediction)
    return Report({name: score(labels, preds) for name, (labels, preds) in grouped.items()})


def format_report(report: Report, title: str = "") -> str:
    """A readable fixed-width table: one row per subset and an average row."""
    rows = [("subset", "n", "err_acc", "corr_acc", "F1", "unparsed")]

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}"

    for name, s in report.subsets.items():
        rows.append((name, str(s.total), pct(s.error_acc), pct(s.correct_acc), pct(s.f1), str(s.unparseable)))
    if len(report.subsets) > 1:
        total = sum(s.total for s in report.subsets.values())
        unparsed = sum(s.unparseable for s in report.subsets.values())
        rows.append(
            (
                "average",
                str(total),
                pct(report.average_error_acc),
                pct(report.average_correct_acc),
                pct(report.average_f1),
                str(unparsed),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [title] if title else []
    for n, row in enumerate(rows):
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def scores_from_dict(data: Mapping[str, object]) -> Scores:
    """Rebuild Scores from `Scores.to_dict()` output (summary files)."""
    fields = ("total", "erroneous", "correct", "error_hits", "correct_hits", "unparseable")
    return Scores(**{f: int(data[f]) for f in fields})  # type: ignore[arg-type]


def step_labels(first_error_step: int, num_steps: int) -> list[int | None]:
    """Per-step correctness a first-error label implies: 1 before it, 0 at it, None after it (never rated)."""
    if first_error_step < 0:
        return [1] * num_steps
    return [1 if i < first_error_step else 0 if i == first_error_step else None for i in range(1, num_steps + 1)]


def step_auroc(pairs: Iterable[tuple[float | None, int | None]]) -> float | None:
    """Area under the ROC curve of P(correct) against step labels (1 correct, 0 wrong), over the rated steps.

    Steps without a probability or a label are left out; None when fewer than one step of each kind remains.
    """
    from sklearn.metrics import roc_auc_score

    kept = [(p, label) for p, label in pairs if p is not None and label is not None]
    if len({label for _, label in kept}) < 2:
        return None
    return float(roc_auc_score([label for _, label in kept], [p for p, _ in kept]))
