"""Toxicity: score every record per category, tag the moderate ones, drop the severe ones.

Keyword blocklists fail both ways: they drop "breast cancer screening" and "kill -9 the
process", and they miss "f*ck" and "b1tch". This kernel keeps a hand-written weighted
lexicon (``toxicity_data/lexicon.txt``, tab-separated, terms ROT13-encoded) but matches
each term through an obfuscation-tolerant pattern (leetspeak, repeated letters, masking
stars, dots, zero-width characters) and decides severity with context rules, not words:

- insults escalate only when aimed at someone ("you are a ___", "you worthless ___",
  ", idiot."), a bit less when aimed at a third party or at what someone wrote ("this idiot
  keeps ...", "your opinion is worthless garbage"); harassment with no insult word
  ("nobody wants you here", "I'm going to follow you around") counts as insult too;
- identity terms never count on their own (the unintended-bias failure measured by
  Dixon et al. 2018, AIES); only identity term + dehumanising or negative predicate,
  "I hate ___", or calls to eliminate a group do;
- violence needs a person as object ("I will kill you"), not a process; threats also
  cover intent without a slur or profanity ("I will find out where you live", "you
  deserve a beating", "I'll smash your face in"), while idioms stay clean ("I'll beat you
  to it", "cut you some slack");
- clinical anatomy words are damped by medical/educational context, self-harm ideation
  by support/prevention context, slurs by quotation or reporting frames ("the word ...").

Scores are in [0, 1] per category, read like Perspective API scores: roughly the share of
readers who would find the record offensive in that way (<0.4 negligible, 0.4-0.8
moderate: tagged, >=0.8 severe: dropped, by default).

Speed: every rule is an RE2 pattern run by ``pyarrow.compute`` over whole Arrow arrays. Three
union prefilters (two lexicon halves, one of the context rules) pick the candidate rows;
only those are matched rule by rule; scores are combined in NumPy. Clean documents never
reach Python.
"""

from __future__ import annotations

import codecs
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curaline.kernels.base import KernelResult, empty_events, make_events
from curaline.records import TEXT_COLUMNS

#: Categories, in tie-break order (the most harmful wins a tie for top category).
CATEGORIES = ("identity_hate", "violence", "self_harm", "sexual", "insult", "profanity")

SIGNAL_COLUMNS: dict[str, pa.DataType] = {
    "toxicity": pa.float64(),  # overall score: the max over categories and text columns
    "toxicity_category": pa.string(),  # the top category, null when nothing matched
    "toxicity_tags": pa.list_(pa.string()),  # categories at/above tag_severity, worst first
}

LEXICON_PATH = Path(__file__).with_name("toxicity_data") / "lexicon.txt"


@dataclass(frozen=True)
class ToxicityConfig:
    """Per-project toxicity policy.

    Thresholds follow the Perspective API's reading of scores as the share of raters who
    would find a text toxic, and its guidance to filter only high scores (0.7+ for
    research, higher for moderation; developers.perspectiveapi.com "Score thresholds").
    The 0.4 tag level is curaline's: a substantial minority would object, worth a tag.
    """

    #: Records with any category at/above this are dropped (reason ``toxicity_<category>``).
    drop_severity: float = 0.8
    #: Categories at/above this are listed in ``toxicity_tags``; below drop_severity the
    #: record is kept, so downstream mixing can down-weight or review it.
    tag_severity: float = 0.4
    #: Per-category drop thresholds overriding drop_severity, e.g. (("profanity", 1.01),).
    category_drop_severity: tuple[tuple[str, float], ...] = ()
    #: Columns never scored: the rejected answer of harmlessness preference pairs is toxic
    #: by design (Bai et al. 2022, hh-rlhf), dropping the pair would lose the signal.
    exempt_columns: tuple[str, ...] = ("rejected",)
    #: Factor on slurs and reported violence when quoted, mentioned or in a reporting /
    #: historical frame (use-mention distinction; Sap et al. 2019 on dialect false positives).
    mention_damping: float = 0.5
    #: Factor on clinical anatomy words when the text has medical/educational context.
    clinical_damping: float = 0.2

    def drop_threshold(self, category: str) -> float:
        return dict(self.category_drop_severity).get(category, self.drop_severity)


# --------------------------------------------------------------------------- patterns

_B = r"(?:^|[^a-z0-9])"  # left word edge (RE2 has no lookbehind; \b fails on "@ss")
_E = r"(?:[^a-z0-9]|$)"  # right word edge
_END = r"\s*(?:[.,!?;:)\"'’”…]|$)"  # end of a clause
_Q = "['’]?"  # optional apostrophe, straight or curly
_INVISIBLE = "[\u00ad\u200b-\u200d\u2060\ufeff]"
_LEET = {
    "a": "a4@", "b": "b8", "e": "e3", "g": "g9", "i": "i1!|", "l": "l1|",
    "o": "o0", "s": "s5$", "t": "t7+", "u": "uv",
}  # fmt: skip


def _alt(items: list[str] | tuple[str, ...]) -> str:
    return "(?:" + "|".join(items) + ")"


def _words(text: str) -> str:
    """Space-separated words (regex fragments) as one alternation."""
    return _alt(text.split())


def _fuzz_word(word: str) -> str:
    """One lexicon word as an obfuscation-tolerant pattern: f[uv*]+[c*]+k+ and the like.

    The first letter must be a plain letter and the last may not be a digit, so that
    identifiers and numbers ("da9055", "t175", "$.|*+") never read as leetspeak; inserted
    separators count only between every letter ("f.u.c.k", not "s_hit" or "spi-cs").
    """
    prefix = word.startswith("*")
    suffix = word.endswith("*")
    letters = word.strip("*")
    runs = [(m.group(0)[0], len(m.group(0))) for m in re.finditer(r"(.)\1*", letters)]
    parts = []
    for i, (ch, n) in enumerate(runs):
        if i == 0:
            cls = ch
        elif i < len(runs) - 1:
            cls = _LEET.get(ch, ch) + "*"  # a masking star may stand for an interior letter
        else:
            cls = "".join(c for c in _LEET.get(ch, ch) if not c.isdigit())
        parts.append("[" + re.escape(cls) + "]" + ("+" if n == 1 else f"{{{n},}}"))
    body = "".join(parts)
    if len(letters) >= 4:
        body = _alt([body, "[ .\\-_~*]".join(letters)])
    return ("[a-z]*" if prefix else "") + body + ("[a-z]*" if suffix else "")


def _fuzz_term(term: str) -> str:
    return r"[\s\-_.]+".join(_fuzz_word(w) for w in term.split())


class _Entry(NamedTuple):
    category: str
    weight: float
    role: str
    term: str


@functools.cache
def _lexicon() -> tuple[_Entry, ...]:
    entries = []
    for line in LEXICON_PATH.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        category, weight, role, term = line.split("\t")
        entries.append(_Entry(category, float(weight), role, codecs.decode(term, "rot13")))
    return tuple(entries)


_PEOPLE = _words(
    r"people persons? folks? men women guys girls boys kids children population"
    r" communit(?:y|ies) famil(?:y|ies) person man woman guy girl boy kid"
)
_IDENT_PL = _words(
    r"jews muslims moslems christians catholics protestants hindus sikhs buddhists mormons"
    r" gays lesbians homosexuals bisexuals transgenders transsexuals blacks whites"
    r" mexicans immigrants migrants refugees arabs asians africans latinos hispanics"
    r" indians pakistanis chinese japanese koreans europeans americans canadians women"
)
_IDENT_ADJ = _words(
    r"jewish jew muslim moslem islamic christian catholic protestant hindu sikh buddhist"
    r" mormon gay lesbian bisexual homosexual heterosexual straight transgender trans"
    r" non-?binary queer lgbtq?i?a?\+? black white brown african(?:\s+american)? asian"
    r" mexican latin[oax] hispanic arab indian chinese japanese korean middle\s+eastern"
    r" european american canadian deaf blind disabled paralyzed autistic elderly female male"
    r" taoist jain atheist agnostic"
)
#: Age words are everyday adjectives ("the old version"): alone they only count after a
#: negative adjective or "I hate", never as the object of "kill"/"destroy".
_AGE = _words(r"old older young younger teenage middle[\s-]aged millenn?ials?")
_IDENT_SUBJ = rf"(?:{_IDENT_PL}|(?:{_IDENT_ADJ}|{_AGE})\s+{_PEOPLE})"
_IDENT_OBJ_STRICT = (
    rf"(?:{_IDENT_PL}{_E}|(?:{_IDENT_ADJ}|{_AGE})\s+{_PEOPLE}{_E}|{_IDENT_ADJ}{_END})"
)
_IDENT_OBJ = rf"(?:{_IDENT_OBJ_STRICT}|{_AGE}{_END})"
_NEG = _words(
    r"disgusting horrible terrible awful evil vile nasty gross sick sickening repulsive"
    r" revolting filthy dirty stupid dumb idiotic ignorant worthless inferior lazy ugly"
    r" rotten pathetic hateful despicable wicked trashy subhuman primitive barbaric savage"
)
_DEHUMAN = _words(
    r"animals beasts vermin rats roaches cockroaches parasites pigs dogs apes monkeys"
    r" savages sub-?humans? filth scum trash garbage mongrels leeches insects degenerates"
    r" abominations criminals terrorists rapists pedophiles paedophiles"
    r" an?\s+(?:cancer|disease|plague|virus|abomination) not\s+human less\s+than\s+human"
)
_FILLER = (
    r"(?:(?:all|just|such|so|really|very|fucking|fuckin|nothing\s+but|like|a|an|the"
    r"|bunch\s+of|of)\s+)*"
)
_YOU = rf"(?:you|u|ya|y{_Q}all|yall|you\s+(?:all|people|guys|lot))"
#: Harm verbs that are threats whatever follows their object ("I will stab you in ...").
_HARM = _words(
    r"kill murder shoot stab strangle choke rape punch slap smack behead lynch slit smash bash"
    r" batter hurt maim torture fuck\s+up beat\s+up knock\s+out"
)
#: Verbs with harmless idioms ("beat you to it", "cut you some slack", "hit you up"): a
#: threat only at a clause end or with a violent complement ("beat you senseless").
_HARM_SOFT = _words(r"beat hit cut burn bury hang end destroy kick crush ruin")
_SOFT_TAIL = (
    rf"(?:{_END}|\s+(?:senseless|so\s+hard|to\s+death|black\s+and\s+blue|to\s+a\s+pulp"
    r"|until\s+you|in\s+the\s+(?:face|head|mouth|teeth|throat|gut|balls|nuts)))"
)
_BODY = _words(
    r"ass face head skull teeth legs? arms? neck throat jaw nose kneecaps? fingers? ribs"
    r" brains? eyes? balls family kids mom mother"
)
_YOUR_BODY = (
    rf"(?:your|ur)\s+(?:(?:stupid|ugly|fat|f\S{{0,5}}(?:ing|in)|little|pathetic|dumb|lying"
    rf"|whole|entire|smug)\s+)*{_BODY}"
)
_YOU_OBJ = rf"(?:{_YOU}|him|her|{_YOUR_BODY})"
#: First-person intent: "I'll", "I am going to", "we're gonna", "I swear I will"; then
#: filler such as "come round and", "just", "personally".
_I_WILL = (
    rf"{_B}(?:(?:i|we)(?:{_Q}ll|{_Q}d|\s+(?:will|shall|would|wanna|want\s+to|gotta|have\s+to"
    rf"|should|gonna))|(?:i|we)(?:{_Q}m|{_Q}re|\s+am|\s+are)\s+(?:gonna|going\s+to|about\s+to"
    rf"|coming\s+to)|imma|ima|ill|im\s+(?:gonna|going\s+to))\s+"
    rf"(?:(?:gonna|going\s+to|go|come|just|fucking|really|and|to|then|personally|literally"
    rf"|actually|definitely|round|around|over|there|back|down|find\s+and)\s+)*"
)
_THREAT_ACT = (
    rf"(?:{_HARM}\s+(?:(?:the\s+\w+\s+out\s+of|up|down)\s+)?{_YOU_OBJ}{_E}"
    rf"|{_HARM_SOFT}\s+(?:the\s+\w+\s+out\s+of\s+)?{_YOU_OBJ}{_SOFT_TAIL}"
    rf"|beat\s+(?:{_YOU}|him|her)\s+up"
    rf"|(?:break|snap|crack|smash|bash|cave)\s+(?:in\s+)?{_YOUR_BODY}"
    rf"|(?:hunt|track)\s+(?:{_YOU}|him|her)\s+down|find\s+(?:{_YOU}|him|her){_END}"
    rf"|find\s+out\s+where\s+(?:{_YOU}|he|she)\s+lives?"
    rf"|make\s+(?:{_YOU}|him|her)\s+(?:regret|pay|suffer|bleed|beg|disappear)"
    rf"|(?:show|turn)\s+up\s+(?:at|outside)\s+(?:your|ur)\s+(?:house|home|door|doorstep|work"
    rf"|office|school|job|place))"
)
_BEATEN = _words(
    r"raped shot killed hanged hung lynched gassed beaten stabbed murdered tortured punched"
    r" slapped hurt kicked beaten\s+up beat\s+up"
)

#: Context rules: name -> (category or None for a modifier, score, pattern). Patterns run on
#: lower-cased text; modifiers only damp lexicon and rule scores.
_RULES: dict[str, tuple[str | None, float, str]] = {
    "threat": ("violence", 0.9, rf"{_I_WILL}{_THREAT_ACT}"),
    # threats without a first-person verb: doxxing, "deserves a beating", "someone should"
    "threat_frame": (
        "violence",
        0.85,
        rf"{_B}(?:(?:know|knows|found|find\s+out|figure\s+out|finding\s+out)\s+where\s+"
        rf"(?:{_YOU}|he|she)\s+(?:lives?|works?|sleeps?)"
        rf"|deserves?\s+(?:an?\s+)?(?:good\s+|proper\s+|real\s+|serious\s+|severe\s+)?"
        rf"(?:beating|kicking|thrashing|slap|punch|smack|bullet|beat\s?down|ass[\s-]?kicking"
        rf"|ass[\s-]?whooping|whooping)"
        rf"|(?:someone|somebody|some\s+one|anyone)\s+(?:should|ought\s+to|needs\s+to|will"
        rf"|is\s+going\s+to|gonna)\s+(?:{_HARM})\s+(?:the\s+\w+\s+out\s+of\s+)?{_YOU_OBJ}"
        rf"|{_YOU}{_Q}?(?:re|r|\s+are)\s+(?:so\s+)?(?:dead\s+meat|a\s+dead\s+(?:man|woman))"
        rf"|sleep\s+with\s+one\s+eye\s+open){_E}",
    ),
    "threat_veiled": ("violence", 0.6, rf"{_B}watch\s+(?:your|ur)\s+back{_E}"),
    # harassment: exclusion, "crawl back under your rock", following someone around
    "harassment": (
        "insult",
        0.6,
        rf"{_B}(?:(?:nobody|no\s*-?\s*one)\s+(?:here\s+|on\s+here\s+)?(?:wants|likes|needs"
        rf"|cares\s+about|respects)\s+{_YOU}(?:\s+(?:here|around|anymore)|{_END})"
        rf"|(?:nobody|no\s*-?\s*one)\s+asked\s+(?:for\s+)?(?:{_YOU}{_E}|(?:your|ur)\s+"
        rf"(?:\w+\s+)?(?:opinions?|advice|input|comments?|two\s+cents|life\s+story|thoughts))"
        rf"|(?:crawl|slither|go|get|slink|scurry)\s+back\s+(?:under|in|into|to)\s+"
        rf"(?:your|ur|the|whatever)\s+(?:\w+\s+)?(?:rock|hole|cave|sewer|swamp|gutter|bridge)"
        rf"|{_I_WILL}(?:keep\s+)?(?:follow|stalk|hound|harass|haunt|troll)(?:ing)?\s+{_YOU}\s+"
        rf"(?:around|everywhere|wherever|across|on\s+every|in\s+every|every|until|till|forever"
        rf"|day\s+and\s+night))",
    ),
    # direct abuse without an insult noun: "you suck", "I hate you", "go to hell"
    "dismissal": (
        "insult",
        0.6,
        rf"{_B}(?:{_YOU}\s+(?:(?:really|totally|so|just|fucking|all)\s+)*(?:suck|stink)s?{_E}"
        rf"|(?:i|we)\s+(?:(?:really|just|fucking|so|all|truly)\s+)*(?:hate|despise|loathe"
        rf"|detest)\s+(?:{_YOU}|your\s+guts){_E}"
        rf"|{_YOU}\s+(?:make\s+me\s+(?:sick|puke|vomit)|disgust\s+me)"
        rf"|(?:screw|to\s+hell\s+with)\s+{_YOU}{_E}|kiss\s+my\s+(?:ass|arse)|up\s+yours"
        rf"|{_YOU}\s+(?:can|should|will|may)\s+(?:go\s+to|burn\s+in|rot\s+in)\s+hell"
        rf"|shut\s+(?:the\s+\w+\s+)?up{_END})"
        rf"|(?:^|[.!?,;:]\s*)(?:just\s+|now\s+|and\s+)?(?:go\s+to|burn\s+in|rot\s+in)\s+hell",
    ),
    "wish_harm": (
        "violence",
        0.85,
        rf"{_B}(?:(?:hope|wish|pray)\s+(?:that\s+)?(?:{_YOU}|he|she|him|her)\s+"
        rf"(?:(?:all|both|just|fucking|would|will|gonna|go|get|gets|to)\s+)*"
        rf"(?:die|dies|get\s+(?:raped|shot|killed|murdered|stabbed|cancer)|burn|rot)"
        rf"|die\s+in\s+a\s+(?:fire|hole|ditch)"
        rf"|deserves?\s+to\s+(?:die|be\s+{_BEATEN}|get\s+{_BEATEN})"
        rf"|(?:{_YOU}|he|she|people\s+like\s+(?:you|him|her|them))\s+(?:should|ought\s+to"
        rf"|need\s+to|deserve\s+to)\s+(?:be|get)\s+{_BEATEN})"
        rf"{_E}",
    ),
    "violent_you": (
        "violence",
        0.5,
        rf"{_B}(?:kill|murder|shoot|stab|strangle|choke|rape|punch|slap|smack|behead)"
        rf"\s+(?:the\s+\w+\s+out\s+of\s+)?{_YOU}{_E}",
    ),
    "hate_predicate": (
        "identity_hate",
        0.85,
        rf"{_B}(?:{_IDENT_SUBJ}\s+(?:are|is|r|were|=)\s+{_FILLER}"
        rf"|being\s+(?:an?\s+)?(?:{_IDENT_ADJ}|{_IDENT_PL}|{_AGE})\s+(?:is|was)\s+{_FILLER})"
        rf"(?:{_NEG}(?:\s+{_PEOPLE})?{_END}|{_DEHUMAN}{_E})",
    ),
    "hate_verb": (
        "identity_hate",
        0.85,
        rf"{_B}(?:i|we|everyone|everybody)\s+(?:(?:really|just|fucking|truly|honestly|so"
        rf"|still|all|absolutely)\s+)*(?:hate|despise|loathe|detest|can{_Q}t\s+stand)\s+"
        rf"(?:(?:all|the|those|these|fucking|filthy|dirty|damn|stupid)\s+)*{_IDENT_OBJ}",
    ),
    "hate_eliminate": (
        "identity_hate",
        0.9,
        rf"{_B}(?:kill|murder|gas|exterminate|eradicate|lynch|hang|shoot|slaughter|massacre"
        rf"|wipe\s+out|get\s+rid\s+of|destroy|burn|nuke)\s+"
        rf"(?:(?:all|the|those|these|every|fucking|filthy|dirty|damn|of)\s+)*"
        rf"{_IDENT_OBJ_STRICT}",
    ),
    "hate_epithet": (
        "identity_hate",
        0.65,
        rf"{_B}{_NEG}\s+{_IDENT_OBJ}",
    ),
    "self_harm_urge": (
        "self_harm",
        0.9,
        rf"{_B}(?:(?:kill|hang|shoot|cut|off|end|hurt|harm|drown)\s+(?:your\s*self|urself"
        rf"|ur\s*self|yourselves|yo\s*self|ya\s*self)|go\s+die|go\s+(?:and\s+)?(?:kill|hang)"
        rf"\s+(?:your|ur)|drink\s+bleach|slit\s+(?:your|ur)\s+wrists?"
        rf"|(?:nobody|no\s+one)\s+would\s+miss\s+you"
        rf"|(?:world|earth)\s+(?:would\s+be|is)\s+better\s+(?:off\s+)?without\s+you){_E}",
    ),
    "self_harm_ideation": (
        "self_harm",
        0.45,
        rf"{_B}(?:(?:kill|hang|cut|hurt|harm|off|shoot)\s+(?:my\s*self|myself)"
        rf"|(?:i|i{_Q}m|im)\s+(?:\w+\s+)?(?:want|wanna|going|gonna|ready)\s+(?:to\s+)?die"
        rf"|end\s+(?:it\s+all|my\s+life)|suicidal|self[-\s]?harm\w*|self[-\s]?injur\w*){_E}",
    ),
    "sexual_minor": (
        "sexual",
        0.95,
        rf"{_B}(?:child|children|kid|kiddie|kiddy|minor|underage|preteen|loli|lolita|toddler)"
        rf"s?\s+(?:\w+\s+)?(?:porn\w*|nudes|xxx){_E}",
    ),
    # modifiers
    "negated_urge": (
        None,
        0.0,
        rf"{_B}(?:don{_Q}t|do\s+not|never|not\s+to|didn{_Q}t|won{_Q}t|shouldn{_Q}t"
        rf"|wouldn{_Q}t)\s+(?:\w+\s+)?(?:kill|hurt|harm)\s+(?:your\s*self|yourself|urself)",
    ),
    "medical": (
        None,
        0.0,
        _B
        + _words(
            r"health\w* medic\w* clinic\w* cancer screening diagnos\w* symptoms? treatment"
            r" patients? doctors? physicians? nurses? anatomy anatomical educat\w*"
            r" curriculum students? teach\w* lessons? biology reproducti\w* contracepti\w*"
            r" pregnan\w* stds? stis? hiv hpv infections? disease therap\w* surgery surgical"
            r" gyn[a]?ecolog\w* urolog\w* exam examination hospital condoms? consent puberty"
            r" menstrua\w* fertility prostate testicular cervical erectile dysfunction"
            r" libido rect(?:al|um) bleeding fissures? p(?:a)?ediatric\w* adolescen\w* infants?"
            r" side\s+effects? medications? antidepressants? prescri\w* vaccin\w* syndrome"
            r" disorders? chronic sperm ovar\w* uter\w* hormon\w* sexuality"
        )
        + _E,
    ),
    "reporting": (
        None,
        0.0,
        _B
        + _words(
            r"according\s+to reported reports reporter journalist news police court trial"
            r" judge jury convicted charged accused alleged\w* sentenced prosecut\w*"
            r" investigat\w* victims? survivors? historian history historical literature"
            r" novel author essay article museum documentary study studies research\w*"
            r" linguist\w* etymolog\w* dictionary lyrics the\s+word the\s+term slurs?"
            r" epithets? n-word f-word"
        )
        + _E,
    ),
    "support": (
        None,
        0.0,
        _B
        + _words(
            r"hotline helpline lifeline prevention crisis support 988 samaritans awareness"
            r" mental\s+health counsel\w* therap\w* resources help\s+is\s+available"
            r" reach\s+out risk\s+factors? statistics rates?"
        )
        + _E,
    ),
}

# Insult frames. Targeted: "you are a(n) [brainless] ___", "you [worthless] ___", "people like
# you are ___", "you are a [stupid] <any noun>". Indirect (aimed at a third party or at what
# someone wrote): "this idiot keeps ...", "what a pathetic ___", "only a total ___ would",
# "they are a disgusting ___", "your opinion is worthless ___".
_COPULA = (
    rf"(?:{_YOU}\s+(?:are|r|re|is|was|were|be|look|sound|act)(?:\s+like)?"
    rf"|you{_Q}re|ur|ure|yer|people\s+like\s+(?:you|u)\s+(?:are|r))"
)
_INTENSIFIERS = (
    r"such|so|a|an|the|one|real|total|complete|absolute|utter|most|biggest|worst"
    r"|f\S{0,5}(?:ing|in)|effing|freaking|damn|little|lil|big|fat|dirty|lazy|bloody"
    r"|piece\s+of|sack\s+of|bunch\s+of|pile\s+of"
)
_THIRD = (
    rf"(?:he|she|they)(?:{_Q}s|{_Q}re|\s+(?:is|are|was|were|seems?|looks?|sounds?))"
    r"(?:\s+like)?"
)
_POINTER = (
    r"(?:this|that|these|those|some|what\s+an?|such\s+an?|only\s+an?|bunch\s+of|pack\s+of"
    r"|load\s+of)"
)
#: what follows a person, not a thing ("this idiot keeps ...", not "this creep is measured")
_AFTER_POINTER = (
    rf"(?:\s+(?:who|keep|keeps|kept|think|thinks|thought|should|needs|wants|doesn{_Q}t"
    rf"|can{_Q}t|won{_Q}t|until|again|obviously|clearly|apparently|just|really|would|could"
    r"|never|always)"
    r"|\s*(?:[.,!?;:…]|$))"
)


class _Compiled(NamedTuple):
    prefilter: tuple[str, ...]  # a row is a candidate if any of these matches
    groups: tuple[tuple[str, int, float, str, str], ...]  # (key, cat index, weight, role, pat)
    rules: tuple[tuple[str, int, float, str], ...]  # (name, cat index or -1, score, pattern)


@functools.cache
def _compiled() -> _Compiled:
    """Build every RE2 pattern once: one per (category, role, weight) lexicon group."""
    by_group: dict[tuple[str, str, float], list[str]] = {}
    for e in _lexicon():
        by_group.setdefault((e.category, e.role, e.weight), []).append(_fuzz_term(e.term))
    groups = tuple(
        (f"{cat}:{role}:{w}", CATEGORIES.index(cat), w, role, rf"{_B}{_alt(pats)}{_E}")
        for (cat, role, w), pats in sorted(by_group.items())
    )
    lex = _lexicon()

    def terms(*roles: str) -> str:
        return _alt([_fuzz_term(e.term) for e in lex if e.role in roles])

    nouns, adjs, slurs = terms("target", "target_verb", "aimed"), terms("adj"), terms("slur")
    person, verbish = terms("target", "target_verb"), terms("target_verb", "aimed")
    filler = rf"(?:\s+(?:{_INTENSIFIERS}|{adjs}))*\s+"
    rules = dict(_RULES)
    # scores derived from the insult terms present, see _combine
    rules["targeted_insult"] = (
        "insult",
        0.0,
        rf"{_B}(?:(?:{_COPULA}|shut\s+up){filler}{nouns}{_E}"
        rf"|{_YOU}{filler}{terms('target')}{_E}"
        rf"|{_YOU}(?:\s+(?:{_INTENSIFIERS}))*\s+{adjs}{filler}{verbish}{_E}"
        rf"|{_YOU}\s+{verbish}{_END}"
        rf"|{_COPULA}{filler}{adjs}(?:{_END}|\s+(?:and|but|person|people|human|individual"
        rf"|excuse|piece|sack|waste|as\s+hell|af){_E})"
        rf"|{_COPULA}\s+(?:(?:an?|such|the|most|one|so|really|truly|just)\s+)+{adjs}\s+[a-z])"
        # vocative after a comma: "thanks, idiot."
        rf"|,\s*(?:(?:you|u|ya)\s+)?(?:{adjs}\s+)*{person}\s*(?:[.!?,]|$)",
    )
    rules["indirect_insult"] = (
        "insult",
        0.0,
        rf"{_B}(?:{_THIRD}{filler}(?:{nouns}|{adjs})(?:{_END}|\s+(?:and|but|lol){_E})"
        rf"|{_POINTER}{filler}{person}{_AFTER_POINTER}"
        rf"|what\s+an?\s+(?:(?:{_INTENSIFIERS})\s+)*{adjs}\s+[a-z]"
        rf"|(?:your|ur)\s+(?:[a-z]+\s+){{0,2}}(?:is|are|was|were)"
        rf"(?:\s+(?:just|pure|utterly|completely|totally|absolutely|{_INTENSIFIERS}|{adjs}))*"
        rf"\s+(?:{nouns}{_E}|{adjs}{_END}))",
    )
    rules["mention"] = (
        None,
        0.0,
        rf"(?:[\"“‘']\s*{slurs}\s*[\"”’']|(?:word|term|slur|epithet|called\s+(?:him|her"
        rf"|them|me|us|you)(?:\s+an?)?)\s*[:,]?\s*[\"“‘']?\s*{slurs}"
        # idioms that share a slur's spelling
        rf"|chinks?\s+in\s+(?:the|his|her|their|its|our|your|my)\s+armou?r"
        rf"|honky[\s-]+tonk|spick?[\s-]+(?:and|&|n)[\s-]+span|coon[\s-]*(?:hound|skin)"
        rf"|ty\s+coon)",  # the GPL's sample signatory
    )
    compiled_rules = tuple(
        (name, CATEGORIES.index(cat) if cat else -1, score, pat)
        for name, (cat, score, pat) in rules.items()
    )
    # RE2 runs a union as one DFA, fast while the DFA fits RE2's memory budget: the whole
    # lexicon does not (it falls back to the NFA, 5x slower), two halves of it do, and so
    # does one union of the context rules (measured on corpus-100k; the lexicon and the
    # rules together blow up). Insult frames need a lexicon term, so the lexicon union
    # already selects their rows.
    fuzzed = [_fuzz_term(e.term) for e in lex]
    half = (len(fuzzed) + 1) // 2
    scoring = [r[3] for r in compiled_rules if r[1] >= 0 and not r[0].endswith("_insult")]
    prefilter = (
        rf"{_B}{_alt(fuzzed[:half])}{_E}",
        rf"{_B}{_alt(fuzzed[half:])}{_E}",
        _alt(scoring),
    )
    return _Compiled(prefilter, groups, compiled_rules)


# ----------------------------------------------------------------------------- scoring


def _hits(lower: pa.Array, pattern: str) -> np.ndarray:
    return np.asarray(pc.match_substring_regex(lower, pattern).fill_null(False), dtype=bool)


def _combine(hits: dict[str, np.ndarray], n: int, config: ToxicityConfig) -> np.ndarray:
    """Per-category scores from rule hits; context damps, each further moderate hit adds 0.05."""
    comp = _compiled()
    scores = np.zeros((n, len(CATEGORIES)))
    extra = np.zeros((n, len(CATEGORIES)))
    mention = hits["mention"] | hits["reporting"]
    damp = {
        "word": np.ones(n),
        "target": np.ones(n),
        "target_verb": np.ones(n),
        "adj": np.ones(n),
        "aimed": np.zeros(n),  # "garbage" is an insult only when aimed at someone
        "clinical": np.where(hits["medical"], config.clinical_damping, 1.0),
        "slur": np.where(mention, config.mention_damping, 1.0),
        "report": np.where(
            hits["reporting"] | hits["medical"] | hits["support"], config.mention_damping, 1.0
        ),
    }
    target_w = np.zeros(n)
    for key, cat, w, role, _ in comp.groups:
        s = hits[key] * w * damp[role]
        extra[:, cat] += s >= 0.4
        scores[:, cat] = np.maximum(scores[:, cat], s)
        if role in ("target", "target_verb", "aimed", "adj"):
            target_w = np.maximum(target_w, hits[key] * w)

    report = np.where(hits["reporting"], config.mention_damping, 1.0)
    rule_damp = {
        "self_harm_urge": np.where(hits["support"] | hits["reporting"], config.mention_damping, 1.0)
        * (hits["self_harm_urge"] & ~hits["negated_urge"]),
        "self_harm_ideation": np.where(hits["support"] | hits["medical"], 0.0, 1.0),
    }  # every other rule: halved in a reporting frame
    for name, cat, score, _ in comp.rules:
        if cat < 0 or name.endswith("_insult"):
            continue
        s = hits[name] * score * rule_damp.get(name, report)
        extra[:, cat] += s >= 0.4
        scores[:, cat] = np.maximum(scores[:, cat], s)
    elim = hits["hate_eliminate"] * 0.8 * report  # eliminating a group is violence too
    vio = CATEGORIES.index("violence")
    scores[:, vio] = np.maximum(scores[:, vio], elim)

    # An insult aimed at the reader reads as 0.45 + half the term's own weight (+0.05 with
    # profanity): "you are an idiot" 0.6, tagged; only the harshest terms aimed at someone
    # reach 0.8. Aimed at a third party or at what someone wrote: 0.05 less.
    ins = CATEGORIES.index("insult")
    profane = 0.05 * (scores[:, CATEGORIES.index("profanity")] > 0)
    for name, base in (("targeted_insult", 0.45), ("indirect_insult", 0.4)):
        aimed = hits[name] & (target_w > 0)
        extra[:, ins] += aimed
        s = np.where(aimed, base + 0.5 * target_w + profane, 0.0)
        scores[:, ins] = np.maximum(scores[:, ins], s)

    bonus = 0.05 * np.clip(extra - 1, 0, 2)
    return np.clip(np.where(scores > 0, scores + bonus, 0.0), 0.0, 1.0)


def toxicity_scores(
    texts: pa.Array | pa.ChunkedArray, config: ToxicityConfig | None = None
) -> np.ndarray:
    """Scores (rows x CATEGORIES) for one string array; null and clean texts score 0."""
    config = config or ToxicityConfig()
    arr = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    out = np.zeros((len(arr), len(CATEGORIES)))
    if len(arr) == 0:
        return out
    comp = _compiled()
    # zero-width characters and soft hyphens are invisible separators ("f\u200buck")
    lower = pc.replace_substring_regex(pc.utf8_lower(arr), _INVISIBLE, "")
    cand = np.zeros(len(arr), dtype=bool)
    for pattern in comp.prefilter:
        cand |= _hits(lower, pattern)
    idx = np.flatnonzero(cand)
    if len(idx) == 0:
        return out
    lower = lower.take(pa.array(idx))
    hits = {key: _hits(lower, pat) for key, _, _, _, pat in comp.groups}
    hits.update({name: _hits(lower, pat) for name, _, _, pat in comp.rules})
    out[idx] = _combine(hits, len(idx), config)
    return out


# ------------------------------------------------------------------------------ kernel


def _tags_array(scores: np.ndarray, tag_severity: float) -> pa.Array:
    """list<string> of tagged categories per row, worst first, built without a row loop."""
    order = np.argsort(-scores, axis=1, kind="stable")
    tagged = np.take_along_axis(scores, order, axis=1) >= tag_severity
    names = np.asarray(CATEGORIES, dtype=object)[order][tagged]
    offsets = np.concatenate([[0], np.cumsum(tagged.sum(axis=1))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(names, type=pa.string()))


def score_toxicity(
    table: pa.Table, *, kind: str, config: ToxicityConfig | None = None
) -> KernelResult:
    """Score the kind's text columns, add the signal columns, drop severe records."""
    config = config or ToxicityConfig()
    if kind not in TEXT_COLUMNS:
        raise ValueError(f"unknown record kind {kind!r}; expected one of {sorted(TEXT_COLUMNS)}")
    unknown = {c for c, _ in config.category_drop_severity} - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown toxicity categories in category_drop_severity: {unknown}")
    columns = [c for c in TEXT_COLUMNS[kind] if c not in config.exempt_columns]
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise ValueError(f"{kind} records need text columns {missing}")

    n = table.num_rows
    scores = np.zeros((n, len(CATEGORIES)))
    best_col = np.zeros(n, dtype=np.int64)
    for j, col in enumerate(columns):
        s = toxicity_scores(table[col], config)
        better = s.max(axis=1) > scores.max(axis=1)
        best_col[better] = j
        scores = np.maximum(scores, s)

    overall = scores.max(axis=1)
    top = np.argmax(scores, axis=1)  # first max wins: CATEGORIES is in harm order
    category = np.where(overall > 0, np.asarray(CATEGORIES, dtype=object)[top], None)
    thresholds = np.array([config.drop_threshold(c) for c in CATEGORIES])
    over = scores >= thresholds
    drop = over.any(axis=1)
    # the reason is the category furthest over its threshold
    drop_cat = np.argmax(np.where(over, scores - thresholds, -np.inf), axis=1)

    out = table
    for name in SIGNAL_COLUMNS:
        if name in out.column_names:
            out = out.drop_columns([name])
    out = out.append_column("toxicity", pa.array(overall, type=pa.float64()))
    out = out.append_column("toxicity_category", pa.array(category, type=pa.string()))
    out = out.append_column("toxicity_tags", _tags_array(scores, config.tag_severity))

    rows = np.flatnonzero(drop)
    if len(rows) == 0:
        return KernelResult(out, np.ones(n, dtype=bool), empty_events())
    cats = drop_cat[rows]
    events = make_events(
        table["doc_id"].take(pa.array(rows)).combine_chunks(),
        "drop",
        [f"toxicity_{CATEGORIES[c]}" for c in cats],
        value=scores[rows, cats],
        threshold=thresholds[cats].tolist(),
        detail=[f"column={columns[best_col[r]]}" for r in rows],
    )
    return KernelResult(out, np.logical_not(drop), events)
