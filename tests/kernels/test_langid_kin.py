"""The close-kin resolver: Afrikaans is no longer Dutch, Dutch stays Dutch."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from curaline.kernels import langid_kin
from curaline.kernels.langid import LangIdConfig, detect_language, model_versions

REPO = Path(__file__).resolve().parents[2]

AFRIKAANS = [
    "Die kinders speel elke middag in die park naby die skool.",
    "Ek het gister my ouma besoek en ons het saam koffie gedrink.",
    "Hulle woon al baie jare in 'n klein huis op die platteland.",
]
DUTCH = [
    "De kinderen spelen elke middag in het park bij de school.",
    "Ik heb gisteren mijn oma bezocht en we hebben samen koffie gedronken.",
    "Zij wonen al vele jaren in een klein huis op het platteland.",
]


def _labels(texts: list[str], config: LangIdConfig | None = None) -> pa.Table:
    table = pa.table({"doc_id": [f"d{i}" for i in range(len(texts))], "text": texts})
    return detect_language(table, kind="document", config=config or LangIdConfig()).table


def test_the_pair_is_told_apart_by_its_words() -> None:
    language = np.array(["nl"] * 3 + ["af"] * 3 + ["de", "nl"], dtype=object)
    texts = AFRIKAANS + DUTCH + ["Die Kinder spielen im Park.", "12345 !!!"]
    changed = langid_kin.resolve(texts, language)
    assert language.tolist() == ["af"] * 3 + ["nl"] * 3 + ["de", "nl"]  # German untouched; no known word: kept
    assert changed.tolist() == [True] * 6 + [False, False]


def test_the_stage_labels_afrikaans_and_keeps_dutch() -> None:
    table = _labels(AFRIKAANS + DUTCH)
    assert table.column("language").to_pylist() == ["af"] * 3 + ["nl"] * 3
    assert set(table.column("lang_model").to_pylist()) <= {"eld", "lid176", "kin"}
    off = _labels(AFRIKAANS + DUTCH, LangIdConfig(kin=False))
    assert "kin" not in off.column("lang_model").to_pylist()


def test_the_model_file_reaches_lineage_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    tags = model_versions()
    assert langid_kin.load().sha256 in tags["langid.kin"] and "af/nl" in tags["langid.kin"]
    spec = json.loads(langid_kin.MODEL_PATH.read_text(encoding="utf-8"))
    spec["pairs"].append({**spec["pairs"][0], "languages": ["af", "de"]})
    bad = tmp_path / "kin.json"
    bad.write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(ValueError, match=r"kin\.json.*two pairs"):
        langid_kin.load.__wrapped__(bad)


def _udhr(shared_data: Path, name: str) -> list[str]:
    with zipfile.ZipFile(shared_data / "udhr-multilingual" / "udhr2.zip") as z:
        text = z.read(f"udhr2/{name}.txt").decode("utf-8")
    return [x.strip() for x in text.splitlines() if len(x.strip()) >= 20][:200]


def test_held_out_udhr_afrikaans_and_dutch(shared_data: Path) -> None:
    """UDHR is the held-out set: the model was built from the Lingua sentences only."""
    af, nl = _udhr(shared_data, "afr"), _udhr(shared_data, "nld")
    got_af = np.array(_labels(af).column("language").to_pylist(), dtype=object)
    before = np.array(_labels(af, LangIdConfig(kin=False)).column("language").to_pylist(), dtype=object)
    got_nl = np.array(_labels(nl).column("language").to_pylist(), dtype=object)
    assert (got_af == "af").mean() >= 0.95 > (before == "af").mean()  # measured: 0.983 vs 0.750
    assert (got_nl == "nl").mean() >= 0.98


def test_the_shipped_model_is_what_the_build_script_makes(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "kin.json"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "build_langid_kin.py"), "--out", str(out)],
                   check=True, cwd=REPO, capture_output=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert out.read_bytes() == langid_kin.MODEL_PATH.read_bytes()
