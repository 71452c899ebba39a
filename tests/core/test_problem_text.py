"""Problem identity: the same problem written with other LaTeX layout has one normal form; different ones do not."""

from __future__ import annotations

import pytest

from core.problem_text import normal_problem_text
from db.items import problem_key

SAME = [
    ("Find $x^2+1$ when $x=3$.", "Find $x^2 + 1$ when $x = 3$."),
    (r"Compute $\left(\dfrac{1}{2}\right)^{2}$.", r"Compute $(\frac{1}{2})^2$."),
    (r"If $a \le b$, find $\tfrac {a}{b}$.", r"if $a\leq b$, find $\frac{a}{b}$."),
    (r"Solve \[x\,y = 1\]", r"Solve $$x y=1$$"),
    (r"A rope is $5\ \text{m}$ long.", r"A rope is $5 \mathrm{m}$ long."),
    (r"Let $f(x) = \Bigl| x \Bigr|$.", r"Let $f(x)=|x|$."),
    (r"Set $\lbrace 1, 2 \rbrace$", r"Set $\{1,2\}$"),
]
DIFFERENT = [
    ("Find $x^2+1$.", "Find $x^2-1$."),
    (r"Is $a \le x$?", r"Is $a \lex$?"),  # the space after a macro's name is part of what it says
    ("What is 12 + 3?", "What is 1 + 23?"),
    ("a cat", "acat"),
]


@pytest.mark.parametrize(("one", "other"), SAME)
def test_layout_variants_are_one_problem(one: str, other: str) -> None:
    assert normal_problem_text(one) == normal_problem_text(other)
    assert problem_key(one) == problem_key(other)


@pytest.mark.parametrize(("one", "other"), DIFFERENT)
def test_different_problems_stay_different(one: str, other: str) -> None:
    assert problem_key(one) != problem_key(other)
