"""The web-crawl source: ordinary pages in seven languages plus every defect a crawl has."""

from __future__ import annotations

import datetime as dt
import random
from functools import partial

from curaline.demo import compose, malformed, plant
from curaline.demo import textbank as tb
from curaline.demo import textbank_intl as intl
from curaline.demo.model import Distinct, Row, SourcePlan, assign_ids, order_pairs, scaled, split
from curaline.demo.sources import OWNER, Shared, contaminate, contamination_case

SID = "web-crawl"
DECLARED = ("en", "de", "fr", "es")
PERIOD = (dt.date(2024, 1, 8), dt.date(2024, 2, 23))
#: Pages per language at scale 1.0 (English makes up the rest); it/nl/pt are undeclared.
FOREIGN = {"de": 70, "fr": 60, "es": 60, "it": 8, "nl": 8, "pt": 8}


class _Pages:
    """Makes page records with a URL and fetch time inside the crawl period."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.count = 0
        self.guard = compose.PageGuard()

    def page(self, lang: str = "en") -> tuple[str, str]:
        return compose.web_page(self.rng, lang, self.guard)

    def row(self, text: str, title: str = "") -> Row:
        self.count += 1
        site = self.rng.choice(tb.WEBSITES)
        slug = "-".join(title.lower().split()[:6]) or "page"
        slug = "".join(ch for ch in slug if ch.isalnum() or ch == "-")
        seconds = self.rng.randint(0, (PERIOD[1] - PERIOD[0]).days * 86_400)
        fetched = dt.datetime.combine(PERIOD[0], dt.time()) + dt.timedelta(seconds=seconds)
        return Row(SID, record={
            "id": None,
            "url": f"https://www.{site}.example/{slug}-{self.count}",
            "fetched_at": fetched.isoformat() + "Z",
            "content": text,
        })

    def ordinary(self, lang: str = "en") -> Row:
        title, text = self.page(lang)
        row = self.row(text, title)
        if lang != "en":
            row.plant("language", lang=lang, declared=lang in DECLARED)
        return row


def _with_sentences(rng: random.Random, text: str, sentences: list[str]) -> str:
    paras = text.split("\n\n")
    for s in sentences:
        i = rng.randrange(1, len(paras)) if len(paras) > 1 else 0
        paras[i] = f"{paras[i]} {s}"
    return "\n\n".join(paras)


def _copies(rng: random.Random, pages: _Pages, scale: float, shared: Shared) -> list[Row]:
    """Exact and near copies of encyclopedia articles, forum posts and other pages."""
    rows = []
    articles = rng.sample(shared.articles, k=scaled(30, scale, 3))
    for n, (original, title, text) in enumerate(articles):
        if n % 3 == 0:
            rows.append(pages.row(text, title).plant("exact_dup", dup_of=original))
            continue
        edited = plant.perturb(rng, text, rng.uniform(0.01, 0.04))
        copy = plant.with_header_footer(rng, title, edited)
        rows.append(pages.row(copy, title).plant(
            "near_dup", dup_of=original, jaccard5=round(plant.jaccard(copy, text), 6)))
    for post in rng.sample(shared.forum_posts, k=scaled(8, scale)):
        rows.append(pages.row(post.data["body"], "forum").plant("exact_dup", dup_of=post))
    return rows


def _defects(rng: random.Random, pages: _Pages, scale: float, shared: Shared) -> list[Row]:
    rows = []
    pii_types = sorted(plant.PII_MAKERS)
    for i in range(scaled(30, scale, len(pii_types))):
        row = pages.ordinary()
        kinds = [pii_types[i % len(pii_types)], *rng.sample(pii_types, k=rng.randint(0, 2))]
        sentences = []
        for kind in dict.fromkeys(kinds):
            sentence, value = plant.pii_sentence(rng, kind)
            sentences.append(sentence)
            row.plant("pii", pii_type=kind, value=value)
        row.data["content"] = _with_sentences(rng, row.data["content"], sentences)
        rows.append(row)
    for _ in range(scaled(12, scale)):
        replies = [compose.Slots(rng).fill(rng.choice(tb.FORUM_REPLIES)) for _ in range(3)]
        line, category = plant.toxic_line(rng)
        replies.insert(rng.randrange(4), line)
        handles = rng.sample(tb.FORUM_HANDLES, k=4)
        title, text = pages.page()
        comments = "\n".join(f"{h}: {r}" for h, r in zip(handles, replies, strict=True))
        rows.append(pages.row(f"{text}\n\nComments\n{comments}", title).plant(
            "toxic", category=category))
    for topic, template in tb.SENSITIVE_LEGIT[: scaled(6, scale, 2)]:
        text = compose.Slots(rng).fill(template)
        rows.append(pages.row(text, text.split("\n")[0]).plant("sensitive_legit", topic=topic))
    junk = Distinct(0.5)
    for family in plant.LOW_QUALITY_FAMILIES:
        for _ in range(scaled(6, scale)):
            text = junk.draw(partial(plant.low_quality_page, rng, family), str)
            rows.append(pages.row(text, family).plant("low_quality", family=family))
    for n in range(scaled(10, scale, len(intl.MOJIBAKE_SOURCES))):
        lang, sentence = intl.MOJIBAKE_SOURCES[n % len(intl.MOJIBAKE_SOURCES)]
        title, text = pages.page(lang)
        row = pages.row(plant.mojibake(_with_sentences(rng, text, [sentence])), title)
        row.plant("mojibake", garbled=plant.mojibake(sentence), fixed=sentence)
        if lang != "en":
            row.plant("language", lang=lang, declared=lang in DECLARED)
        rows.append(row)
    for _ in range(scaled(8, scale)):
        title, text = pages.page()
        odd, chars = plant.odd_whitespace(rng, text)
        rows.append(pages.row(odd, title).plant("odd_whitespace", chars=chars))
    for n, (item_row, item) in enumerate(shared.take_eval(rng, scaled(6, scale, 2))):
        mode = "verbatim" if n % 3 != 2 else "edited"
        title, text = pages.page()
        page = f"Homework help: exam practice\n\n{contaminate(rng, item, mode)}\n\n{text}"
        row = pages.row(page, title)
        contamination_case(row, item_row, item, page, mode, "text")
        rows.append(row)
    return rows


def web_crawl(rng: random.Random, scale: float, shared: Shared) -> SourcePlan:
    pages = _Pages(rng)
    pages.guard = shared.page_guard  # web-archive's pages keep clear of these
    rows = _copies(rng, pages, scale, shared) + _defects(rng, pages, scale, shared)
    for lang, count in FOREIGN.items():
        rows += [pages.ordinary(lang) for _ in range(scaled(count, scale))]
    originals = [pages.ordinary() for _ in range(scaled(8, scale))]
    repeats = [pages.row(o.data["content"], "mirror").plant("exact_dup", dup_of=o)
               for o in originals]
    rows += originals + repeats
    total = scaled(993, scale, 150)
    rows += [pages.ordinary() for _ in range(max(0, total - len(rows)))]
    rng.shuffle(rows)
    order_pairs(rows, zip(originals, repeats, strict=True))
    bad = malformed.malformed_rows(
        rng, SID, lambda: dict(pages.ordinary().data), "content", "text")
    for row in bad:
        rows.insert(rng.randrange(len(rows) + 1), row)
    assign_ids(rows, "web", "id")
    manifest = {
        "id": SID,
        "description": "Pages from a focused crawl of hobby, travel and local-news sites.",
        "location": f"../corpus/{SID}/*.jsonl.gz",
        "format": "jsonl.gz",
        "kind": "document",
        "fields": {"id": "id", "text": "content", "url": "url"},
        "license": "ODC-By-1.0",
        "license_url": "https://opendatacommons.org/licenses/by/1-0/",
        "obtained": "web-crawl",
        "crawl": {
            "crawler": "curaline-demo-crawler/1.0",
            "user_agent": "curaline-demo-crawler/1.0 (+https://example.com/crawler)",
            "respects_robots_txt": True,
            "tdm_opt_out": "honoured",
            "period_start": PERIOD[0],
            "period_end": PERIOD[1],
        },
        "legal_basis": "EU DSM Directive Art. 4 text-and-data-mining exception; "
                       "GDPR Art. 6(1)(f) legitimate interest",
        "personal_data": "expected",
        "domain": "web",
        "languages": list(DECLARED),
        "owner": OWNER,
        "collected": dt.date(2024, 2, 26),
        "priority": 1,
    }
    files = {f"shard-{i:03d}.jsonl.gz": part for i, part in enumerate(split(rows, 3))}
    return SourcePlan(manifest, files)
