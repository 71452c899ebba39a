"""Test data for training: labelled items in the database, a small PRM800K file, waiting on jobs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from core.types import SolutionItem
from db.annotations import create_annotation
from db.campaigns import create_campaign
from db.items import add_item, link_items
from db.models import CritiqueRun
from db.users import create_user
from training.targets import LabelledItem, template_critique


def arithmetic_item(i: int, *, wrong: bool) -> SolutionItem:
    """'What is a + b?' with two steps; the first step is wrong when `wrong`."""
    a, b = 3 + i, 4 + 2 * i
    total = a + b + (1 if wrong else 0)
    return SolutionItem(
        id=f"arith-{i}",
        problem=f"What is {a} + {b}?",
        steps=[f"{a} + {b} = {total}.", f"So the answer is {total}."],
        first_error_step=1 if wrong else -1,
    )


def add_labelled_items(session: Session, n: int = 6, *, accepted: int = 0) -> list[int]:
    """n submitted annotations (half with an error at step 1) in a campaign without a review step, so they train
    as they are; the first `accepted` accept a stored critique."""
    tag = time.monotonic_ns()
    user = create_user(session, username=f"annotator-{tag}", password="pw", role="annotator")
    campaign = create_campaign(session, name=f"no review {tag}", needs_review=False)
    annotation_ids = []
    for i in range(n):
        solution = arithmetic_item(i, wrong=i % 2 == 1)
        item = add_item(session, item=solution)
        ratings = [-1, None] if solution.first_error_step == 1 else [1, 1]
        run_id = None
        accepted_steps: list[int] = []
        if i < accepted:
            labelled = LabelledItem(
                problem=solution.problem,
                steps=tuple(solution.steps),
                first_error_step=int(solution.first_error_step),
                source="t",
                source_id="t",
            )
            text = template_critique(labelled).replace("holds up", "holds up as stored")
            run = CritiqueRun(
                item_id=item.id,
                model="critic",
                backend="transformers",
                raw_outputs=[text],
                result={},
                first_error_step=solution.first_error_step,
                votes=[solution.first_error_step],
            )
            session.add(run)
            session.commit()
            run_id = run.id
            accepted_steps = [1] if solution.first_error_step == 1 else [1, 2]
        link_items(session, campaign_id=campaign.id, item_ids=[item.id])
        session.commit()
        annotation = create_annotation(
            session,
            item_id=item.id,
            annotator_id=user.id,
            campaign_id=campaign.id,
            ratings=ratings,
            finish_reason="found_error" if solution.first_error_step == 1 else "solution",
            critique_run_id=run_id,
            accepted_steps=accepted_steps,
            status="submitted",
        )
        annotation_ids.append(annotation.id)
    return annotation_ids


def write_prm800k(path: Path, n: int = 4, *, offset: int = 100) -> Path:
    """A phase-2 style PRM800K file with n labelled solutions (plus one give_up row that carries no label)."""
    lines = []
    for i in range(n + 1):
        solution = arithmetic_item(offset + i, wrong=i % 2 == 0)
        wrong = solution.first_error_step == 1
        ratings = [-1] if wrong else [1, 1]
        finish = "found_error" if wrong else "solution"
        if i == n:
            finish, ratings = "give_up", [0]
        lines.append(
            {
                "labeler": f"labeler-{i}",
                "timestamp": "2022-07-17T16:56:51.323252",
                "generation": 1,
                "is_quality_control_question": False,
                "is_initial_screening_question": False,
                "question": {
                    "problem": solution.problem,
                    "ground_truth_answer": "0",
                    "pre_generated_steps": solution.steps,
                    "pre_generated_answer": "0",
                    "pre_generated_verifier_score": 0.5,
                },
                "label": {
                    "steps": [
                        {
                            "completions": [{"text": step, "rating": rating, "flagged": False}],
                            "human_completion": None,
                            "chosen_completion": 0,
                        }
                        for step, rating in zip(solution.steps, ratings, strict=False)
                    ],
                    "total_time": 1000,
                    "finish_reason": finish,
                },
            }
        )
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    return path


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll until `condition()` is truthy (returns it); fail the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
