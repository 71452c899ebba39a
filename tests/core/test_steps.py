"""Step splitting and item reading: what a user pastes or uploads becomes the steps they expect."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from core.errors import BadInputError
from core.items_io import make_item, read_items
from core.settings import Settings
from core.steps import split_steps, strip_step_prefix
from core.types import SolutionItem


def test_step_prefixes_are_split_and_stripped_keeping_calculator_annotations() -> None:
    text = (
        "Step 1: Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
        "Step 2: Natalia sold 48+24 = <<48+24=72>>72 clips altogether.\n"
        "The answer is 72."
    )
    assert split_steps(text) == [
        "Natalia sold 48/2 = <<48/2=24>>24 clips in May.",
        "Natalia sold 48+24 = <<48+24=72>>72 clips altogether.\nThe answer is 72.",
    ]
    assert split_steps("**Step 1.** a\n\n**Step 2:** b") == ["a", "b"]


def test_numbered_lists_split_with_a_preamble_step() -> None:
    text = "Let's solve it.\n1. 3 apples cost 1.5 dollars each.\n2) Total is 4.5 dollars.\n3. Answer: 4.5"
    assert split_steps(text) == [
        "Let's solve it.",
        "3 apples cost 1.5 dollars each.",
        "Total is 4.5 dollars.",
        "Answer: 4.5",
    ]


def test_paragraphs_keep_inner_bullets_and_lines() -> None:
    text = "First, the math books:\n- 2 books x 2 pounds = 4 pounds\n\nThen the total:\n4 + 3 = 7\n\n\nSo 7."
    assert split_steps(text) == [
        "First, the math books:\n- 2 books x 2 pounds = 4 pounds",
        "Then the total:\n4 + 3 = 7",
        "So 7.",
    ]


def test_one_step_per_line_when_there_are_no_blank_lines() -> None:
    text = "He buys 3*4 = <<3*4=12>>12 eggs.\nHe eats 2, so 12-2 = <<12-2=10>>10 are left.\n  (indented note)\n#### 10"
    assert split_steps(text) == [
        "He buys 3*4 = <<3*4=12>>12 eggs.",
        "He eats 2, so 12-2 = <<12-2=10>>10 are left.\n  (indented note)\n#### 10",
    ]
    assert split_steps("   \n ") == []
    assert strip_step_prefix("Step 12: keep 1.5") == "keep 1.5"


def test_read_items_accepts_object_array_and_jsonl_and_converts_the_label(tmp_path: Path) -> None:
    obj = {"id": "gsm8k-0", "problem": "p", "steps": ["a", "Step 2: b"], "label": 1, "generator": "g"}
    single = tmp_path / "one.json"
    single.write_text(json.dumps(obj))
    (item,) = list(read_items(single))
    assert isinstance(item, SolutionItem)
    # Given steps stay verbatim (exports round-trip); only the prompt drops the redundant "Step 2:".
    assert item.first_error_step == 2 and item.steps == ["a", "Step 2: b"] and item.metadata["generator"] == "g"
    array = list(read_items(io.StringIO(json.dumps([obj, {**obj, "id": "x", "label": -1}]))))
    assert [i.first_error_step for i in array] == [2, -1]
    lines = io.StringIO(json.dumps({"problem": "q", "solution": "1. a\n2. b"}) + "\n\n" + json.dumps(obj) + "\n")
    items = list(read_items(lines))
    assert items[0].steps == ["a", "b"] and items[0].first_error_step is None and items[1].id == "gsm8k-0"


def test_bad_items_become_errors_naming_item_and_field_while_others_come_through() -> None:
    settings = Settings(max_steps=3, max_item_bytes=200)
    lines = [
        '{"id": "ok", "problem": "p", "steps": ["a"]}',
        '{"id": "broken", "problem": ',
        '{"id": "noproblem", "steps": ["a"]}',
        '{"id": "nosteps", "problem": "p", "steps": []}',
        '{"id": "long", "problem": "p", "steps": ["a", "b", "c", "d"]}',
        json.dumps({"id": "big", "problem": "x" * 300, "steps": ["a"]}),
        '{"problem": "p", "steps": ["a"], "label": 5}',
        '{"problem": "p", "solution": "   "}',
        '{"id": "ok2", "problem": "p", "solution": "a\\n\\nb"}',
    ]
    results = list(read_items(io.StringIO("\n".join(lines)), settings=settings))
    assert [r.id for r in results if isinstance(r, SolutionItem)] == ["ok", "ok2"]
    messages = [str(r) for r in results if isinstance(r, BadInputError)]
    assert messages[0].startswith("item 2 (line 2): invalid JSON")
    assert "id='noproblem'" in messages[1] and "'problem' is missing" in messages[1]
    assert "id='nosteps'" in messages[2] and "'steps' has no steps" in messages[2]
    assert "4 steps" in messages[3] and "CRITIC_MAX_STEPS" in messages[3]
    assert "id='big'" in messages[4] and "CRITIC_MAX_ITEM_BYTES" in messages[4]
    assert "item 7" in messages[5] and "'label'" in messages[5]
    assert "item 8" in messages[6] and "'solution' has no steps" in messages[6]


def test_unreadable_inputs_raise_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="does not exist"):
        list(read_items(tmp_path / "missing.json"))
    with pytest.raises(BadInputError, match="not valid JSON"):
        list(read_items(io.StringIO('[{"problem": "p"')))
    with pytest.raises(BadInputError, match="empty"):
        list(read_items(io.StringIO("  ")))
    (not_object,) = list(read_items(io.StringIO("[3]")))
    assert isinstance(not_object, BadInputError) and "expected a JSON object" in str(not_object)


def test_make_item_splits_pasted_text_and_reports_the_field() -> None:
    item = make_item("What is 2+3?", solution="Step 1: 2+3=6\nStep 2: So 6.")
    assert item.steps == ["2+3=6", "So 6."]
    with pytest.raises(BadInputError, match="pasted solution: field 'solution' has no steps"):
        make_item("p", solution="", where="pasted solution")


class _EndlessJsonLines(io.TextIOBase):
    """A JSONL stream that never ends: reading it whole would hang, reading it line by line does not."""

    _line = json.dumps({"problem": "p", "steps": ["a"]}) + "\n"

    def __init__(self) -> None:
        self._pending = self._line

    def read(self, size: int | None = -1) -> str:
        if size is None or size < 0:
            raise AssertionError("the reader tried to load the whole stream into memory")
        chunk, self._pending = self._pending[:size], self._pending[size:] or self._line
        return chunk

    def readline(self, size: int | None = -1) -> str:
        line, self._pending = self._pending, self._line
        return line

    def __next__(self) -> str:
        return self.readline()


def test_jsonl_streams_item_by_item_without_reading_the_whole_input() -> None:
    records = read_items(_EndlessJsonLines())
    first_three = [next(records) for _ in range(3)]
    assert all(isinstance(r, SolutionItem) and r.steps == ["a"] for r in first_three)
