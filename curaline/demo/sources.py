"""Plans of the document and evaluation sources.

The web crawl lives in webcrawl.py, the dialogue sources in sources_dialogue.py.

Each builder returns a SourcePlan: the manifest as a dict and the rows per file, with
the planted cases attached to the rows that carry them.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from curaline.demo import compose, evalset, plant
from curaline.demo import textbank as tb
from curaline.demo.model import Distinct, Row, SourcePlan, assign_ids, order_pairs, scaled

OWNER = "data-team@example.com"


@dataclass
class Shared:
    """Records later sources copy from: articles, exam items, forum posts."""

    articles: list[tuple[Row, str, str]] = field(default_factory=list)  # row, title, text
    eval_items: list[tuple[Row, evalset.EvalItem]] = field(default_factory=list)
    forum_posts: list[Row] = field(default_factory=list)
    #: One guard for all dialogue sources: a prompt in two sources is a cross-source dup.
    dialogue: Distinct = field(default_factory=lambda: Distinct(0.45))
    _leaked: set[int] = field(default_factory=set)

    def take_eval(self, rng: random.Random, k: int) -> list[tuple[Row, evalset.EvalItem]]:
        """Exam items to leak, never the same item twice (two leaks would be duplicates)."""
        free = [i for i in range(len(self.eval_items)) if i not in self._leaked]
        picked = rng.sample(free, k=k)
        self._leaked.update(picked)
        return [self.eval_items[i] for i in picked]


def contaminate(rng: random.Random, item: evalset.EvalItem, mode: str) -> str:
    """The item as it leaks into training data: verbatim, or lightly reworded."""
    if mode == "verbatim":
        return item.text
    words = item.question.split(" ")
    words[-1] = words[-1].rstrip("?") + ", please?"
    words[0] = words[0].lower()
    return " ".join(words).replace("kilometres", "km") + "\n" + item.choices.replace("   ", "\n")


def contamination_case(row: Row, item_row: Row, item: evalset.EvalItem, text: str,
                       mode: str, column: str) -> None:
    shared = plant.shared_ngrams(item.text, text)
    if shared == 0:
        raise AssertionError("a contaminated record must share a 13-gram with its eval item")
    row.plant("contaminated", eval_doc_id=item_row, mode=mode, column=column,
              shared_13grams=shared)


# --- encyclopedia -------------------------------------------------------------------------


def encyclopedia(rng: random.Random, scale: float, shared: Shared) -> SourcePlan:
    sid = "encyclopedia"
    types = sorted(tb.ENCYCLOPEDIA)
    rows = []
    for i in range(scaled(600, scale, 40)):
        title, text = compose.article(rng, types[i % len(types)])
        row = Row(sid, record={"id": None, "title": title, "text": text,
                               "url": f"https://wiki.example.org/{title.replace(' ', '_')}"})
        rows.append(row)
        shared.articles.append((row, title, text))
    assign_ids(rows, "enc", "id")
    manifest = {
        "id": sid,
        "description": "Invented encyclopedia articles: clean, multi-paragraph reference text.",
        "location": f"../corpus/{sid}/articles.jsonl",
        "format": "jsonl",
        "kind": "document",
        "fields": {"id": "id", "text": "text"},
        "license": "CC-BY-SA-4.0",
        "license_url": "https://creativecommons.org/licenses/by-sa/4.0/",
        "obtained": "public-dataset",
        "personal_data": "none",
        "domain": "encyclopedia",
        "languages": ["en"],
        "owner": OWNER,
        "collected": dt.date(2024, 1, 15),
        "priority": 3,
    }
    return SourcePlan(manifest, {"articles.jsonl": rows})


# --- evaluation benchmark -----------------------------------------------------------------


def eval_benchmark(rng: random.Random, scale: float, shared: Shared) -> SourcePlan:
    sid = "eval-benchmark"
    rows = []
    for item in evalset.eval_items(rng, scaled(100, scale, 30)):
        row = Row(sid, record={"id": None, "subject": item.subject, "question": item.question,
                               "choices": item.choices, "answer": item.answer})
        rows.append(row)
        shared.eval_items.append((row, item))
    assign_ids(rows, "exam", "id", width=4)
    manifest = {
        "id": sid,
        "description": "Held-out exam questions; training data must not contain them.",
        "location": f"../corpus/{sid}/exam.jsonl",
        "format": "jsonl",
        "kind": "evaluation",
        "fields": {"id": "id", "text": ["question", "choices"], "answer": "answer"},
        "license": "MIT",
        "license_url": "https://opensource.org/license/mit",
        "obtained": "public-dataset",
        "personal_data": "none",
        "domain": "qa",
        "languages": ["en"],
        "owner": OWNER,
        "collected": dt.date(2024, 2, 1),
        "priority": 10,
    }
    return SourcePlan(manifest, {"exam.jsonl": rows})


# --- forum ------------------------------------------------------------------------------


def forum(rng: random.Random, scale: float, shared: Shared) -> SourcePlan:
    sid = "forum"
    topics = sorted(tb.FORUM_TOPICS)
    distinct = Distinct(0.35)

    def post(body: str, topic: str) -> Row:
        thread = f"t-{topics.index(topic) + 1}{rng.randint(100, 999)}"
        when = dt.datetime(2023, 1, 1) + dt.timedelta(minutes=rng.randint(0, 525_000))
        author = rng.choice(tb.FORUM_HANDLES) + str(rng.randint(1, 999))
        return Row(sid, record={"post_id": None, "thread_id": thread, "author": author,
                                "posted_at": when.isoformat(timespec="minutes"), "body": body})

    def normal() -> Row:
        topic = rng.choice(topics)
        return post(distinct.draw(lambda: compose.forum_post(rng, topic), str), topic)

    rows, pairs = [], []
    for _ in range(scaled(20, scale)):
        line, category = plant.toxic_line(rng)
        row = normal()
        row.data["body"] += " " + line
        rows.append(row.plant("toxic", category=category))
    for i in range(scaled(15, scale)):
        pii_type = ("email", "phone")[i % 2]
        sentence, value = plant.pii_sentence(rng, pii_type)
        row = normal()
        row.data["body"] += " " + sentence
        rows.append(row.plant("pii", pii_type=pii_type, value=value))
    for _ in range(scaled(6, scale)):
        original = normal()
        copy = post(original.data["body"], rng.choice(topics))
        rows += [original, copy.plant("exact_dup", dup_of=original)]
        pairs.append((original, copy))
    while len(rows) < scaled(400, scale, 60):
        row = normal()
        rows.append(row)
        shared.forum_posts.append(row)
    rng.shuffle(rows)
    order_pairs(rows, pairs)
    assign_ids(rows, "post", "post_id")
    manifest = {
        "id": sid,
        "description": "Posts from a hobby forum; usernames and some contact details included.",
        "location": f"../corpus/{sid}/posts.csv",
        "format": "csv",
        "kind": "document",
        "fields": {"id": "post_id", "text": "body"},
        "license": "CC-BY-NC-4.0",
        "license_url": "https://creativecommons.org/licenses/by-nc/4.0/",
        "obtained": "public-dataset",
        "legal_basis": "GDPR Art. 6(1)(f) legitimate interest; posts were public",
        "personal_data": "expected",
        "domain": "forum",
        "languages": ["en"],
        "owner": OWNER,
        "collected": dt.date(2024, 2, 20),
        "priority": 2,
    }
    columns = ["post_id", "thread_id", "author", "posted_at", "body"]
    return SourcePlan(manifest, {"posts.csv": rows}, columns=columns)


# --- technical docs ---------------------------------------------------------------------------


def docs_text(rng: random.Random, scale: float, shared: Shared) -> SourcePlan:
    """One .txt per page; one page is Latin-1, not UTF-8, and one is an old near copy."""
    sid = "docs-text"
    pages: dict[str, str] = {f"cmd-{c}.txt": compose.command_page(rng, c) for c in tb.DOC_COMMANDS}
    pages["config.txt"] = compose.config_page()
    pages["faq.txt"] = compose.faq_page(rng)
    for cmd in ("verify", "sync"):
        pages[f"example-{cmd}-hook.txt"] = compose.hook_script(rng, cmd)
    n_files = scaled(40, scale, 16)
    versions = sorted({(rng.randint(0, 3), rng.randint(0, 29)) for _ in range(4 * n_files)})
    for major, minor in versions[: n_files - len(pages) - 2]:
        pages[f"changes-{major}.{minor:02d}.txt"] = compose.changelog_page(rng, f"{major}.{minor}")
    files: dict[str, list[Row]] = {
        name: [Row(sid, record={"text": text}, name=name)] for name, text in pages.items()}
    old = plant.perturb(rng, pages["cmd-sync.txt"], 0.03)
    legacy = Row(sid, record={"text": old}, name="legacy-cmd-sync.txt")
    legacy.plant("near_dup", dup_of=files["cmd-sync.txt"][0],
                 jaccard5=round(plant.jaccard(old, pages["cmd-sync.txt"]), 6))
    files["legacy-cmd-sync.txt"] = [legacy]
    # junk saved among the docs: what The Stack / StarCoder's file rules exist to catch
    for name, text, reason in (("bundle.min.txt", compose.minified_bundle(rng), "code_minified"),
                               ("api-stub.generated.txt", compose.generated_stub(rng), "code_autogenerated"),
                               ("bench-results.txt", compose.data_dump(rng), "code_data_file")):
        files[name] = [Row(sid, record={"text": text}, name=name).plant("code_junk", reason=reason)]
    latin = ("Notes from the Z\u00fcrich workshop\n\nRen\u00e9 showed how the caf\u00e9 "
             "kiosk syncs its price lists with tessel every night.\n")
    files["workshop-notes.txt"] = [
        Row(sid, raw=latin.encode("latin-1"), name="workshop-notes.txt").plant(
            "undecodable_bytes", encoding="latin-1")]
    manifest = {
        "id": sid,
        "description": "Plain-text documentation of the tessel command-line tool.",
        "location": f"../corpus/{sid}/*.txt",
        "format": "text",
        "kind": "document",
        "license": "Apache-2.0",
        "license_url": "https://www.apache.org/licenses/LICENSE-2.0",
        "obtained": "public-dataset",
        "personal_data": "none",
        "domain": "code",
        "languages": ["en"],
        "owner": OWNER,
        "collected": dt.date(2024, 1, 30),
        "priority": 3,
        # docs and scripts: StarCoder-style code rules instead of the web-prose rules
        "profile": "code",
    }
    return SourcePlan(manifest, dict(sorted(files.items())))
