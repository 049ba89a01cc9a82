"""The extraction line filter: boilerplate lines out, the article in, measured on real pages."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from curaline.web import boilerplate as bp
from curaline.web.extract import ExtractConfig, _resiliparse, extract, parse_config, unsure
from curaline.web.reader import decode

REPO = Path(__file__).resolve().parents[2]

PARAGRAPHS = [
    "The river authority opened the new flood barrier on Tuesday after six years of construction, and engineers "
    "say it will protect about forty thousand homes along the lower valley from the kind of storm surge that "
    "overwhelmed the old defences in the winter floods.",
    "Residents who lost their homes in those floods watched the ceremony from the embankment. Many of them said "
    "they were relieved but would wait for the first real storm before they believed the barrier would hold, "
    "because earlier promises had come to little.",
    "The barrier cost more than twice the original estimate. The authority blamed rising steel prices and a long "
    "dispute over the design of the gates, which swing shut automatically when the water at the estuary gauge "
    "rises past a set mark for more than ten minutes.",
]
BOILER = ["Share on Facebook", "Sign up for our newsletter", "Copyright 2024 Valley News. All rights reserved.",
          "Related: Council votes on parking fees", "Photo: Getty Images"]  # fmt: skip


def article_page() -> str:
    related = "".join(f'<li><a href="/n/{i}">Council votes on the new parking fees for the town centre {i}</a></li>'
                      for i in range(5))  # fmt: skip
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        "<html><head><title>Barrier opens</title></head><body>"
        '<nav><a href="/">Home</a> | <a href="/news">News</a></nav>'
        "<article><h1>Flood barrier opens after six years</h1>"
        "<p>By Jane Smith | 12 March 2024 10:42</p>"
        f"{body}<p>Photo: Getty Images</p><p>Share on Facebook</p><p>Sign up for our newsletter</p></article>"
        f"<aside><h2>Related stories</h2><ul>{related}</ul></aside>"
        "<footer><p>Copyright 2024 Valley News. All rights reserved.</p></footer></body></html>"
    )


def test_boilerplate_lines_go_and_the_article_stays() -> None:
    html = article_page()
    raw = _resiliparse(html)
    assert "Share on Facebook" in raw and "By Jane Smith" in raw  # what Resiliparse alone keeps
    text, share = bp.filter_lines(html, raw)
    for paragraph in PARAGRAPHS:
        assert paragraph in text
    for line in ("Share on Facebook", "Sign up for our newsletter", "By Jane Smith", "Photo: Getty Images"):
        assert line not in text, line
    assert 0.0 <= share <= 1.0


CHINESE = [
    "河流管理局周二启用了新的防洪屏障，工程历时六年。工程师表示，它将保护下游山谷约四万户家庭免受风暴潮的侵袭，"
    "这种风暴潮曾在冬季洪水中冲垮旧的防御设施。",
    "在那些洪水中失去家园的居民在堤岸上观看了仪式。他们中的许多人表示松了一口气，但会等到第一场真正的风暴来临，"
    "才相信屏障能够挺住，因为早先的承诺几乎没有兑现。",
    "屏障的造价是最初估计的两倍多。管理局将此归咎于钢材价格上涨以及关于闸门设计的长期争议。"
    "当河口水位超过设定标记十分钟以上时，闸门会自动关闭。",
]


def test_a_chinese_article_is_judged_by_its_words_not_its_spaces() -> None:
    """Chinese has no spaces: read as one word a line, every paragraph looked like a menu item."""
    assert bp.word_count(CHINESE[0]) > 40 and bp.word_count("Share on Facebook") == 3
    html = ("<html><body><nav><a href='/'>首页</a> | <a href='/news'>新闻</a></nav><article><h1>防洪屏障启用</h1>"
            + "".join(f"<p>{p}</p>" for p in CHINESE) + "<p>分享到微博</p></article><footer>版权所有</footer></body></html>")  # fmt: skip
    text, share = bp.filter_lines(html, _resiliparse(html))
    for paragraph in CHINESE:
        assert paragraph in text
    assert share < ExtractConfig().max_unsure  # the cascade keeps Resiliparse's text: no trafilatura needed
    assert extract(html, ExtractConfig())[1] == "resiliparse"


def test_a_page_the_filter_would_empty_keeps_its_text() -> None:
    html = "<html><body><p>Home</p><p>Contact</p><p>Share</p></body></html>"
    text, share = bp.filter_lines(html, "Home\nContact\nShare")
    assert text == "Home\nContact\nShare" and share == 1.0
    assert bp.filter_lines("<html></html>", "  \n ") == ("", 1.0)


def test_the_cascade_escalates_on_the_unsure_share() -> None:
    config = ExtractConfig()
    long_text = "x " * 200
    assert config.signal == "lines" and config.max_unsure == bp.FITTED_MAX_UNSURE
    assert unsure("<html></html>", long_text, config, unsure_share=config.max_unsure)
    assert not unsure("<html></html>", long_text, config, unsure_share=config.max_unsure / 2)
    assert unsure("<html></html>", "too short", config, unsure_share=0.0)  # min_chars still applies
    text, used = extract(article_page(), config)
    assert used in ("resiliparse", "trafilatura") and PARAGRAPHS[0] in text and "Share on Facebook" not in text
    raw, _ = extract(article_page(), replace(config, extractor="resiliparse", line_filter=False))
    assert "Share on Facebook" in raw


def test_the_setting_is_checked_and_reaches_lineage() -> None:
    config, problems = parse_config({"signal": "lines", "max_unsure": 0.3, "line_filter": False})
    assert not problems and config.max_unsure == 0.3 and not config.line_filter
    _, problems = parse_config({"max_unsure": 2})
    assert problems and problems[0][0] == "extract.max_unsure"
    params = ExtractConfig().params()
    assert params["line_model"]["sha256"] == hashlib.sha256(bp.MODEL_PATH.read_bytes()).hexdigest()
    assert "line_model" not in ExtractConfig(extractor="trafilatura").params()


def test_a_model_file_for_other_features_is_refused(tmp_path: Path) -> None:
    spec = json.loads(bp.MODEL_PATH.read_text(encoding="utf-8"))
    spec["features"] = spec["features"][:-1]
    bad = tmp_path / "line_filter.json"
    bad.write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(ValueError, match=r"line_filter\.json.*refit"):
        bp.load_model.__wrapped__(bad)


def test_on_held_out_real_pages_the_filter_lifts_resiliparse(shared_data: Path) -> None:
    """The report half (md5 odd) of the article-extraction benchmark, which the fit never read."""
    folder = shared_data / "article-extraction-benchmark"
    from benchmarks.bench_extract import load_evaluate  # the benchmark's own metric

    ev = load_evaluate(folder)
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    report = {k: v for k, v in truth.items() if int(hashlib.md5(k.encode()).hexdigest(), 16) % 2 == 1}
    raw, filtered = [], []
    for key, value in report.items():
        html, _ = decode(gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes()), None)
        assert html is not None
        text = _resiliparse(html)
        body = value.get("articleBody", "")
        raw.append(ev.string_shingle_matching(true=body, pred=text))
        filtered.append(ev.string_shingle_matching(true=body, pred=bp.filter_lines(html, text)[0]))
    before, after = ev.metrics_from_tp_fp_fns(raw), ev.metrics_from_tp_fp_fns(filtered)
    assert after["precision"] > before["precision"] + 0.03  # the boilerplate it is for
    assert after["f1"] >= 0.95 and after["f1"] > before["f1"] + 0.01, (before, after)


def test_the_shipped_weights_are_what_the_fit_script_makes(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "fitted.json"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "fit_line_filter.py"), "--out", str(out),
                    "--data", str(shared_data / "article-extraction-benchmark")],
                   check=True, cwd=REPO, capture_output=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})  # fmt: skip
    fitted, shipped = json.loads(out.read_text()), json.loads(bp.MODEL_PATH.read_text())
    assert fitted["features"] == shipped["features"] and fitted["threshold"] == shipped["threshold"]
    for name in ("mean1", "scale1", "weights1", "mean2", "scale2", "weights2", "max_unsure"):
        np.testing.assert_allclose(fitted[name], shipped[name], rtol=1e-4, atol=1e-6, err_msg=name)
