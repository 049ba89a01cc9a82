"""Source manifests: every class of mistake is caught, named by file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from curaline.sources import ALLOWED_KEYS, ManifestError, load_manifests, parse_manifest

GOOD = {
    "id": "wiki",
    "description": "encyclopedia articles",
    "location": "../corpus/wiki/*.jsonl",
    "format": "jsonl",
    "kind": "document",
    "fields": {"id": "id", "text": "body"},
    "license": "CC-BY-SA-4.0",
    "license_url": "https://creativecommons.org/licenses/by-sa/4.0/",
    "obtained": "public-dataset",
    "legal_basis": "licence",
    "personal_data": "none",
    "domain": "encyclopedia",
    "languages": ["en"],
    "owner": "data@example.com",
    "collected": "2026-01-15",
    "priority": 2,
}


def write(tmp_path: Path, data: object, name: str = "wiki") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def problems_of(tmp_path: Path, **changes: object) -> list[tuple[str, str]]:
    data = {**GOOD, **changes}
    data = {k: v for k, v in data.items() if v is not ...}
    with pytest.raises(ManifestError) as err:
        parse_manifest(write(tmp_path, data))
    return [(p.field, p.message) for p in err.value.problems]


def test_good_manifest_parses(tmp_path: Path) -> None:
    m = parse_manifest(write(tmp_path, GOOD))
    assert (m.id, m.kind, m.format, m.license, m.priority) == ("wiki", "document", "jsonl", "CC-BY-SA-4.0", 2)
    assert m.collected is not None and m.collected.isoformat() == "2026-01-15"
    assert m.declaration()["license_url"].startswith("https://")


def test_licence_is_normalized_by_the_spdx_parser(tmp_path: Path) -> None:
    m = parse_manifest(write(tmp_path, {**GOOD, "license": "cc-by-sa-4.0 or mit"}))
    assert m.license == "CC-BY-SA-4.0 OR MIT"


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    found = problems_of(tmp_path, licence="MIT")
    assert found[0][0] == "licence" and "unknown key" in found[0][1]
    assert "license" in found[0][1]  # lists what is allowed


@pytest.mark.parametrize("key", ["id", "location", "format", "kind", "license", "obtained"])
def test_required_keys(tmp_path: Path, key: str) -> None:
    assert (key, "is required") in problems_of(tmp_path, **{key: ...})


@pytest.mark.parametrize(
    ("key", "value", "allowed_word"),
    [("format", "xml", "jsonl.gz"), ("kind", "image", "preference"), ("obtained", "scraped", "web-crawl"),
     ("personal_data", "maybe", "expected")],
)  # fmt: skip
def test_enumerations_name_what_is_allowed(tmp_path: Path, key: str, value: str, allowed_word: str) -> None:
    (field, message), *_ = problems_of(tmp_path, **{key: value})
    assert field == key and repr(value) in message and allowed_word in message


def test_unknown_spdx_id(tmp_path: Path) -> None:
    (field, message), *_ = problems_of(tmp_path, license="Creative-Commons-ish")
    assert field == "license" and "unknown SPDX licence id" in message


def test_invalid_spdx_expression(tmp_path: Path) -> None:
    (field, message), *_ = problems_of(tmp_path, license="MIT AND (")
    assert field == "license" and "not a valid SPDX expression" in message


def test_licenseref_needs_a_url(tmp_path: Path) -> None:
    found = problems_of(tmp_path, license="LicenseRef-Partner-Agreement", license_url=...)
    assert found == [("license_url", "is required when the licence uses a custom LicenseRef (LicenseRef-Partner-Agreement)")]
    ok = parse_manifest(write(tmp_path, {**GOOD, "license": "LicenseRef-Partner-Agreement"}))
    assert ok.license == "LicenseRef-Partner-Agreement"


def test_synthetic_needs_generator_and_terms(tmp_path: Path) -> None:
    assert ("synthetic", "is required when obtained is 'synthetic' (generator, terms_url)") in problems_of(
        tmp_path, obtained="synthetic"
    )
    found = problems_of(tmp_path, obtained="synthetic", synthetic={"generator": "m", "terms_url": "ftp://x", "seed": 1})
    fields = {f for f, _ in found}
    assert fields == {"synthetic.terms_url", "synthetic.seed"}


def test_web_crawl_needs_crawl_details(tmp_path: Path) -> None:
    found = problems_of(tmp_path, obtained="web-crawl", crawl={"crawler": "bot", "tdm_opt_out": "maybe",
                                                                "period_start": "2026-02-01", "period_end": "2026-01-01"})  # fmt: skip
    fields = {f for f, _ in found}
    assert {"crawl.user_agent", "crawl.respects_robots_txt", "crawl.tdm_opt_out", "crawl.period_end"} <= fields


def test_fields_must_belong_to_the_kind(tmp_path: Path) -> None:
    (field, message), *_ = problems_of(tmp_path, fields={"text": "body", "chosen": "c"})
    assert field == "fields.chosen" and "kind 'document'" in message
    found = problems_of(tmp_path, kind="preference", fields={"prompt": "p"})
    assert {f for f, _ in found} == {"fields.chosen", "fields.rejected"}


def test_bad_date_priority_and_languages(tmp_path: Path) -> None:
    found = dict(problems_of(tmp_path, collected="last spring", priority="high", languages="en"))
    assert set(found) == {"collected", "priority", "languages"}


def test_id_must_match_file_name(tmp_path: Path) -> None:
    assert ("id", "'other' must match the file name 'wiki'") in problems_of(tmp_path, id="other")


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    found = problems_of(tmp_path, format="xml", kind="image", license="Nope", colour="blue")
    assert {f for f, _ in found} == {"format", "kind", "license", "colour"}


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "id: wiki\nlocation: [unclosed\n")
    with pytest.raises(ManifestError) as err:
        parse_manifest(path)
    assert str(path) in str(err.value) and "not valid YAML" in str(err.value)


def test_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="must be a YAML mapping"):
        parse_manifest(write(tmp_path, "- just\n- a list\n"))


def test_load_manifests_collects_every_file(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    write(tmp_path, {**GOOD, "id": "bad", "license": "Nope"}, name="bad")
    write(tmp_path, {**GOOD, "id": "worse", "kind": "video"}, name="worse")
    manifests, problems = load_manifests(tmp_path, strict=False)
    assert [m.id for m in manifests] == ["wiki"]
    assert {Path(p.file).name for p in problems} == {"bad.yaml", "worse.yaml"}
    with pytest.raises(ManifestError):
        load_manifests(tmp_path)


def test_allowed_keys_are_exactly_the_documented_ones() -> None:
    assert set(ALLOWED_KEYS) == {
        "id", "description", "location", "format", "kind", "fields", "license", "license_url", "obtained",
        "synthetic", "crawl", "legal_basis", "personal_data", "domain", "languages", "owner", "collected", "priority",
        "label_type", "labels", "target_source", "alpha_floor", "profile", "stages",
    }  # fmt: skip
