"""The stages after pii_redacted read placeholders, not PII (issue 17): the language stage skips
them (they are English words, no evidence of a record's language), the quality rules read them
as the training text has them and decide as they did on the text with the PII."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml

from curaline.kernels.langid import NOT_ALLOWED, UNCERTAIN, LangIdConfig, detect_language, detection_text
from curaline.kernels.normalize import normalize_text
from curaline.kernels.pii import PiiConfig, Span, placeholder_pattern, redact_pii, redact_text
from curaline.kernels.quality import QualityConfig, score_quality
from curaline.project import Project
from curaline.reports.operations import stage_parameters
from curaline.shards.chain import stage_settings
from curaline.sources import parse_manifest

ALL_PII = PiiConfig(keep_reserved_examples=False)


def _table(texts: list[str]) -> pa.Table:
    return pa.table({"doc_id": [f"d{i}" for i in range(len(texts))], "text": texts})


def _redacted(texts: list[str]) -> pa.Table:
    table = normalize_text(_table(texts), kind="document").table
    return redact_pii(table, kind="document", config=ALL_PII).table


@pytest.mark.parametrize(
    ("template", "pattern"),
    [("<{label}>", "<[A-Z][A-Z0-9_-]*>"), ("[{label}]", r"\[[A-Z][A-Z0-9_-]*\]"), ("{{{label}}}", r"\{[A-Z][A-Z0-9_-]*\}"),
     ("«{label}»", "«[A-Z][A-Z0-9_-]*»"), ("{label}", None), (" {label} ", None)],
)  # fmt: skip
def test_the_pattern_matches_what_redaction_writes(template: str, pattern: str | None) -> None:
    assert placeholder_pattern(template) == pattern
    if pattern is None:  # a bare label: nothing tells "EMAIL" from an upper-case word; nothing skipped
        return
    text = redact_text("mail a@b.org, call +1 212 555 0100, ask Ann", [Span(5, 12, "email"), Span(19, 34, "phone"),
                                                                       Span(40, 43, "person")], template)  # fmt: skip
    assert re.sub(pattern, "", text) == "mail , call , ask "
    # the same pattern in RE2, as the language stage runs it: a space where each placeholder was
    assert detection_text(_table([text]), "document", 1000, pattern).to_pylist() == ["mail  , call  , ask  "]


def test_language_is_read_around_the_placeholders() -> None:
    texts = ["Kontakt: max.mustermann@beispiel.de, Tel. +49 30 12345678", "What's your email? paul.jones@gmail.com"]
    redacted = _redacted(texts)
    assert redacted["text"].to_pylist() == ["Kontakt: <EMAIL>, Tel. +49 30 12345678", "What's your email? <EMAIL>"]
    skipped = detect_language(redacted, kind="document").table
    assert skipped["language"].to_pylist() == ["de", "en"]
    # read as words, "<EMAIL>" tips the German record away from German (ELD says Slovak)
    read = detect_language(redacted, kind="document", config=LangIdConfig(placeholder_pattern=None)).table
    assert read["language"][0].as_py() != "de"


def test_a_record_of_placeholders_only_is_uncertain_not_english() -> None:
    table = _redacted(["john.smith@corp.com +1 (212) 555-0143", "Das Wetter ist heute schön, schreiben Sie an a@b.de"])
    assert table["text"][0].as_py() == "<EMAIL> <PHONE>"
    result = detect_language(table, kind="document", config=LangIdConfig(keep_languages=("en",)))
    assert result.table["language"].to_pylist() == ["und", "de"] and not any(result.keep)
    drops = dict(zip(result.events["doc_id"].to_pylist(), result.events["reason"].to_pylist(), strict=True))
    assert drops == {"d0": UNCERTAIN, "d1": NOT_ALLOWED}


def _project(root: Path, stages: dict) -> tuple[Project, object]:
    (root / "sources").mkdir(parents=True)
    (root / "curaline.yaml").write_text(yaml.safe_dump({"stages": stages}))
    path = root / "sources" / "notes.yaml"
    path.write_text(yaml.safe_dump({"id": "notes", "location": "notes.jsonl", "format": "jsonl", "kind": "document",
                                    "license": "CC-BY-4.0", "obtained": "public-dataset", "languages": ["de"]}))  # fmt: skip
    return Project.at(root), parse_manifest(path)


def test_the_skipped_placeholders_follow_pii_redacted_settings(tmp_path: Path) -> None:
    project, manifest = _project(tmp_path / "a", {"pii_redacted": {"placeholder": "[{label}]"}})
    config = stage_settings("language_checked", manifest, project)
    assert config.placeholder_pattern == r"\[[A-Z][A-Z0-9_-]*\]" and config.keep_languages == ("de",)
    # the reports name the pattern the run used
    params = stage_parameters("language_checked", project.config.stages)
    assert params["placeholder_pattern"] == r"\[[A-Z][A-Z0-9_-]*\]"
    assert stage_parameters("language_checked", {})["placeholder_pattern"] == "<[A-Z][A-Z0-9_-]*>"
    # set on the language stage, it wins (null: read everything)
    project, manifest = _project(tmp_path / "b", {"pii_redacted": {"placeholder": "[{label}]"},
                                                  "language_checked": {"placeholder_pattern": None}})  # fmt: skip
    assert stage_settings("language_checked", manifest, project).placeholder_pattern is None
    assert stage_parameters("language_checked", project.config.stages)["placeholder_pattern"] is None


def test_a_bad_placeholder_pattern_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"placeholder_pattern '<\(' is not a valid RE2 regex"):
        LangIdConfig(placeholder_pattern="<(")
    project, manifest = _project(tmp_path / "p", {"language_checked": {"placeholder_pattern": "<("}})
    with pytest.raises(ValueError, match="placeholder_pattern"):
        stage_settings("language_checked", manifest, project)


def _decisions(table: pa.Table, config: QualityConfig) -> tuple[np.ndarray, dict[str, str]]:
    result = score_quality(table, kind="document", config=config)
    events = result.events.filter(pa.compute.equal(result.events["action"], "drop"))
    first: dict[str, str] = {}
    for doc, reason in zip(events["doc_id"].to_pylist(), events["reason"].to_pylist(), strict=True):
        first.setdefault(doc, reason)
    return np.asarray(result.keep, dtype=bool), first


def test_quality_decides_on_redacted_web_pages_as_on_the_originals(shared_data: Path) -> None:
    """Real web pages holding PII (Dolma's CC sample): every rule decides the same on the redacted text."""
    [path] = (shared_data / "dolma-cc-2019-sample").glob("*.jsonl.gz")
    texts = [json.loads(line)["text"] for line in gzip.open(path, "rt", encoding="utf-8")]
    original = normalize_text(_table(texts), kind="document").table
    redacted = redact_pii(original, kind="document", config=ALL_PII).table
    has_pii = np.array(redacted["pii_total"].to_pylist()) > 0
    assert has_pii.sum() >= 20  # the set holds real addresses and numbers
    before = _decisions(original.filter(pa.array(has_pii)), QualityConfig())
    after = _decisions(redacted.filter(pa.array(has_pii)), QualityConfig())
    assert (before[0] == after[0]).all() and before[1] == after[1]
    assert before[0].any() and not before[0].all()  # some kept, some dropped: the comparison means something
