"""Small PRM800K-schema lines for tests (the real files are not on this machine)."""

from __future__ import annotations

import json
from typing import Any


def phase2_line(
    problem: str = "What is 2+3?",
    steps: tuple[str, ...] = ("2+3 = 5.", "The answer is 5."),
    ratings: tuple[int | None, ...] = (1, 1),
    *,
    finish_reason: str = "solution",
    labeler: str = "0f5c7c1e-labeler-a",
    timestamp: str = "2022-07-17T16:56:51.323252",
    flagged: tuple[int, ...] = (),
) -> str:
    rated = [r for r in ratings if r is not None]
    obj: dict[str, Any] = {
        "labeler": labeler,
        "timestamp": timestamp,
        "generation": 1,
        "is_quality_control_question": False,
        "is_initial_screening_question": False,
        "question": {
            "problem": problem,
            "ground_truth_answer": "5",
            "pre_generated_steps": list(steps),
            "pre_generated_answer": "5",
            "pre_generated_verifier_score": 0.9,
        },
        "label": {
            "steps": [
                {
                    "completions": [{"text": steps[i], "rating": rated[i], "flagged": i in flagged}],
                    "human_completion": None,
                    "chosen_completion": None if rated[i] == -1 else 0,
                }
                for i in range(len(rated))
            ],
            "total_time": 12345,
            "finish_reason": finish_reason,
        },
    }
    return json.dumps(obj)


def phase1_line() -> str:
    """Phase 1: no pre-generated steps; the path is the chosen completions, the last one rated -1."""
    obj = {
        "labeler": "phase1-labeler",
        "timestamp": "2022-06-01T10:00:00",
        "generation": None,
        "is_quality_control_question": True,
        "is_initial_screening_question": False,
        "question": {"problem": "Compute 6*7.", "ground_truth_answer": "42"},
        "label": {
            "steps": [
                {
                    "completions": [
                        {"text": "6*7 = 42.", "rating": 1, "flagged": False},
                        {"text": "6*7 = 36.", "rating": -1, "flagged": False},
                    ],
                    "human_completion": None,
                    "chosen_completion": 0,
                },
                {
                    "completions": [
                        {"text": "So the answer is 43.", "rating": -1, "flagged": True},
                        {"text": "So the answer is 42.", "rating": 1, "flagged": False},
                    ],
                    "human_completion": None,
                    "chosen_completion": None,
                },
            ],
            "total_time": 999,
            "finish_reason": "found_error",
        },
    }
    return json.dumps(obj)
