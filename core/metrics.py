"""ProcessBench metrics: error/correct accuracy, their harmonic mean (F1), a paired bootstrap of F1, step AUROC."""

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


def is_hit(label: int, prediction: int | None) -> bool:
    """Whether a predicted first-error step matches the label (any negative value means "no error")."""
    return prediction is not None and (prediction < 0 if label < 0 else prediction == label)


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
        hit = is_hit(label, prediction)
        if label < 0:
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


def percent(value: float | None) -> str:
    """A share as a percentage with one decimal, '-' when unknown: the cells of the report tables."""
    return "-" if value is None else f"{100 * value:.1f}"


def format_table(rows: Sequence[Sequence[str]]) -> str:
    """Fixed-width columns (the first left-aligned, the others right-aligned) with a dashed line under the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_report(report: Report, title: str = "") -> str:
    """A readable fixed-width table: one row per subset and an average row."""
    rows = [("subset", "n", "err_acc", "corr_acc", "F1", "unparsed")]
    for name, s in report.subsets.items():
        rows.append(
            (name, str(s.total), percent(s.error_acc), percent(s.correct_acc), percent(s.f1), str(s.unparseable))
        )
    if len(report.subsets) > 1:
        total = sum(s.total for s in report.subsets.values())
        unparsed = sum(s.unparseable for s in report.subsets.values())
        rows.append(
            (
                "average",
                str(total),
                percent(report.average_error_acc),
                percent(report.average_correct_acc),
                percent(report.average_f1),
                str(unparsed),
            )
        )
    return (f"{title}\n" if title else "") + format_table(rows)


def scores_from_dict(data: Mapping[str, object]) -> Scores:
    """Rebuild Scores from `Scores.to_dict()` output (summary files)."""
    fields = ("total", "erroneous", "correct", "error_hits", "correct_hits", "unparseable")
    return Scores(**{f: int(data[f]) for f in fields})  # type: ignore[arg-type]


@dataclass(frozen=True)
class PairedBootstrap:
    """F1 of two critics on the same items and a bootstrap interval of their difference (candidate - reference)."""

    n: int
    candidate_f1: float
    reference_f1: float
    delta: float
    low: float
    high: float
    confidence: float
    resamples: int


def paired_bootstrap_f1(
    labels: Sequence[int],
    candidate: Sequence[int | None],
    reference: Sequence[int | None],
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedBootstrap:
    """Percentile interval of F1(candidate) - F1(reference) over items resampled with replacement.

    Paired: each resample draws the same items for both critics, so the interval measures the difference, not
    each critic's own noise. Stratified: erroneous and correct solutions are resampled separately (their counts
    kept), since F1 needs both. Raises ValueError when the lengths differ or one kind of solution is missing.
    """
    import numpy as np

    if not len(labels) == len(candidate) == len(reference):
        raise ValueError(f"{len(labels)} labels, {len(candidate)} and {len(reference)} predictions: pair them by item")
    hits_c = np.array([is_hit(label, p) for label, p in zip(labels, candidate, strict=True)], dtype=float)
    hits_r = np.array([is_hit(label, p) for label, p in zip(labels, reference, strict=True)], dtype=float)
    wrong = np.array([label >= 0 for label in labels])
    if wrong.all() or not wrong.any():
        raise ValueError("F1 needs both erroneous and correct solutions among the items")
    rng = np.random.default_rng(seed)

    def f1(hits: np.ndarray, err_idx: np.ndarray, corr_idx: np.ndarray) -> np.ndarray:
        a = hits[wrong][err_idx].mean(axis=-1)
        b = hits[~wrong][corr_idx].mean(axis=-1)
        total = a + b
        return np.divide(2 * a * b, total, out=np.zeros_like(total), where=total > 0)

    err_idx = rng.integers(0, int(wrong.sum()), (resamples, int(wrong.sum())))
    corr_idx = rng.integers(0, int((~wrong).sum()), (resamples, int((~wrong).sum())))
    deltas = f1(hits_c, err_idx, corr_idx) - f1(hits_r, err_idx, corr_idx)
    alpha = 1 - confidence
    low, high = np.quantile(deltas, [alpha / 2, 1 - alpha / 2])
    everything_e, everything_c = np.arange(int(wrong.sum())), np.arange(int((~wrong).sum()))
    cand_f1 = float(f1(hits_c, everything_e, everything_c))
    ref_f1 = float(f1(hits_r, everything_e, everything_c))
    return PairedBootstrap(
        n=len(labels),
        candidate_f1=cand_f1,
        reference_f1=ref_f1,
        delta=cand_f1 - ref_f1,
        low=float(low),
        high=float(high),
        confidence=confidence,
        resamples=resamples,
    )


def step_auroc(first_error_steps: Sequence[int], step_p_correct: Sequence[Sequence[float | None]]) -> float | None:
    """AUROC of the critic's per-step confidence that a step is correct, against the first-error labels.

    Steps before a solution's first error are correct (positive), its first wrong step is not; steps after it
    have no label and are skipped, as are steps without a confidence. None when no labelled step has a
    confidence or only one class occurs (AUROC is undefined then).
    """
    from sklearn.metrics import roc_auc_score

    truth: list[int] = []
    scores: list[float] = []
    for label, confidences in zip(first_error_steps, step_p_correct, strict=True):
        last = len(confidences) if label < 0 else min(label, len(confidences))
        for index in range(last):
            if confidences[index] is None:
                continue
            truth.append(0 if index + 1 == label else 1)
            scores.append(float(confidences[index]))  # type: ignore[arg-type]
    if len(set(truth)) < 2:
        return None
    return float(roc_auc_score(truth, scores))
