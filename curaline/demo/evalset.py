"""The invented exam: multiple-choice questions whose answers are computed, not guessed."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from curaline.demo import compose
from curaline.demo import textbank as tb
from curaline.demo import textbank_tasks as tt


@dataclass(frozen=True)
class EvalItem:
    subject: str
    question: str
    choices: str
    answer: str

    @property
    def text(self) -> str:
        """The record text ingestion builds from the manifest's `text: [question, choices]`."""
        return f"{self.question}\n{self.choices}"


Solved = tuple[dict[str, object], str, list[str]]  # slot values, answer, wrong answers


def _barge(rng: random.Random) -> Solved:
    v, h = rng.choice([6, 8, 10, 12, 15, 16, 18, 20]), rng.randint(2, 9)
    wrong = [h + 1, h + 2, h - 1 if h > 2 else h + 3]
    return {"v": v, "d": v * h, "vessel": rng.choice(tt.VESSELS)}, f"{h} hours", [
        f"{w} hours" for w in wrong]


def _census(rng: random.Random) -> Solved:
    n, pct = rng.randint(12, 90) * 100, rng.choice([5, 10, 15, 20, 25, 30, 40, 50])
    ans = n * (100 + pct) // 100
    wrong = [n + pct, n * (100 - pct) // 100, ans + n // 10]
    return {"n": f"{n:,}", "pct": pct, "year": rng.randint(1890, 1990)}, f"{ans:,}", [
        f"{w:,}" for w in wrong]


def _heat(rng: random.Random) -> Solved:
    m, t1 = rng.randint(2, 30) * 10, rng.randint(10, 30)
    t2 = t1 + rng.randint(10, 60)
    energy = 42 * (m // 10) * (t2 - t1)
    wrong = [m * (t2 - t1), 42 * (m // 10) * t2, energy * 10]
    values = {"m": m, "t1": t1, "t2": t2, "vessel2": rng.choice(tt.CONTAINERS)}
    return values, f"{energy:,} J", [f"{w:,} J" for w in wrong]


def _fence(rng: random.Random) -> Solved:
    a, b, g = rng.randint(8, 40), rng.randint(8, 40), rng.randint(1, 4)
    ans = 2 * (a + b) - g
    return {"a": a, "b": b, "g": g}, f"{ans} m", [f"{w} m" for w in (ans + g, a * b, ans + 2 * g)]


def _marbles(rng: random.Random) -> Solved:
    r, g, b = rng.randint(2, 12), rng.randint(2, 12), rng.randint(2, 12)
    total = r + g + b
    ans = Fraction(r + b, total)
    wrong = [Fraction(g, total), Fraction(r, total), Fraction(r + b, total + 1)]
    return {"r": r, "g": g, "b": b}, str(ans), [str(w) for w in wrong]


def _interest(rng: random.Random) -> Solved:
    amount, r, n = rng.randint(2, 50) * 100, rng.randint(2, 8), rng.randint(2, 10)
    ans = amount * r * n // 100
    wrong = [amount * r // 100, amount + ans, round(amount * ((1 + r / 100) ** n - 1)) + 1]
    return {"amount": f"{amount:,}", "r": r, "n": n}, f"{ans:,} crowns", [
        f"{w:,} crowns" for w in wrong]


def _mean(rng: random.Random) -> Solved:
    mu = rng.randint(5, 30)
    while True:
        dev = [rng.randint(-5, 5) for _ in range(4)]
        if abs(sum(dev)) <= 6:
            break
    temps = [mu + d for d in [*dev, -sum(dev)]]
    values: dict[str, object] = {f"t{i + 1}": t for i, t in enumerate(temps)}
    values["month"] = rng.choice(tb.MONTHS)
    return values, f"{mu} °C", [f"{w} °C" for w in (mu + 1, mu - 1, max(temps))]


def _ages(rng: random.Random) -> Solved:
    names = rng.sample(tb.GIVEN_NAMES, k=5)
    values: dict[str, object] = dict(zip("abcde", names, strict=True))
    return values, names[2], [names[0], names[3], names[4]]


def _flour(rng: random.Random) -> Solved:
    per, k = rng.randint(3, 9) * 50, rng.randint(2, 12)
    k2 = rng.choice([x for x in range(2, 31) if x != k])
    ans = per * k2
    values = {"f": per * k, "k": k, "k2": k2, "crop": rng.choice(tb.CROPS),
              "month": rng.choice(tb.MONTHS)}
    return values, f"{ans:,} g", [f"{w:,} g" for w in (per * k * k2, per * k + k2, per * (k2 + 1))]


def _tank(rng: random.Random) -> Solved:
    r2 = rng.randint(1, 9)
    r1, t = r2 + rng.randint(2, 15), rng.randint(5, 60)
    v = (r1 - r2) * t
    wrong = [round(v / r1) if round(v / r1) != t else t + 7, t + 5, 2 * t]
    return {"v": f"{v:,}", "r1": r1, "r2": r2}, f"{t} minutes", [f"{w} minutes" for w in wrong]


def _map(rng: random.Random) -> Solved:
    s, c = rng.choice([25_000, 50_000, 100_000, 200_000]), rng.randint(2, 30)
    km = Fraction(c * s, 100_000)

    def fmt(x: Fraction) -> str:
        return f"{float(x):g} km"

    return {"s": f"{s:,}", "c": c}, fmt(km), [fmt(km * 10), fmt(km / 10), fmt(km + 1)]


_SOLVERS: dict[str, Callable[[random.Random], Solved]] = {
    "barge": _barge, "census": _census, "heat": _heat, "fence": _fence,
    "marbles": _marbles, "interest": _interest, "mean": _mean, "ages": _ages,
    "flour": _flour, "tank": _tank, "map": _map,
}


def eval_items(rng: random.Random, n: int) -> list[EvalItem]:
    """n distinct exam items, cycling through the templates."""
    keys = sorted(tt.EVAL_TEMPLATES)
    items: list[EvalItem] = []
    seen: set[str] = set()
    i = 0
    while len(items) < n:
        key = keys[i % len(keys)]
        i += 1
        subject, template = tt.EVAL_TEMPLATES[key]
        values, answer, wrong = _SOLVERS[key](rng)
        facts = {"place": compose.invent_place(rng), "place2": compose.invent_place(rng),
                 "person": compose.invent_person(rng), "region": compose.invent_region(rng),
                 "building": rng.choice(tb.BUILDINGS)}
        question = compose.Slots(rng, **facts, **{k: str(v) for k, v in values.items()}).fill(
            template)
        options = list(dict.fromkeys([answer, *wrong]))[:4]
        if question in seen or len(options) < 4:
            continue
        seen.add(question)
        rng.shuffle(options)
        letter = "ABCD"[options.index(answer)]
        choices = "   ".join(f"{'ABCD'[j]}) {o}" for j, o in enumerate(options))
        items.append(EvalItem(subject, question, choices, f"{letter}) {answer}"))
    return items
