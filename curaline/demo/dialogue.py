"""Instruction and preference content: prompts with computed or templated answers.

Families with few slots (explanations, tips, rewrites, reviews) are used once each, so
the only duplicates among dialogue records are the ones the generator plants.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from curaline.demo import compose
from curaline.demo import textbank as tb
from curaline.demo import textbank_tasks as tt

Turn = tuple[str, str | None, str]  # prompt, context (or None), response

_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
_ITEMS = ["notebook", "pencil", "apple", "bus ticket", "candle", "tea towel", "postcard"]


def _email(rng: random.Random) -> Turn:
    person, sender = compose.invent_person(rng), rng.choice(tb.GIVEN_NAMES)
    d1, d2 = rng.sample(_DAYS, k=2)
    topic = rng.choice(["budget", "planning", "design review", "quarterly", "hiring"])
    prompt = rng.choice([
        f"Write a short email to {person} asking to move our {topic} meeting from {d1} to {d2}.",
        f"Draft a polite note to {person}: I need to reschedule {d1}'s {topic} meeting to {d2}.",
        f"Help me write an email to my colleague {person} about moving the {topic} call to {d2}.",
    ])
    first = person.split()[0]
    body = rng.choice([
        f"Would it be possible to move our {topic} meeting from {d1} to {d2}?",
        f"I am afraid {d1} no longer works for me. Could we meet on {d2} instead?",
        f"Something has come up on {d1}; would {d2} suit you for the {topic} discussion?",
    ])
    reason = rng.choice([
        f"I have to be in {compose.invent_place(rng)} for a site visit that day.",
        f"A deadline for the {rng.choice(tb.TRADES)} project has moved forward.",
        f"My train from {compose.invent_place(rng)} only arrives in the afternoon.",
        "",
    ])
    slot = rng.choice(["at 10 am", "after lunch", f"at {rng.randint(1, 4)} pm", "any time"])
    greeting = rng.choice(["Dear", "Hello", "Hi"])
    sign_off = rng.choice(["Best regards", "Thanks", "Kind regards"])
    response = (f"{greeting} {first},\n\n{body} {reason} I could do {slot}, if that works for "
                f"you.\n\n{sign_off},\n{sender}")
    return prompt, None, response.replace("  ", " ")


def _arithmetic(rng: random.Random) -> Turn:
    style = rng.randrange(3)
    if style == 0:
        n, p = rng.randint(2, 12), rng.randint(2, 40)
        note = next(x for x in (20, 50, 100, 200, 500, 1000) if x > n * p)
        item = rng.choice(_ITEMS)
        prompt = (f"I bought {n} {item}s at {p} crowns each and paid with a {note}-crown note. "
                  "How much change do I get?")
        cost = n * p
        return prompt, None, (f"{n} × {p} = {cost} crowns, so your change is {note} − {cost} = "
                              f"{note - cost} crowns.")
    if style == 1:
        total, k, tip = rng.randint(40, 400), rng.randint(2, 8), rng.choice([5, 10, 15, 20])
        share = round(total * (100 + tip) / 100 / k, 2)
        prompt = (f"We are {k} friends splitting a restaurant bill of {total} crowns and want to "
                  f"add a {tip}% tip. What does each of us pay?")
        return prompt, None, (f"With the tip the bill is {total} × {1 + tip / 100:g} = "
                              f"{total * (100 + tip) / 100:g} crowns; divided by {k}, each pays "
                              f"about {share:g} crowns.")
    d, h = rng.randint(2, 30), rng.randint(1, 23)
    prompt = f"How many minutes are there in {d} days and {h} hours?"
    hours = d * 24 + h
    return prompt, None, (f"{d} days and {h} hours are {hours} hours, and {hours} × 60 = "
                          f"{hours * 60:,} minutes.")


def _convert(rng: random.Random) -> Turn:
    style = rng.randrange(3)
    if style == 0:
        c = rng.randint(-40, 60)
        f = c * 9 / 5 + 32
        return (f"Convert {c} degrees Celsius to Fahrenheit.", None,
                f"{c} °C × 9/5 + 32 = {f:g} °F.")
    if style == 1:
        km = rng.randint(3, 2500)
        return (f"How many miles is {km} kilometres?", None,
                f"One kilometre is about 0.621 miles, so {km} km is roughly "
                f"{km * 0.621371:.1f} miles.")
    kg = rng.randint(2, 400)
    return (f"What is {kg} kg in pounds?", None,
            f"One kilogram is about 2.205 pounds, so {kg} kg is roughly {kg * 2.20462:.1f} lb.")


def _summary(rng: random.Random) -> Turn:
    title, text = compose.article(rng, rng.choice(sorted(tb.ENCYCLOPEDIA)))
    paragraph = text.split("\n\n")[2]
    first = paragraph.split(". ")[0].rstrip(".")
    prompt = rng.choice([
        "Summarize the following paragraph in one sentence.",
        "Give me a one-line summary of this text.",
        "What is the main point of the paragraph below?",
    ])
    return prompt, paragraph, f"The paragraph, from the article {title}, mainly says: {first}."


def _product(rng: random.Random) -> Turn:
    product = compose.invent_product(rng)
    colour, adj, n = rng.choice(tb.COLOURS), rng.choice(tb.ADJECTIVES), rng.randint(2, 9)
    prompt = f"Write a two-sentence product description for the {product} in {colour}."
    response = (f"Meet the {product}: a {adj} everyday companion in {colour} that is ready in "
                f"{n} minutes. It is built to last, easy to clean and covered by a {n}-year "
                "warranty.")
    return prompt, None, response


#: Slot-dense families: any number of records stay distinct.
OPEN_FAMILIES: dict[str, Callable[[random.Random], Turn]] = {
    "email": _email, "arithmetic": _arithmetic, "convert": _convert, "summary": _summary,
    "product": _product,
}


def fixed_turns() -> list[Turn]:
    """Every few-slot task once: explanations, tips, rewrites, sentiment."""
    turns: list[Turn] = [(f"Explain {t} to a ten-year-old.", None, a)
                         for t, a in tt.EXPLANATIONS.items()]
    turns += [(f"Give me three tips for {t}.", None,
               "\n".join(f"{i + 1}. {tip}" for i, tip in enumerate(tips)))
              for t, tips in tt.TIPS.items()]
    turns += [("Rewrite this message in a formal tone.", casual, formal)
              for casual, formal in tt.REWRITES]
    turns += [("Is this review positive or negative? Answer with one word.", review,
               label.capitalize() + ".") for review, label in tt.REVIEWS]
    return turns


def open_turn(rng: random.Random) -> Turn:
    return OPEN_FAMILIES[rng.choice(sorted(OPEN_FAMILIES))](rng)


def degrade(rng: random.Random, turn: Turn) -> str:
    """A worse answer to the same prompt: evasive, cut short, or off topic."""
    style = rng.randrange(3)
    if style == 0:
        return rng.choice(tt.UNHELPFUL)
    if style == 1:
        return truncate(turn[2])
    return open_turn(rng)[2]


def truncate(response: str) -> str:
    """Cut an answer mid-sentence, as a generator hitting its token limit does."""
    words = response.split(" ")
    cut = max(2, int(len(words) * 0.55))
    return " ".join(words[:cut]).rstrip(".,;:")
