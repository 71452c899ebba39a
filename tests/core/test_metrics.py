"""ProcessBench metrics against hand-computed cases."""

from __future__ import annotations

import pytest

from core.metrics import format_report, score, score_subsets, scores_from_dict


def test_mixed_set_matches_hand_computation() -> None:
    # erroneous: labels 2, 3, 1 -> predicted 2 (hit), 1 (miss: too early), -1 (miss) => 1/3
    # correct: labels -1, -1 -> predicted -1 (hit), 4 (miss) => 1/2
    scores = score([2, 3, 1, -1, -1], [2, 1, -1, -1, 4])
    assert scores.error_acc == pytest.approx(1 / 3)
    assert scores.correct_acc == pytest.approx(1 / 2)
    assert scores.f1 == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))  # 0.4
    assert scores.f1 == pytest.approx(0.4)
    assert (scores.total, scores.erroneous, scores.correct) == (5, 3, 2)


def test_unparseable_counts_as_wrong_on_both_sides() -> None:
    scores = score([2, -1, -1, 3], [None, None, -1, 3])
    assert scores.unparseable == 2
    assert scores.error_acc == pytest.approx(1 / 2)
    assert scores.correct_acc == pytest.approx(1 / 2)
    assert scores.f1 == pytest.approx(0.5)


def test_all_correct_solutions_have_no_error_accuracy_or_f1() -> None:
    scores = score([-1, -1, -1, -1], [-1, -1, 2, None])
    assert scores.correct_acc == pytest.approx(0.5)
    assert scores.error_acc is None
    assert scores.f1 is None


def test_all_erroneous_solutions_have_no_correct_accuracy() -> None:
    scores = score([1, 2, 3], [1, 2, 3])
    assert scores.error_acc == 1.0
    assert scores.correct_acc is None
    assert scores.f1 is None


def test_all_predictions_wrong_gives_zero_f1() -> None:
    scores = score([1, 2, -1], [-1, 3, 1])
    assert scores.error_acc == 0.0
    assert scores.correct_acc == 0.0
    assert scores.f1 == 0.0


def test_a_perfect_critic_scores_one() -> None:
    assert score([1, 5, -1], [1, 5, -1]).f1 == 1.0


def test_any_negative_value_means_no_error() -> None:
    assert score([-1], [-7]).correct_acc == 1.0


def test_mismatched_lengths_are_rejected() -> None:
    with pytest.raises(ValueError):
        score([1, 2], [1])


def test_subsets_are_scored_separately_and_f1_averaged() -> None:
    report = score_subsets(
        [
            ("gsm8k", 1, 1),
            ("gsm8k", -1, -1),  # gsm8k F1 = 1
            ("math", 2, 3),
            ("math", -1, -1),  # math: err 0, corr 1 -> F1 0
        ]
    )
    assert list(report.subsets) == ["gsm8k", "math"]
    assert report.subsets["gsm8k"].f1 == 1.0
    assert report.subsets["math"].f1 == 0.0
    assert report.average_f1 == pytest.approx(0.5)
    assert report.average_error_acc == pytest.approx(0.5)
    assert report.average_correct_acc == pytest.approx(1.0)
    table = format_report(report)
    assert "gsm8k" in table and "average" in table and "50.0" in table


def test_scores_round_trip_through_a_summary_dict() -> None:
    scores = score([2, -1, 3], [2, None, 1])
    assert scores_from_dict(scores.to_dict()) == scores


def test_step_auroc_scores_confidence_on_labelled_steps_only() -> None:
    from core.metrics import step_auroc

    # Steps after a first error carry no label: the 0.99 on step 3 of the first solution is ignored.
    assert step_auroc([2, -1], [[0.9, 0.1, 0.99], [0.8, 0.7]]) == 1.0
    assert step_auroc([2, -1], [[0.2, 0.9], [0.8, 0.7]]) == 0.0
    assert step_auroc([-1, -1], [[0.9], [0.8]]) is None  # only correct steps: undefined
    assert step_auroc([2], [[None, None]]) is None  # the critic gave no confidence
    # By hand: correct steps scored 0.9 and 0.4, wrong ones 0.5 and 0.3; 3 of the 4 (correct, wrong) pairs are
    # ordered right, so AUROC = 0.75.
    assert step_auroc([2, 1, -1], [[0.9, 0.5], [0.3], [0.4]]) == pytest.approx(0.75)
