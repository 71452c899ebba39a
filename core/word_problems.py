"""Generated multi-step word problems with correct step-by-step solutions (sources for error injection).

Themed templates whose steps carry the quantities error injection changes (units, a dropped term, ...); the actor's
problems of a chosen number of operations come from `core.actor.problems` instead.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

NAMES = ("Ana", "Ben", "Chloe", "Dev", "Elif", "Farid", "Grace", "Hugo", "Ines", "Jamal", "Kira", "Luca")


@dataclass(frozen=True)
class WordProblem:
    """A problem, its correct solution steps and the answer."""

    problem: str
    steps: tuple[str, ...]
    answer: str


def _bakery(rng: random.Random) -> WordProblem:
    name = rng.choice(NAMES)
    trays, per, sold, given = rng.randint(3, 9), rng.randint(6, 24), rng.randint(5, 30), rng.randint(2, 9)
    total = trays * per
    sold = min(sold, total - given - 1)
    left = total - sold - given
    return WordProblem(
        f"{name} bakes {trays} trays of {per} cookies each. {name} sells {sold} cookies and gives {given} cookies to "
        "a neighbour. How many cookies are left?",
        (
            f"{name} bakes {trays} x {per} = {total} cookies.",
            f"After selling, {total} - {sold} = {total - sold} cookies remain.",
            f"After giving some away, {total - sold} - {given} = {left} cookies are left.",
            f"The answer is {left}.",
        ),
        str(left),
    )


def _movie(rng: random.Random) -> WordProblem:
    hours, minutes, trailer = rng.randint(1, 3), rng.randint(5, 55), rng.randint(5, 20)
    film = hours * 60 + minutes
    return WordProblem(
        f"A film lasts {hours} hours and {minutes} minutes, and {trailer} minutes of trailers play before it. How "
        "many minutes is the whole showing?",
        (
            f"{hours} hours is {hours} x 60 = {hours * 60} minutes.",
            f"The film lasts {hours * 60} + {minutes} = {film} minutes.",
            f"With the trailers, the showing lasts {film} + {trailer} = {film + trailer} minutes.",
            f"The answer is {film + trailer}.",
        ),
        str(film + trailer),
    )


def _change(rng: random.Random) -> WordProblem:
    name = rng.choice(NAMES)
    count, price, pen = rng.randint(2, 8), rng.randint(2, 9), rng.randint(1, 6)
    cost = count * price + pen
    paid = (cost // 10 + 1) * 10 + rng.choice((0, 10, 20))
    return WordProblem(
        f"{name} buys {count} notebooks at ${price} each and a pen for ${pen}. {name} pays with ${paid}. How much "
        f"change does {name} get?",
        (
            f"The notebooks cost {count} x {price} = {count * price} dollars.",
            f"With the pen, the total is {count * price} + {pen} = {cost} dollars.",
            f"The change is {paid} - {cost} = {paid - cost} dollars.",
            f"The answer is {paid - cost}.",
        ),
        str(paid - cost),
    )


def _trip(rng: random.Random) -> WordProblem:
    speed, hours, extra, back = rng.randint(40, 90), rng.randint(2, 5), rng.randint(10, 60), rng.randint(5, 40)
    first = speed * hours
    total = first + extra + back
    return WordProblem(
        f"A car drives at {speed} km per hour for {hours} hours, then {extra} km to a lake and {back} km to a hotel. "
        "How many km does it drive in total?",
        (
            f"In {hours} hours the car drives {speed} x {hours} = {first} km.",
            f"In total it drives {first} + {extra} + {back} = {total} km.",
            f"The answer is {total}.",
        ),
        str(total),
    )


def _sharing(rng: random.Random) -> WordProblem:
    friends, boxes = rng.randint(2, 6), rng.randint(2, 6)
    per_box = friends * rng.randint(2, 8)
    total = boxes * per_box
    return WordProblem(
        f"{friends} friends share {boxes} boxes of {per_box} candies equally. How many candies does each friend get?",
        (
            f"There are {boxes} x {per_box} = {total} candies.",
            f"Each friend gets {total} / {friends} = {total // friends} candies.",
            f"The answer is {total // friends}.",
        ),
        str(total // friends),
    )


def _ribbon(rng: random.Random) -> WordProblem:
    name = rng.choice(NAMES)
    metres, cut, pieces = rng.randint(2, 9), rng.randint(10, 90), rng.randint(2, 4)
    length = metres * 100
    left = length - cut * pieces
    return WordProblem(
        f"{name} has a ribbon {metres} metres long and cuts off {pieces} pieces of {cut} centimetres each. How many "
        "centimetres of ribbon are left?",
        (
            f"The ribbon is {metres} x 100 = {length} centimetres long.",
            f"The pieces use {pieces} x {cut} = {pieces * cut} centimetres.",
            f"What is left is {length} - {pieces * cut} = {left} centimetres.",
            f"The answer is {left}.",
        ),
        str(left),
    )


def _garden(rng: random.Random) -> WordProblem:
    rows, per_row, dead, new = rng.randint(3, 12), rng.randint(4, 15), rng.randint(1, 9), rng.randint(2, 20)
    planted = rows * per_row
    return WordProblem(
        f"A garden has {rows} rows of {per_row} tulips. {dead} tulips die and {new} new ones are planted. How many "
        "tulips are in the garden now?",
        (
            f"At first there are {rows} x {per_row} = {planted} tulips.",
            f"After some die, {planted} - {dead} = {planted - dead} tulips remain.",
            f"With the new ones there are {planted - dead} + {new} = {planted - dead + new} tulips.",
            f"The answer is {planted - dead + new}.",
        ),
        str(planted - dead + new),
    )


def _savings(rng: random.Random) -> WordProblem:
    name = rng.choice(NAMES)
    weekly, weeks, spent, days = rng.randint(5, 30), rng.randint(3, 10), rng.randint(5, 40), 7
    saved = weekly * weeks
    return WordProblem(
        f"{name} saves ${weekly} every week for {weeks} weeks, then spends ${spent} on a game. How much money does "
        f"{name} have left, and how many days did the saving take? Give the money.",
        (
            f"The saving took {weeks} x {days} = {weeks * days} days.",
            f"{name} saved {weekly} x {weeks} = {saved} dollars.",
            f"After the game, {saved} - {spent} = {saved - spent} dollars are left.",
            f"The answer is {saved - spent}.",
        ),
        str(saved - spent),
    )


TEMPLATES: tuple[Callable[[random.Random], WordProblem], ...] = (
    _bakery,
    _movie,
    _change,
    _trip,
    _sharing,
    _ribbon,
    _garden,
    _savings,
)


def word_problems(count: int, *, seed: int) -> list[WordProblem]:
    """`count` distinct problems, the templates taken in turn, numbers drawn from `seed`."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[WordProblem] = []
    attempts = 0
    while len(out) < count and attempts < count * 20:
        attempts += 1
        problem = TEMPLATES[len(out) % len(TEMPLATES)](rng)
        if problem.problem not in seen and int(problem.answer) >= 0:
            seen.add(problem.problem)
            out.append(problem)
    return out
