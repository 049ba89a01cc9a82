"""Build curaline/kernels/langid_kin.json: the word-level naive Bayes of the close-kin resolver.

    PYTHONPATH=. .venv/bin/python benchmarks/build_langid_kin.py [--write] [--out PATH]

Training data: the Lingua sentences (../shared/data/lingua-langid-75lang, 1,000 web
sentences per language from the Leipzig corpora; lingua-py repository Apache-2.0, Leipzig
downloads CC BY 4.0), the langid stage's tuning set. UDHR, the held-out set, is not read.

Per pair: multinomial naive Bayes over lowercased ``\\w+`` words (numbers left out), add-0.5 smoothing, equal
priors; words seen fewer than MIN_COUNT times in the pair's sentences are left out (they
cannot be estimated, and they make the file large). The script prints 5-fold
cross-validated accuracy per language (sentences shuffled with a fixed seed) before it
fits on all sentences.

Candidates measured (benchmarks/RESULTS_langid.md): af/nl ships. Two do not:
- id/ms: 5-fold accuracy id 0.90 / ms 0.76 at equal priors, and on UDHR's Latin-script
  Malay it calls three lines in four Indonesian;
- sr/hr in Latin script (ELD calls Latin-script Serbian Croatian), trained on the Lingua
  Serbian sentences transliterated from Cyrillic: 5-fold sr 0.79 / hr 0.80, and on UDHR it
  finds 0.48 of Latin Serbian while losing 0.19 of Croatian; a margin that keeps Croatian
  (>= 0.95) finds 0.27.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from curaline.kernels import langid_kin  # noqa: E402

SENTENCES = REPO.parent / "shared" / "data" / "lingua-langid-75lang"
PAIRS = (("af", "nl"),)
MIN_COUNT = 2
FOLDS = 5


def sentences(code: str) -> list[str]:
    return [s for s in (SENTENCES / f"{code}.txt").read_text(encoding="utf-8").splitlines() if s.strip()]


def fit(first: list[str], second: list[str]) -> dict:
    counts = [Counter(w for s in sents for w in langid_kin.words(s)) for sents in (first, second)]
    vocab = sorted(w for w in set(counts[0]) | set(counts[1]) if counts[0][w] + counts[1][w] >= MIN_COUNT)
    totals = [sum(c[w] for w in vocab) for c in counts]
    size = len(vocab)

    def logp(k: int, w: str) -> float:
        return math.log((counts[k][w] + 0.5) / (totals[k] + 0.5 * size))

    return {"bias": 0.0, "log_ratio": {w: round(logp(0, w) - logp(1, w), 5) for w in vocab}}


def cross_validate(pair: tuple[str, str]) -> dict[str, float]:
    data = {code: sentences(code) for code in pair}
    rng = random.Random(0)
    for sents in data.values():
        rng.shuffle(sents)
    right = Counter()
    for fold in range(FOLDS):
        train = {c: [s for i, s in enumerate(v) if i % FOLDS != fold] for c, v in data.items()}
        spec = fit(train[pair[0]], train[pair[1]])
        model = langid_kin.KinPair(pair[0], pair[1], spec["bias"], spec["log_ratio"])
        for code, sents in data.items():
            for i, s in enumerate(sents):
                if i % FOLDS == fold:
                    score, _ = langid_kin.log_odds(model, s)
                    right[code] += (pair[0] if score >= 0 else pair[1]) == code
    return {code: right[code] / len(data[code]) for code in pair}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"write {langid_kin.MODEL_PATH}")
    ap.add_argument("--out", type=Path, help="write here instead")
    args = ap.parse_args()
    if not SENTENCES.is_dir():
        sys.exit(f"needs the Lingua sentences at {SENTENCES}")
    pairs = []
    for pair in PAIRS:
        cv = cross_validate(pair)
        print(f"{pair[0]}/{pair[1]}: {FOLDS}-fold accuracy " + ", ".join(f"{c} {a:.3f}" for c, a in cv.items()))
        spec = fit(sentences(pair[0]), sentences(pair[1]))
        print(f"  {len(spec['log_ratio'])} words")
        pairs.append({"languages": list(pair), **spec, "cross_validated_accuracy": {c: round(a, 4) for c, a in cv.items()}})
    doc = {
        "about": "curaline close-kin language resolver: word-level naive Bayes per pair, built by "
                 "benchmarks/build_langid_kin.py",
        "trained_on": "Lingua language-detection sentences (pemistahl/lingua-py@754ce211, Apache-2.0 repository), "
                      "drawn from the Leipzig Wortschatz corpora (CC BY 4.0, Leipzig University)",
        "pairs": pairs,
    }  # fmt: skip
    out = args.out or (langid_kin.MODEL_PATH if args.write else None)
    if out is not None:
        out.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
        print(f"wrote {out} ({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
