"""A code item: a problem, a Python solution and its tests (MBPP or HumanEval form), read from JSON objects."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.errors import BadInputError
from core.sandbox.types import TestSpec
from core.settings import Settings

CodeVerdict = Literal["correct", "incorrect"]
CODE_FIELDS = ("code",)
"""An input object with one of these fields is a code item (else a math solution)."""


class CodeItem(BaseModel):
    """A programming problem, a submitted solution and the tests that decide it.

    Tests come in MBPP form (`test_list` assert lines, optional `test_setup_code`) or HumanEval form (`test`
    defining `check(candidate)`, with `entry_point`). `label` is the known verdict, when known.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = ""
    problem: str
    code: str
    language: Literal["python"] = "python"
    test_list: list[str] = Field(default_factory=list)
    test_setup_code: str = ""
    test: str | None = None
    entry_point: str | None = None
    label: CodeVerdict | None = Field(None, description="Whether the solution is known to be correct.")
    source: str = "upload"
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def tests(self) -> TestSpec:
        return TestSpec(
            test_list=self.test_list, test_setup_code=self.test_setup_code, test=self.test, entry_point=self.entry_point
        )

    def to_json(self) -> dict[str, Any]:
        """The item as an input object (tests kept), as `read_items` reads it back."""
        out = self.model_dump(exclude={"metadata", "source"}, exclude_none=True)
        return {**self.metadata, **out}


def is_code_object(obj: Any) -> bool:
    return isinstance(obj, dict) and any(obj.get(name) is not None for name in CODE_FIELDS)


def _string_list(obj: dict[str, Any], name: str, where: str) -> list[str]:
    value = obj.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(line, str) and line.strip() for line in value):
        raise BadInputError(f"{where}: field '{name}' must be a list of non-empty strings (assert statements)")
    return list(value)


def _optional_text(obj: dict[str, Any], name: str, where: str) -> str | None:
    value = obj.get(name)
    if value is not None and not isinstance(value, str):
        raise BadInputError(f"{where}: field '{name}' must be a string")
    return value


def code_item_from_obj(obj: dict[str, Any], where: str, settings: Settings) -> CodeItem:
    """A checked CodeItem from an input object; BadInputError names the item and the field."""
    problem = obj.get("problem")
    if not isinstance(problem, str) or not problem.strip():
        reason = "is missing" if problem is None else "must be a non-empty string"
        raise BadInputError(f"{where}: field 'problem' {reason}")
    code = obj.get("code")
    if not isinstance(code, str) or not code.strip():
        raise BadInputError(f"{where}: field 'code' must be non-empty Python source")
    language = obj.get("language", "python")
    if language != "python":
        raise BadInputError(f"{where}: field 'language' is {language!r}; only 'python' code can run")
    test_list = _string_list(obj, "test_list", where)
    setup = _optional_text(obj, "test_setup_code", where) or ""
    test = _optional_text(obj, "test", where)
    entry_point = _optional_text(obj, "entry_point", where)
    if not test_list and not test:
        raise BadInputError(
            f"{where}: a code item needs tests: 'test_list' (assert lines) or 'test' with check(candidate)"
        )
    if test and not entry_point:
        raise BadInputError(f"{where}: field 'entry_point' is missing (the function HumanEval's check() tests)")
    size = sum(len(part.encode()) for part in (problem, code, setup, test or "", *test_list))
    if size > settings.max_item_bytes:
        raise BadInputError(
            f"{where}: the item is {size} bytes, more than the limit of {settings.max_item_bytes} "
            "(raise CRITIC_MAX_ITEM_BYTES to allow more)"
        )
    label = obj.get("label")
    if label is not None and label not in ("correct", "incorrect"):
        raise BadInputError(f"{where}: field 'label' of a code item must be 'correct' or 'incorrect', got {label!r}")
    known = {"id", "problem", "code", "language", "test_list", "test_setup_code", "test", "entry_point", "label"}
    return CodeItem(
        id=str(obj.get("id") or ""),
        problem=problem,
        code=code,
        test_list=test_list,
        test_setup_code=setup,
        test=test,
        entry_point=entry_point,
        label=label,
        source=str(obj.get("source") or "upload"),
        metadata={k: v for k, v in obj.items() if k not in known and k != "source"},
    )
