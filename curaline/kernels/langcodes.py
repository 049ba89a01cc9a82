"""One canonical code per language, whatever the detector or the manifest writes.

Rule: ISO 639-1 where the language has one, else ISO 639-3. A macrolanguage's members
that are written as that language take its code (Mandarin/Cantonese/Wu ``cmn``/``yue``/
``wuu`` -> ``zh``; Standard/Egyptian Arabic ``arb``/``arz`` -> ``ar``; Iranian Persian
``pes`` -> ``fa``; ``swh`` -> ``sw``; ``uzn`` -> ``uz``; ``khk`` -> ``mn``; ``ckb``/
``kmr`` -> ``ku``; ``azb``/``azj`` -> ``az``...), except Indonesian, which ISO gives a
639-1 code of its own (``id``, not ``ms``). Judgement calls, documented:

- Norwegian is ``no`` for Bokmal and Nynorsk alike (``nb``, ``nn``, ``nob``, ``nno``,
  ``nor``): ELD does not tell them apart and lid.176's ``nn`` is unreliable on short text.
- Filipino/Tagalog is ``tl`` (``fil``, ``tgl``).
- Serbo-Croatian as one label (lid.176's ``sh``) is ``hbs``; ``sr``, ``hr``, ``bs`` stay
  themselves (Serbian in both scripts is ``sr``: the ``script`` column tells them apart).
- Withdrawn 639-1 codes are aliases: ``iw`` -> ``he``, ``in`` -> ``id``, ``ji`` -> ``yi``,
  ``jw`` -> ``jv``, ``mo`` -> ``ro``, ``bh`` -> ``bih``.
- ``als`` is Tosk Albanian (``sq``) as ISO says; lid.176's labels are Wikipedia codes
  and its ``als`` (Alemannic) is read as ``gsw`` where its labels are mapped
  (`curaline.kernels.langid_wide`). ``nah`` and ``bih`` are collective codes, kept.

A code may carry an ISO 15924 script subtag, BCP 47 style (``sr-Latn``, ``ku-Arab``):
`parse_tag` splits and checks it.
"""

from __future__ import annotations

from functools import cache

#: ISO 639-1 -> ISO 639-2/T (= 639-3 for individual languages), all 183 current codes.
_ISO1_TO_3 = dict(
    pair.split(":")
    for pair in """
aa:aar ab:abk ae:ave af:afr ak:aka am:amh an:arg ar:ara as:asm av:ava ay:aym az:aze
ba:bak be:bel bg:bul bi:bis bm:bam bn:ben bo:bod br:bre bs:bos ca:cat ce:che ch:cha
co:cos cr:cre cs:ces cu:chu cv:chv cy:cym da:dan de:deu dv:div dz:dzo ee:ewe el:ell
en:eng eo:epo es:spa et:est eu:eus fa:fas ff:ful fi:fin fj:fij fo:fao fr:fra fy:fry
ga:gle gd:gla gl:glg gn:grn gu:guj gv:glv ha:hau he:heb hi:hin ho:hmo hr:hrv ht:hat
hu:hun hy:hye hz:her ia:ina id:ind ie:ile ig:ibo ii:iii ik:ipk io:ido is:isl it:ita
iu:iku ja:jpn jv:jav ka:kat kg:kon ki:kik kj:kua kk:kaz kl:kal km:khm kn:kan ko:kor
kr:kau ks:kas ku:kur kv:kom kw:cor ky:kir la:lat lb:ltz lg:lug li:lim ln:lin lo:lao
lt:lit lu:lub lv:lav mg:mlg mh:mah mi:mri mk:mkd ml:mal mn:mon mr:mar ms:msa mt:mlt
my:mya na:nau nd:nde ne:nep ng:ndo nl:nld no:nor nr:nbl nv:nav ny:nya oc:oci oj:oji
om:orm or:ori os:oss pa:pan pi:pli pl:pol ps:pus pt:por qu:que rm:roh rn:run ro:ron
ru:rus rw:kin sa:san sc:srd sd:snd se:sme sg:sag si:sin sk:slk sl:slv sm:smo sn:sna
so:som sq:sqi sr:srp ss:ssw st:sot su:sun sv:swe sw:swa ta:tam te:tel tg:tgk th:tha
ti:tir tk:tuk tl:tgl tn:tsn to:ton tr:tur ts:tso tt:tat tw:twi ty:tah ug:uig uk:ukr
ur:urd uz:uzb ve:ven vi:vie vo:vol wa:wln wo:wol xh:xho yi:yid yo:yor za:zha zh:zho
zu:zul
""".split()
)

#: ISO 639-2/B bibliographic codes that differ from the /T ones.
_ISO2B = dict(
    pair.split(":")
    for pair in """
alb:sq arm:hy baq:eu bur:my chi:zh cze:cs dut:nl fre:fr geo:ka ger:de gre:el ice:is
mac:mk mao:mi may:ms per:fa rum:ro slo:sk tib:bo wel:cy
""".split()
)

#: Individual languages (639-3) written under their macrolanguage's 639-1 code, the
#: Norwegian and Filipino choices above, and withdrawn or Wikipedia codes.
_ALIASES = dict(
    pair.split(":")
    for pair in """
arb:ar arz:ar ary:ar arq:ar apc:ar ajp:ar acm:ar aeb:ar ars:ar afb:ar apd:ar
cmn:zh yue:zh wuu:zh zh-cn:zh zh-tw:zh zh-hans:zh zh-hant:zh zho-hans:zh zho-hant:zh
pes:fa prs:fa swh:sw swc:sw uzn:uz uzs:uz khk:mn zsm:ms als:sq aln:sq
azj:az azb:az ckb:ku kmr:ku sdh:ku pbu:ps pbt:ps pst:ps lvs:lv ekk:et npi:ne ory:or
plt:mg ydd:yi gug:gn gax:om ayr:ay knc:kr ojb:oj ike:iu quz:qu quy:qu twi:ak fat:ak
nb:no nn:no nob:no nno:no bokmal:no nynorsk:no fil:tl tgl:tl
iw:he in:id ji:yi jw:jv mo:ro bh:bih sh:hbs
""".split()
)

_ISO3_TO_1 = {v: k for k, v in _ISO1_TO_3.items()}


def canonical(code: str) -> str:
    """The canonical code of a language code in any of the forms above (no script subtag).

    Unknown well-formed codes (2 or 3 letters) come back lower-cased: whether a detector
    knows them is for the caller to check.
    """
    c = code.strip().lower().replace("_", "-")
    if c in _ALIASES:
        return _ALIASES[c]
    if c in _ISO2B:
        return _ISO2B[c]
    if c in _ISO3_TO_1:
        return _ISO3_TO_1[c]
    return c


@cache
def scripts() -> dict[str, str]:
    """ISO 15924 code -> English name, from fontTools' copy of Unicode's Scripts.txt."""
    from fontTools.unicodedata import Scripts

    return {**dict(Scripts.NAMES), "Jpan": "Japanese (Han + Hiragana + Katakana)",
            "Kore": "Korean (Hangul + Han)"}  # fmt: skip


def canonical_script(code: str) -> str:
    """``latn`` -> ``Latn``; refuse what is not an ISO 15924 code Unicode assigns."""
    c = code.strip().title()
    if c not in scripts():
        raise ValueError(f"script {code!r} is not an ISO 15924 code (e.g. Latn, Cyrl, Arab, Hani)")
    return c


def parse_tag(tag: str) -> tuple[str, str | None]:
    """``"sr-Latn"`` -> ``("sr", "Latn")``; ``"nob"`` -> ``("no", None)``.

    A tag is a language code, optionally followed by ``-`` and a 4-letter script code.
    """
    t = tag.strip().replace("_", "-")
    if not t:
        raise ValueError("empty language code")
    head, _, tail = t.rpartition("-")
    if head and len(tail) == 4 and tail.isalpha() and canonical(t) == t.lower():
        return canonical(head), canonical_script(tail)
    return canonical(t), None


def language_tag_problem(tag: str) -> str | None:
    """Why a manifest's language entry is refused, or None: the stage's models must know it."""
    from curaline.kernels.langid import supported_languages

    try:
        lang, _ = parse_tag(tag)
    except ValueError as e:
        return f"{tag!r}: {e}"
    if lang not in supported_languages():
        return (f"{tag!r} is not a language the language stage can detect (ELD + lid.176); "
                "codes: ISO 639-1 or 639-3, see curaline/kernels/langcodes.py")  # fmt: skip
    return None
