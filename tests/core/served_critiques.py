"""Three long critiques as a strong served critic (DeepCritic-7B style) writes them, of the pencils solution.

Different shapes: plain paragraphs; a doubt on step 2 before the proven step 3; lists, display math and bold words.
Each is in the structure profile's format, so a grammar that cut a strong critic down would not accept it.
"""

from __future__ import annotations

PENCILS_PROBLEM = (
    "A stationery shop sells pencils at $2 each and erasers at $1 each. Ana buys 6 pencils and 3 erasers and pays "
    "with a $20 bill. How much change does she get?"
)
PENCILS_STEPS = [
    "6 pencils cost 6 * 2 = 12 dollars.",
    "3 erasers cost 3 * 1 = 3 dollars.",
    "Together she spends 12 + 3 = 16 dollars.",
    "Her change is 20 - 16 = 4 dollars.",
]


def _block(index: int, critique: str, meta: str, value: int) -> str:
    return (
        f"**Critique of Step {index}**: {critique}\n**Meta-critique**: {meta}\n"
        f"**Judgement**: The correctness of Step {index} is: \\boxed{{{value}}}"
    )


PARAGRAPHS = (
    "\n\n".join(
        [
            _block(
                1,
                "The step multiplies the number of pencils by the unit price. Each pencil costs $2$ dollars and Ana "
                "buys $6$ of them, so the cost is $6 \\times 2 = 12$ dollars.\n\nThis matches the problem statement "
                "exactly; no quantity is misread.",
                "Let me verify by repeated addition: $2 + 2 + 2 + 2 + 2 + 2 = 12$. The same value again, so the "
                "multiplication is right.",
                1,
            ),
            _block(
                2,
                "The eraser cost is $3 \\times 1 = 3$ dollars. The step uses the right price and the right count.",
                "Dividing back, $\\frac{3}{1} = 3$ erasers at one dollar each. Nothing is off here.",
                1,
            ),
            _block(
                3,
                "The step adds the two partial costs. However, the sum is wrong:\n\n$$12 + 3 = 15 \\neq 16.$$\n\n"
                "The step claims a total of $16$ dollars, one dollar too much.",
                "Recomputing from scratch: $6 \\cdot 2 + 3 \\cdot 1 = 15$. The correct total is $15$, so the step is "
                "incorrect, and the change in the next step inherits the error.",
                -1,
            ),
        ]
    )
    + "\n\n**Answer**: \\boxed{3}"
)

DOUBT_FIRST = (
    "\n\n".join(
        [
            _block(
                1,
                "Six pencils at two dollars each: $6 \\times 2 = 12$. Correct.",
                "A quick check with halves: $\\frac{12}{6} = 2$ dollars per pencil, as stated.",
                1,
            ),
            _block(
                2,
                "Here I am unsure whether the eraser price is per eraser or per pack.\nIf it were per pack, the cost "
                "would differ, and the step would not follow from the problem.",
                "Re-reading the problem, it says $1 each, so $3 \\times 1 = 3$ is probably fine. Still, I flag the "
                "ambiguity in the wording.",
                -1,
            ),
            _block(
                3,
                "The total is computed as $12 + 3 = 16$.\nBut $$12 + 3 = 15,$$ so the step is wrong by one dollar.",
                "The checker's finding agrees: the sum is $15$, not $16$. The error propagates to the change.",
                -1,
            ),
        ]
    )
    + "\n\n**Answer**: \\boxed{3}"
)

LISTS_AND_BOLD = (
    "\n\n".join(
        [
            _block(
                1,
                "**Check** of the arithmetic:\n- pencils bought: $6$\n- price each: $2$\n- cost: $6 \\times 2 = 12$\n\n"
                "All three items agree with the problem.",
                "Using the formula $\\text{cost} = n \\cdot p$ with $n = 6$ and $p = 2$ gives $12$ again.",
                1,
            ),
            _block(
                2,
                "1. Erasers bought: $3$.\n2. Price each: $1$.\n3. Cost: $3 \\times 1 = 3$ dollars.",
                "Nothing to question: multiplying by one leaves the count unchanged, $\\frac{3 \\cdot 1}{1} = 3$.",
                1,
            ),
            _block(
                3,
                "The step states the total spending.\n\n"
                "$$\\begin{aligned} 12 + 3 &= 15 \\\\ 15 &\\ne 16 \\end{aligned}$$"
                "\n\nSo the claimed $16$ is an addition error.",
                "*Second look:* adding in the other order, $3 + 12 = 15$. The step is incorrect.",
                -1,
            ),
        ]
    )
    + "\n\n**Answer**: \\boxed{3}"
)

SERVED_CRITIQUES = {"paragraphs": PARAGRAPHS, "doubt_first": DOUBT_FIRST, "lists_and_bold": LISTS_AND_BOLD}
