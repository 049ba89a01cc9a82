"""Turn the hand-written banks into documents: articles, web pages, posts, docs pages.

Every function takes the caller's `random.Random`, so a seed fixes every byte.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from curaline.demo import textbank as tb
from curaline.demo import textbank_intl as intl

_ORDINALS = ["second", "third", "fourth", "fifth", "sixth"]


def invent_core(rng: random.Random) -> str:
    return rng.choice(tb.NAME_ONSETS) + rng.choice(tb.NAME_MIDDLES)


def invent_place(rng: random.Random) -> str:
    return invent_core(rng) + rng.choice(tb.PLACE_ENDINGS)


def invent_surname(rng: random.Random) -> str:
    return invent_core(rng) + rng.choice(tb.SURNAME_ENDINGS)


def invent_person(rng: random.Random) -> str:
    return f"{rng.choice(tb.GIVEN_NAMES)} {invent_surname(rng)}"


def invent_region(rng: random.Random) -> str:
    return invent_core(rng).rstrip("aeiou") + rng.choice(["shire", "land", "ia", "mark"])


def invent_river(rng: random.Random) -> str:
    return invent_core(rng) + rng.choice(["a", "el", "ine", "e", "ow", "is"])


def invent_mountain(rng: random.Random) -> str:
    return f"{invent_core(rng)}{rng.choice(['berg', 'fell', 'horn'])} " + rng.choice(
        ["Hills", "range", "massif", "uplands"]
    )


def invent_institution(rng: random.Random) -> str:
    place = invent_place(rng)
    return rng.choice(
        [f"the University of {place}", f"the {place} Academy of Sciences",
         f"the {place} Institute of Technology", f"the Natural History Society of {place}"]
    )


def invent_product(rng: random.Random) -> str:
    model = rng.choice(tb.PRODUCT_MODELS) + str(rng.randint(2, 9) * rng.choice([1, 10, 100]))
    return f"{rng.choice(tb.PRODUCT_BRANDS)} {model} {rng.choice(tb.PRODUCT_KINDS)}"


def _choice(pool: list[str]) -> Callable[[Slots], str]:
    return lambda s: s.rng.choice(pool)


def _year(s: Slots) -> str:
    lo, hi = int(dict.get(s, "y_lo", 1480)), int(dict.get(s, "y_hi", 2022))
    s.last_year = s.rng.randint(lo, hi)
    return str(s.last_year)


def _year2(s: Slots) -> str:
    """A year after the last one drawn in the sentence, so "between X and Y" reads right."""
    return str(min(2023, s.last_year + s.rng.randint(2, 40)))


def _m2(s: Slots) -> str:
    return str(s.last_m + s.rng.randint(100, 900))


def _m(s: Slots) -> str:
    s.last_m = s.rng.randint(150, 2400)
    return str(s.last_m)


#: Slots drawn afresh on every use; document-level facts override them.
_DRAWS: dict[str, Callable[[Slots], str]] = {
    "place": lambda s: invent_place(s.rng),
    "place2": lambda s: invent_place(s.rng),
    "person": lambda s: invent_person(s.rng),
    "founder": lambda s: invent_person(s.rng),
    "region": lambda s: invent_region(s.rng),
    "river": lambda s: invent_river(s.rng),
    "mountain": lambda s: invent_mountain(s.rng),
    "institution": lambda s: invent_institution(s.rng),
    "country": _choice(tb.COUNTRIES),
    "country2": _choice(tb.COUNTRIES),
    "year": _year,
    "year2": _year2,
    "m": _m,
    "m2": _m2,
    "n_small": lambda s: str(s.rng.randint(2, 9)),
    "n_small2": lambda s: str(s.rng.randint(0, 9)),
    "n_teen": lambda s: str(s.rng.randint(12, 19)),
    "n_mid": lambda s: str(s.rng.randint(12, 95)),
    "big": lambda s: f"{s.rng.randint(1200, 98000):,}",
    "pct": lambda s: str(s.rng.randint(3, 85)),
    "km": lambda s: str(s.rng.randint(3, 420)),
    "hour": lambda s: f"{s.rng.randint(7, 11)} pm",
    "adj": _choice(tb.ADJECTIVES),
    "material": _choice(tb.MATERIALS),
    "crop": _choice(tb.CROPS),
    "crop2": _choice(tb.CROPS),
    "trade": _choice(tb.TRADES),
    "animal": _choice(tb.ANIMALS),
    "animal2": _choice(tb.ANIMALS),
    "subject": _choice(tb.SUBJECTS),
    "subject2": _choice(tb.SUBJECTS),
    "instrument": _choice(tb.INSTRUMENTS),
    "instrument2": _choice(tb.INSTRUMENTS),
    "month": _choice(tb.MONTHS),
    "month2": _choice(tb.MONTHS),
    "century": _choice(tb.ORDINAL_CENTURIES),
    "colour": _choice(tb.COLOURS),
    "dir": _choice(tb.DIRECTIONS),
    "habitat": _choice(tb.HABITATS),
    "building": _choice(tb.BUILDINGS),
    "season": _choice(tb.SEASONS),
    "product": lambda s: invent_product(s.rng),
    "ordinal": _choice(_ORDINALS),
}


class Slots(dict[str, str]):
    """Template slots: fixed document facts, anything else drawn afresh per use."""

    rng: random.Random
    lang: str
    last_year: int
    last_m: int

    def __init__(self, rng: random.Random, lang: str = "en", **facts: str) -> None:
        super().__init__(facts)
        self.rng = rng
        self.lang = lang
        self.last_year = 1800
        self.last_m = 500

    def __missing__(self, key: str) -> str:
        if key == "month" and self.lang != "en":
            return self.rng.choice(intl.MONTHS_BY_LANG[self.lang])
        if key == "big" and self.lang != "en":
            sep = "\u202f" if self.lang == "fr" else "."  # French groups digits with a thin space
            return f"{self.rng.randint(1200, 98000):,}".replace(",", sep)
        if key == "weekday":
            return self.rng.choice(intl.WEEKDAYS_BY_LANG[self.lang])
        return _DRAWS[key](self)

    def fill(self, template: str) -> str:
        return template.format_map(self)


# --- encyclopedia ---------------------------------------------------------------------


def _topic_facts(rng: random.Random, ttype: str) -> dict[str, str]:
    facts = {
        "region": invent_region(rng),
        "country": rng.choice(tb.COUNTRIES),
        "river": invent_river(rng),
        "mountain": invent_mountain(rng),
        "founder": invent_person(rng),
        "institution": invent_institution(rng),
    }
    if ttype == "scientist":
        surname = invent_surname(rng)
        born = rng.randint(1620, 1890)
        facts |= {"name": f"{rng.choice(tb.GIVEN_NAMES)} {surname}", "surname": surname,
                  "year0": str(born), "year_end": str(born + rng.randint(48, 91)),
                  "y_lo": str(born + 12), "y_hi": str(born + 47)}
    elif ttype == "species":
        facts |= {"name": f"{rng.choice(tb.LATIN_GENERA)} {rng.choice(tb.LATIN_EPITHETS)}",
                  "group": rng.choice(tb.ENCYCLOPEDIA_GROUPS)}
        prefix = rng.choice(tb.COMMON_PREFIXES)
        facts["common"] = f"{prefix} {invent_core(rng).lower()} {facts['group']}"
    elif ttype == "river":
        facts["name"] = facts["river"]
        facts["river"] = invent_river(rng)
    else:
        facts["name"] = invent_place(rng) if ttype == "settlement" else invent_core(rng) + "er"
    return facts


def article(rng: random.Random, ttype: str) -> tuple[str, str]:
    """An invented encyclopedia article: title and body (paragraphs split by blank lines)."""
    spec = tb.ENCYCLOPEDIA[ttype]
    facts = _topic_facts(rng, ttype)
    noun = str(spec["noun"])
    slots = Slots(rng, noun=noun, noun_cap=noun[0].upper() + noun[1:], **facts)
    sections: list[list[str]] = spec["sections"]  # type: ignore[assignment]
    title = slots.fill(str(spec["title"]))
    paragraphs = [slots.fill(rng.choice(sections[0]))]
    for pool in sections[1:]:
        picked = rng.sample(pool, k=rng.randint(3, len(pool)))
        paragraphs.append(" ".join(slots.fill(t) for t in picked))
    if rng.random() < 0.7:
        picked = rng.sample(tb.ENCYCLOPEDIA_GENERIC, k=rng.randint(2, 6))
        paragraphs.append(" ".join(slots.fill(t) for t in picked))
    return title, "\n\n".join([title, *paragraphs])


# --- web pages and forum posts --------------------------------------------------------


class PageGuard:
    """Keeps any two pages of one genre from sharing most of their sentence templates.

    Comparing template ids is far cheaper than comparing shingles, and text overlap
    between two pages cannot much exceed their template overlap.
    """

    def __init__(self, limit: float = 0.4) -> None:
        self.start = limit
        self.limits: dict[str, float] = {}
        self.seen: dict[str, list[frozenset[int]]] = {}

    def accept(self, key: str, ids: frozenset[int]) -> bool:
        earlier = self.seen.setdefault(key, [])
        limit = self.limits.get(key, self.start)
        if any(len(ids & o) / len(ids | o) > limit for o in earlier):
            return False
        earlier.append(ids)
        return True

    def relax(self, key: str) -> None:
        """A bank is exhausted (large scales): allow a little more template overlap."""
        self.limits[key] = self.limits.get(key, self.start) + 0.05


def web_page(rng: random.Random, lang: str = "en", guard: PageGuard | None = None,
             tries: int = 100) -> tuple[str, str]:
    """A page in one language: a title and a few sentences in 2-3 paragraphs."""
    for attempt in range(1, 10 * tries + 1):
        generic: list[int] = []
        if lang == "en":
            key = rng.choice(sorted(tb.WEB_GENRES))
            titles, body = tb.WEB_GENRES[key]
            own = rng.sample(range(len(body)), k=rng.randint(4, 8))
            generic = rng.sample(range(len(tb.WEB_GENERIC)), k=rng.randint(1, 3))
        else:
            key, (titles, body) = lang, intl.WEB_INTL[lang]
            own = rng.sample(range(len(body)), k=rng.randint(3, 5) if len(body) < 16 else
                             rng.randint(4, 6))
        if guard is None or guard.accept(key, frozenset([*own, *(1000 + g for g in generic)])):
            break
        if attempt % tries == 0:
            guard.relax(key)
    else:
        raise RuntimeError(f"no distinct {lang} page; the bank is too small")
    slots = Slots(rng, lang=lang, place=invent_place(rng), place2=invent_place(rng))
    title = slots.fill(rng.choice(titles))
    picked = [slots.fill(body[i]) for i in own] + [slots.fill(tb.WEB_GENERIC[g]) for g in generic]
    rng.shuffle(picked)
    cut = sorted(rng.sample(range(1, len(picked)), k=rng.randint(1, 2)))
    paras = [" ".join(picked[a:b]) for a, b in zip([0, *cut], [*cut, len(picked)], strict=True)]
    return title, "\n\n".join([title, *paras])


def forum_post(rng: random.Random, topic: str) -> str:
    """A one-line forum post (no newlines, so one CSV record is one physical line)."""
    slots = Slots(rng)
    opening = rng.sample(tb.FORUM_TOPICS[topic], k=rng.randint(1, 2))
    parts = [slots.fill(t) for t in opening]
    parts.append(slots.fill(rng.choice(tb.FORUM_REPLIES)))
    if rng.random() < 0.7:
        parts.append(
            slots.fill(rng.choice(tb.WEB_GENRES[rng.choice(sorted(tb.WEB_GENRES))][1]))
        )
    rng.shuffle(parts)
    return " ".join(parts)


# --- technical docs ---------------------------------------------------------------------

_CHANGELOG = [
    "* `{cmd}`: new option `{opt}`.",
    "* Fixed a crash in `{cmd}` when the project folder was empty.",
    "* `{cmd}` is now {n} times faster on folders with many small files.",
    "* Deprecated `{opt}` for `{cmd}`; it goes away in the next major version.",
    "* `{cmd}` prints a clearer error when the remote cannot be reached.",
    "* `{opt}` now also applies to `{cmd}`.",
    "* Lowered memory use of `{cmd}` by about {n}0 percent.",
    "* `{cmd}` no longer follows symbolic links unless `{opt}` is given.",
    "* Documented the exit codes of `{cmd}`.",
    "* Windows: `{cmd}` handles paths longer than 260 characters.",
]


def command_page(rng: random.Random, cmd: str) -> str:
    """Reference page of one subcommand of the invented tool."""
    slots = Slots(rng)
    version = f"{rng.randint(0, 3)}.{rng.randint(0, 19)}"
    opts = rng.sample(tb.DOC_OPTIONS, k=rng.randint(3, 6))
    lines = [f"{tb.TOOL} {cmd}", "=" * (len(tb.TOOL) + len(cmd) + 1), "",
             "Usage:", f"    {tb.TOOL} {cmd} [OPTIONS] [PATH...]", ""]
    for t in rng.sample(tb.DOC_SENTENCES, k=rng.randint(4, 7)):
        opt, _, _, default = rng.choice(opts)
        lines.append(t.format(cmd=cmd, opt=opt, default=default, version=version,
                              n_mid=slots["n_mid"], n_small=slots["n_small"]))
    lines += ["", "Options:"]
    lines += [f"    {o} {a}".rstrip().ljust(24) + f"{h} (default: {d})" for o, a, h, d in opts]
    return "\n".join(lines) + "\n"


def config_page() -> str:
    lines = ["Configuration reference", "", f"Settings live in `{tb.TOOL}.toml` at the project "
             "root. Unknown keys are an error, so typos are caught early.", ""]
    for key, what, default in tb.DOC_CONFIG_KEYS:
        lines += [key, f"    {what[0].upper()}{what[1:]}. Default: {default}.", ""]
    lines += ["Example:", "", "    [core]"]
    lines += [f'    {k} = "{d}"' for k, _, d in tb.DOC_CONFIG_KEYS[:3]]
    return "\n".join(lines) + "\n"


def faq_page(rng: random.Random) -> str:
    cmd = rng.choice(tb.DOC_COMMANDS)
    lines = [f"Troubleshooting {tb.TOOL}", ""]
    for q, a in tb.DOC_TROUBLE:
        lines += [f"Q: {q.format(cmd=cmd)}", f"A: {a.format(n_small=rng.randint(4, 16))}", ""]
    return "\n".join(lines)


def changelog_page(rng: random.Random, version: str) -> str:
    lines = [f"Changes in {tb.TOOL} {version}", ""]
    for template in rng.sample(_CHANGELOG, k=rng.randint(3, 6)):
        lines.append(template.format(cmd=rng.choice(tb.DOC_COMMANDS), n=rng.randint(2, 9),
                                     opt=rng.choice(tb.DOC_OPTIONS)[0]))
    return "\n".join(lines) + "\n"


def hook_script(rng: random.Random, cmd: str) -> str:
    """An example hook script from the docs: real, readable code."""
    remote = rng.choice(["origin", "backup", "archive"])
    workers = rng.randint(2, 8)
    return "\n".join([
        f"# Example: run `{tb.TOOL} {cmd}` before every deploy and stop on a failed verification.",
        "import subprocess",
        "import sys",
        "",
        "",
        f"def run_{cmd}(paths: list[str], remote: str = \"{remote}\") -> int:",
        f"    \"\"\"Call {tb.TOOL} {cmd} on the given paths and return its exit status.\"\"\"",
        f"    args = [\"{tb.TOOL}\", \"{cmd}\", \"--remote\", remote, \"--workers\", \"{workers}\", *paths]",
        "    result = subprocess.run(args, capture_output=True, text=True)",
        "    if result.returncode == 3:",
        "        print(\"verification failed:\", result.stdout, file=sys.stderr)",
        "    return result.returncode",
        "",
        "",
        "if __name__ == \"__main__\":",
        f"    sys.exit(run_{cmd}(sys.argv[1:] or [\".\"]))",
    ]) + "\n"


def minified_bundle(rng: random.Random) -> str:
    """A minified JavaScript bundle saved among the docs: one huge line, no spaces."""
    parts = [f"function t{i}(e,n){{return e.{rng.choice(['map', 'filter', 'reduce'])}(function(r){{return r+n*{i}}})}}"
             for i in range(60)]
    return "!function(){\"use strict\";" + ";".join(parts) + "}();\n//# sourceMappingURL=bundle.min.js.map\n"


def generated_stub(rng: random.Random) -> str:
    """A machine-generated API stub: the generator's banner says so."""
    lines = ["// Code generated by tessel-apigen v2.1. DO NOT EDIT.", "// source: tessel/api/v1/sync.proto", ""]
    for cmd in tb.DOC_COMMANDS:
        lines.append(f"export const {cmd.upper()}_REQUEST_ID = {rng.randint(1000, 9999)};")
    return "\n".join(lines) + "\n"


def data_dump(rng: random.Random) -> str:
    """Benchmark numbers pasted as a page: a data file, not documentation."""
    rows = [f"{rng.randint(1, 512)},{rng.randint(100, 99999)},{rng.random():.4f},{rng.random() * 100:.2f}"
            for _ in range(80)]
    return "\n".join(["workers,files,seconds,mb_per_s", *rows]) + "\n"
