"""Plans of the dialogue sources: partner Q&A, synthetic instructions, preferences."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from curaline.demo import compose, dialogue, malformed, plant
from curaline.demo import textbank_intl as intl
from curaline.demo.model import Distinct, Row, SourcePlan, assign_ids, order_pairs, scaled
from curaline.demo.sources import OWNER, Shared, contaminate, contamination_case

# --- partner Q&A ----------------------------------------------------------------------------


def partner_qa(rng: random.Random, scale: float, shared: Shared) -> SourcePlan:
    sid = "partner-qa"
    rows = []
    distinct = Distinct(0.45)
    for i in range(scaled(300, scale, 30)):
        lang = "de" if i % 3 == 2 else "en"

        def make(lang: str = lang) -> tuple[str, str, str | None]:
            q, a, ctx = rng.choice(intl.PARTNER_QA[lang])
            frames = {k: rng.choice(v) for k, v in intl.PARTNER_FRAMES[lang].items()}
            if frames["ask_open"].endswith((",", "but", "aber")):
                q = q[0].lower() + q[1:]
            q = " ".join(x for x in (frames["ask_open"], q, frames["ask_close"]) if x)
            a = " ".join(x for x in (frames["answer_open"], a, frames["answer_close"]) if x)
            slots = compose.Slots(rng, lang=lang, product=compose.invent_product(rng))
            return slots.fill(q), slots.fill(a), slots.fill(ctx) if ctx else None

        q, a, ctx = distinct.draw(make, lambda t: f"{t[0]} {t[1]} {t[2] or ''}")
        row = Row(sid, record={"qid": None, "lang": lang, "question": q, "background": ctx,
                               "answer": a})
        if lang != "en":
            row.plant("language", lang=lang, declared=True)
        rows.append(row)
    for row in rng.sample([r for r in rows if r.data["lang"] == "en"], k=scaled(3, scale)):
        value = plant.email(rng)
        row.data["background"] = f"Customer wrote from {value}. " + (row.data["background"] or "")
        row.plant("pii", pii_type="email", value=value, column="context")
    assign_ids(rows, "pqa", "qid")
    manifest = {
        "id": sid,
        "description": "Customer-support questions and answers licensed from a partner.",
        "location": f"../corpus/{sid}/qa.parquet",
        "format": "parquet",
        "kind": "instruction",
        "fields": {"id": "qid", "prompt": "question", "context": "background",
                   "response": "answer"},
        "license": "LicenseRef-Partner-Data-Agreement",
        "license_url": "https://example.com/legal/partner-data-agreement-2024.pdf",
        "obtained": "licensed",
        "legal_basis": "Data licence agreement with the partner, signed 2024-01-10",
        "personal_data": "unknown",
        "domain": "qa",
        "languages": ["en", "de"],
        "owner": OWNER,
        "collected": dt.date(2024, 1, 10),
        "priority": 5,
    }
    return SourcePlan(manifest, {"qa.parquet": rows},
                      columns=["qid", "lang", "question", "background", "answer"])


# --- synthetic instructions -------------------------------------------------------------------


def synthetic_instruct(rng: random.Random, scale: float, shared: Shared) -> SourcePlan:
    sid = "synthetic-instruct"
    distinct = shared.dialogue

    def row_of(prompt: str, context: str | None, response: str) -> Row:
        return Row(sid, record={"id": None, "instruction": prompt, "input": context or "",
                                "output": response})

    def fresh() -> dialogue.Turn:
        turn: dialogue.Turn = distinct.draw(lambda: dialogue.open_turn(rng),
                                            lambda t: " ".join(x or "" for x in t))
        return turn

    rows = [row_of(*t) for t in dialogue.fixed_turns()]
    for _ in range(scaled(8, scale)):
        prompt, ctx, _ = fresh()
        response = rng.choice(dialogue.tt.TRIVIAL_RESPONSES)
        rows.append(row_of(prompt, ctx, response).plant("trivial_response", response=response))
    for _ in range(scaled(5, scale)):
        prompt, ctx, _ = fresh()
        rows.append(row_of(prompt, ctx, prompt).plant("echo_response"))
    for _ in range(scaled(8, scale)):
        prompt, ctx, response = fresh()
        while len(response.split()) < 12:
            prompt, ctx, response = fresh()
        rows.append(row_of(prompt, ctx, dialogue.truncate(response)).plant("truncated_response"))
    picked = shared.take_eval(rng, scaled(6, scale, 2))
    for n, (item_row, item) in enumerate(picked):
        mode = "verbatim" if n % 3 != 2 else "edited"
        prompt = "Answer the following exam question.\n\n" + contaminate(rng, item, mode)
        row = row_of(prompt, None, f"The correct answer is {item.answer}.")
        contamination_case(row, item_row, item, prompt, mode, "prompt")
        rows.append(row)
    while len(rows) < scaled(300, scale, 60):
        rows.append(row_of(*fresh()))
    rng.shuffle(rows)
    assign_ids(rows, "syn", "id")
    manifest = {
        "id": sid,
        "description": "Instruction/response pairs generated by a large language model.",
        "location": f"../corpus/{sid}/instructions.json",
        "format": "json",
        "kind": "instruction",
        "fields": {"id": "id", "prompt": "instruction", "context": "input",
                   "response": "output"},
        "license": "Apache-2.0",
        "license_url": "https://www.apache.org/licenses/LICENSE-2.0",
        "obtained": "synthetic",
        "synthetic": {"generator": "gpt-4o-mini-2024-07-18",
                      "terms_url": "https://openai.com/policies/row-terms-of-use/"},
        "personal_data": "none",
        "domain": "dialogue",
        "languages": ["en"],
        "owner": OWNER,
        "collected": dt.date(2024, 3, 5),
        "priority": 1,
    }
    return SourcePlan(manifest, {"instructions.json": rows})


# --- preferences ------------------------------------------------------------------------------


def preferences(rng: random.Random, scale: float, shared: Shared) -> SourcePlan:
    sid = "preferences"
    distinct = shared.dialogue

    def pair() -> tuple[str, str, str]:
        def make() -> tuple[str, str, str]:
            turn = dialogue.open_turn(rng)
            prompt = turn[0] if turn[1] is None else f"{turn[0]}\n\n{turn[1]}"
            return prompt, turn[2], dialogue.degrade(rng, turn)

        # Guard prompt + chosen: planted rows replace the rejected side afterwards.
        result: tuple[str, str, str] = distinct.draw(make, lambda t: f"{t[0]} {t[1]}")
        return result

    def row_of(prompt: Any, chosen: Any, rejected: Any) -> Row:
        return Row(sid, record={"id": None, "prompt": prompt, "chosen": chosen,
                                "rejected": rejected})

    rows, pairs = [], []
    for _ in range(scaled(4, scale)):
        prompt, chosen, _ = pair()
        rows.append(row_of(prompt, chosen, chosen).plant("identical_pair"))
    prompt, chosen, rejected = pair()
    first, second = row_of(prompt, chosen, rejected), row_of(prompt, rejected, chosen)
    second.plant("contradicting_pair", pair_of=first)
    rows += [first, second]
    pairs.append((first, second))
    for _ in range(scaled(8, scale)):
        prompt, chosen, _ = pair()
        line, category = plant.toxic_line(rng, rng.choice(["insult", "insult", "threat"]))
        rows.append(row_of(prompt, chosen, f"What a stupid question. {line}").plant(
            "toxic", category=category, column="rejected"))
    for n, (item_row, item) in enumerate(shared.take_eval(rng, scaled(3, scale))):
        mode = "verbatim" if n % 2 == 0 else "edited"
        prompt = contaminate(rng, item, mode)
        row = row_of(prompt, f"The answer is {item.answer}.", rng.choice(dialogue.tt.UNHELPFUL))
        contamination_case(row, item_row, item, prompt, mode, "prompt")
        rows.append(row)
    while len(rows) < scaled(243, scale, 40):
        rows.append(row_of(*pair()))
    rng.shuffle(rows)
    order_pairs(rows, pairs)
    spots = sorted(rng.sample(range(len(rows) + 1), k=7))
    bad = malformed.malformed_rows(rng, sid, lambda: {"id": None, **dict(zip(
        ("prompt", "chosen", "rejected"), pair(), strict=True))}, "chosen", "chosen")
    for offset, (spot, row) in enumerate(zip(spots, bad, strict=True)):
        rows.insert(spot + offset, row)
    assign_ids(rows, "pref", "id")
    manifest = {
        "id": sid,
        "description": "Pairwise human preferences between two answers to the same prompt.",
        "location": f"../corpus/{sid}/pairs.jsonl",
        "format": "jsonl",
        "kind": "preference",
        "fields": {"id": "id", "prompt": "prompt", "chosen": "chosen", "rejected": "rejected"},
        "license": "MIT",
        "license_url": "https://opensource.org/license/mit",
        "obtained": "public-dataset",
        "personal_data": "none",
        "domain": "dialogue",
        "languages": ["en"],
        "owner": OWNER,
        "collected": dt.date(2024, 2, 12),
        "priority": 2,
    }
    return SourcePlan(manifest, {"pairs.jsonl": rows})
