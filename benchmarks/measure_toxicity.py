"""Measure the toxicity kernel: accuracy on labelled tweets, identity-term bias, false drops
on legitimate sensitive text, obfuscation recall, and throughput on technical prose.

A plain keyword blocklist built from the same lexicon (whole words, no obfuscation handling,
no context rules) runs beside it, to show what the context rules buy.

    .venv/bin/python benchmarks/measure_toxicity.py

Prints markdown tables only: no record text (the datasets hold slurs).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pj

from curaline.kernels import toxicity as tox

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATA = SHARED / "data"
SAFE = tox.LEXICON_PATH.with_name("safe_usage.txt")
CONFIG = tox.ToxicityConfig()


def blocklist_pattern() -> str:
    """The naive peer: every lexicon term as a plain whole word (plus plural s)."""
    words = sorted({re.escape(e.term.strip("*")).replace(r"\ ", " ") for e in tox._lexicon()})
    return r"\b(?:" + "|".join(words) + r")s?\b"


def blocklist(texts: pa.ChunkedArray | pa.Array) -> np.ndarray:
    hits = pc.match_substring_regex(texts, blocklist_pattern(), ignore_case=True)
    return np.asarray(hits.fill_null(False), dtype=bool)


def run_kernel(texts: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(overall score, tagged-or-dropped, dropped) through the public entry function."""
    n = len(texts)
    table = pa.table({"doc_id": pa.array([str(i) for i in range(n)]), "text": texts})
    res = tox.score_toxicity(table, kind="document", config=CONFIG)
    score = res.table["toxicity"].to_numpy()
    return score, score >= CONFIG.tag_severity, ~res.keep


def prf(pred: np.ndarray, gold: np.ndarray) -> tuple[float, float, float]:
    tp = float((pred & gold).sum())
    p = tp / max(pred.sum(), 1)
    r = tp / max(gold.sum(), 1)
    return p, r, 2 * p * r / max(p + r, 1e-9)


def row(*cells: object) -> str:
    return "| " + " | ".join(f"{c:.3f}" if isinstance(c, float) else str(c) for c in cells) + " |"


def davidson() -> None:
    d = pcsv.read_csv(DATA / "davidson-hate-offensive" / "labeled_data.csv")
    cls = d["class"].to_numpy()  # 0 hate, 1 offensive, 2 neither (majority of >=3 votes)
    _, flag, drop = run_kernel(d["tweet"])
    base = blocklist(d["tweet"])
    print(
        f"\n## Davidson et al. 2017 tweets (n={len(cls)}; hate {np.sum(cls == 0)}, "
        f"offensive {np.sum(cls == 1)}, neither {np.sum(cls == 2)})\n"
    )
    print("| system | decision | vs gold | precision | recall | F1 |")
    print("|---|---|---|---:|---:|---:|")
    print(row("curaline", "flagged (tag or drop)", "offensive ∪ hate", *prf(flag, cls < 2)))
    print(row("curaline", "dropped", "hate", *prf(drop, cls == 0)))
    print(row("curaline", "dropped", "offensive ∪ hate", *prf(drop, cls < 2)))
    print(row("keyword blocklist", "any hit", "offensive ∪ hate", *prf(base, cls < 2)))
    print(row("keyword blocklist", "any hit", "hate", *prf(base, cls == 0)))
    print("\n| gold class | n | curaline flagged | curaline dropped | blocklist hit |")
    print("|---|---:|---:|---:|---:|")
    for c, name in enumerate(("hate", "offensive", "neither")):
        m = cls == c
        print(
            row(
                name,
                int(m.sum()),
                float(flag[m].mean()),
                float(drop[m].mean()),
                float(base[m].mean()),
            )
        )


def madlib_terms(texts: list[str], templates: list[str]) -> list[str]:
    """Identity term of each madlib, from the vocabulary of its 'Being X is Y.' sentences."""
    vocab = {
        m.group(1)
        for t, tp in zip(texts, templates, strict=True)
        if tp == "being_adj" and (m := re.match(r"being (.+) is \w+\.?$", t.lower()))
    }
    ordered = sorted(vocab, key=len, reverse=True)
    out = []
    for t, tp in zip(texts, templates, strict=True):
        low = t.lower().rstrip(".")
        if tp == "you_occupation":
            out.append("(occupation)")
            continue
        out.append(
            next(
                (v for v in ordered if re.search(rf"(?:^|\s){re.escape(v)}(?:\s|$)", low)), "(none)"
            )
        )
    return out


def madlibs() -> None:
    m = pcsv.read_csv(DATA / "wiki-toxicity-bias" / "bias_madlibs_77k.csv")
    texts = m["Text"].to_pylist()
    templates = m["Template"].to_pylist()
    bad = np.asarray(m["Label"].to_pylist()) == "BAD"
    _, flag, drop = run_kernel(m["Text"])
    base = blocklist(m["Text"])
    terms = np.asarray(madlib_terms(texts, templates))
    ok = ~bad
    print(f"\n## Identity madlibs (Dixon et al. 2018; n={len(bad)}, {int(ok.sum())} non-toxic)\n")
    print("| system | FPR flagged (non-toxic) | FPR dropped | TPR flagged (toxic) | TPR dropped |")
    print("|---|---:|---:|---:|---:|")
    print(
        row(
            "curaline",
            float(flag[ok].mean()),
            float(drop[ok].mean()),
            float(flag[bad].mean()),
            float(drop[bad].mean()),
        )
    )
    print(row("keyword blocklist", float(base[ok].mean()), "-", float(base[bad].mean()), "-"))
    tpl = np.asarray(templates)
    print("\n| template | n | FPR flagged | TPR flagged | TPR dropped |")
    print("|---|---:|---:|---:|---:|")
    for t in sorted(set(templates)):
        k = tpl == t
        print(
            row(
                t,
                int(k.sum()),
                float(flag[k & ok].mean()),
                float(flag[k & bad].mean()),
                float(drop[k & bad].mean()),
            )
        )
    ids = sorted(set(terms) - {"(occupation)"})
    fpr = {t: float(flag[(terms == t) & ok].mean()) for t in ids}
    tpr = {t: float(flag[(terms == t) & bad].mean()) for t in ids}
    bfpr = {t: float(base[(terms == t) & ok].mean()) for t in ids}
    print(
        f"\nPer identity term ({len(ids)} terms): FPR spread (max-min) curaline "
        f"{max(fpr.values()) - min(fpr.values()):.3f}, blocklist "
        f"{max(bfpr.values()) - min(bfpr.values()):.3f}; TPR spread curaline "
        f"{max(tpr.values()) - min(tpr.values()):.3f}\n"
    )
    print(
        "| identity term | n non-toxic | FPR flagged | FPR dropped | blocklist FPR | TPR flagged |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for t in ids:
        k = terms == t
        print(row(t, int((k & ok).sum()), fpr[t], float(drop[k & ok].mean()), bfpr[t], tpr[t]))


def wiki_comments() -> None:
    base_dir = DATA / "wiki-toxicity-bias"
    real = pcsv.read_csv(base_dir / "toxicity_nonfuzzed_testset.csv")
    fuzz = pcsv.read_csv(base_dir / "toxicity_fuzzed_testset.csv")
    gold = np.asarray(real["toxic"].to_pylist(), dtype=bool)
    _, flag, drop = run_kernel(real["comment"])
    fmap = dict(zip(fuzz["rev_id"].to_pylist(), range(fuzz.num_rows), strict=True))
    order = np.asarray([fmap[r] for r in real["rev_id"].to_pylist()])
    _, fflag, _ = run_kernel(fuzz["comment"].take(pa.array(order)))
    base = blocklist(real["comment"])
    print(
        f"\n## Wikipedia talk comments (n={len(gold)}, toxic {int(gold.sum())}) "
        "and their identity-swapped twins\n"
    )
    print("| system | decision | precision | recall | F1 |")
    print("|---|---|---:|---:|---:|")
    print(row("curaline", "flagged", *prf(flag, gold)))
    print(row("curaline", "dropped", *prf(drop, gold)))
    print(row("keyword blocklist", "any hit", *prf(base, gold)))
    print(
        f"\nFlag decision changed by swapping identity terms: "
        f"{int((flag != fflag).sum())} of {len(gold)} pairs"
    )


def safe_set() -> None:
    lines = [
        ln
        for ln in SAFE.read_text(encoding="utf-8").splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    arr = pa.array(lines)
    _, flag, drop = run_kernel(arr)
    base = blocklist(arr)
    print(
        f"\n## Crafted legitimate usage (medical, educational, technical, news, reclaimed; "
        f"n={len(lines)})\n"
    )
    print("| system | dropped | tagged/flagged |")
    print("|---|---:|---:|")
    print(row("curaline", int(drop.sum()), int(flag.sum())))
    print(row("keyword blocklist", int(base.sum()), int(base.sum())))


def obfuscations() -> None:
    """Obfuscated variants generated from the profanity/insult/slur lexicon at run time."""
    words = [
        e.term.strip("*")
        for e in tox._lexicon()
        if e.role in ("word", "target", "slur")
        and e.weight >= 0.4
        and " " not in e.term
        and len(e.term.strip("*")) >= 4
    ]
    leet = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "$"})

    def star(w: str) -> str:
        return w[0] + "*" * (len(w) - 2) + w[-1]

    def first_vowel_star(w: str) -> str:
        return re.sub(r"[aeiou]", "*", w, count=1)

    def leet_inner(w: str) -> str:
        return w[0] + w[1:-1].translate(leet) + w[-1]

    def stretch(w: str) -> str:
        return re.sub(r"([aeiou])", r"\1\1\1", w, count=1)

    def dotted(w: str) -> str:
        return ".".join(w)

    def zero_width(w: str) -> str:
        return w[:2] + "\u200b" + w[2:]

    def upper(w: str) -> str:
        return w.upper()

    print(
        f"\n## Obfuscation recall ({len(words)} lexicon words of weight >= 0.4, "
        "variants generated at run time)\n"
    )
    print("| variant | curaline flagged | blocklist hit |")
    print("|---|---:|---:|")
    variants: list[tuple[str, Callable[[str], str]]] = [
        ("plain", str),
        ("first vowel masked", first_vowel_star),
        ("all inner letters masked", star),
        ("leetspeak inside", leet_inner),
        ("stretched vowel", stretch),
        ("dotted", dotted),
        ("zero-width space", zero_width),
        ("upper case", upper),
    ]
    for name, fn in variants:
        arr = pa.array([f"what a {fn(w)} thing" for w in words])
        _, flag, _ = run_kernel(arr)
        print(row(name, float(flag.mean()), float(blocklist(arr).mean())))


def throughput() -> None:
    shards = sorted((SHARED / "bench" / "corpus-100k").glob("*.jsonl.gz"))[:2]
    print("\n## corpus-100k technical prose (2 shards), single process\n")
    print(
        "| shard | docs | MB text | read s | kernel s (best of 3) | docs/s | MB/s | "
        "dropped | tagged | blocklist hits |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    tot_docs = tot_s = 0.0
    cats: dict[str, int] = {}
    for shard in shards:
        t0 = time.perf_counter()
        raw = pj.read_json(shard)
        table = pa.table({"doc_id": raw["id"], "text": raw["text"]})
        read_s = time.perf_counter() - t0
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            res = tox.score_toxicity(table, kind="document", config=CONFIG)
            best = min(best, time.perf_counter() - t0)
        mb = pc.sum(pc.binary_length(table["text"])).as_py() / 1e6
        tagged = int(
            pc.sum(pc.greater(pc.list_value_length(res.table["toxicity_tags"]), 0)).as_py()
        )
        for c in res.table["toxicity_tags"].combine_chunks().flatten().to_pylist():
            cats[c] = cats.get(c, 0) + 1
        print(
            row(
                shard.name,
                table.num_rows,
                mb,
                read_s,
                best,
                table.num_rows / best,
                mb / best,
                int((~res.keep).sum()),
                tagged,
                int(blocklist(table["text"]).sum()),
            )
        )
        tot_docs += table.num_rows
        tot_s += best
    print(f"\nOverall {tot_docs / tot_s:,.0f} docs/s; tags by category: {cats or 'none'}")


def main() -> None:
    print("# curaline toxicity kernel: measurements")
    print(f"\nPolicy: tag_severity={CONFIG.tag_severity}, drop_severity={CONFIG.drop_severity}")
    davidson()
    madlibs()
    wiki_comments()
    safe_set()
    obfuscations()
    throughput()


if __name__ == "__main__":
    main()
