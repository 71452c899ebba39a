"""Code items read by the one item reader: MBPP and HumanEval forms, clear errors, and the export keeps the tests."""

from __future__ import annotations

import io
import json

from core.code.items import CodeItem
from core.errors import BadInputError
from core.items_io import read_items

ADD = "def add(a, b):\n    return a + b\n"
MBPP = {"id": "a", "problem": "Add.", "code": ADD, "test_list": ["assert add(1, 1) == 2"]}
HUMANEVAL = {
    "id": "h",
    "problem": "Add.",
    "code": "def add(a, b):\n    return a + b\n",
    "test": "def check(candidate):\n    assert candidate(1, 1) == 2\n",
    "entry_point": "add",
}


def _read(rows: list[dict], code: bool = True) -> list:
    return list(read_items(io.StringIO("\n".join(json.dumps(r) for r in rows)), code=code))


def test_mbpp_and_humaneval_items_are_read_and_round_trip() -> None:
    mbpp, humaneval = _read([{**MBPP, "label": "incorrect", "task": "t1"}, HUMANEVAL])
    assert isinstance(mbpp, CodeItem) and mbpp.test_list == MBPP["test_list"] and mbpp.label == "incorrect"
    assert isinstance(humaneval, CodeItem) and humaneval.tests.entry_point == "add"
    again = _read([mbpp.to_json()])[0]
    assert again == mbpp and mbpp.to_json()["task"] == "t1"


def test_bad_code_items_name_the_item_and_field() -> None:
    no_tests, he_without_entry, other_language = _read(
        [{**MBPP, "test_list": []}, {**HUMANEVAL, "entry_point": None}, {**MBPP, "language": "java"}]
    )
    assert isinstance(no_tests, BadInputError) and "needs tests" in str(no_tests) and "id='a'" in str(no_tests)
    assert isinstance(he_without_entry, BadInputError) and "'entry_point'" in str(he_without_entry)
    assert isinstance(other_language, BadInputError) and "only 'python'" in str(other_language)


def test_readers_of_math_solutions_say_a_code_item_is_not_one() -> None:
    (error,) = _read([MBPP], code=False)
    assert isinstance(error, BadInputError) and "code item" in str(error)
