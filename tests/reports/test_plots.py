"""The stage reports' plots: well-formed SVG, readable at any number of categories, honest axes."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from curaline.reports.plots import (
    MAX_BARS,
    THRESHOLD_COLOR,
    bar_svg,
    capped,
    grouped_bar_svg,
    histogram_svg,
    log_ticks,
    nice_ticks,
    steps_svg,
    svg_markdown,
    tick_label,
)

NS = "{http://www.w3.org/2000/svg}"


def _tree(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # well-formed, or this raises
    assert root.tag == f"{NS}svg"
    return root


def _bars(root: ET.Element) -> list[str]:
    """The tooltips of the drawn bars (every data rect has one; the background has none)."""
    return [r.findtext(f"{NS}title") or "" for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{NS}text")]


def test_few_bars_are_drawn_as_given() -> None:
    assert capped(["b", "a"], [1, 5]) == (["b", "a"], [1.0, 5.0])  # the caller's order is kept
    root = _tree(bar_svg(["b", "a"], [1, 5], title="removed"))
    assert _bars(root) == ["b: 1", "a: 5"]
    assert "removed" in _texts(root) and "5" in _texts(root)  # the value is written at the bar's end


def test_many_bars_keep_the_largest_and_sum_the_rest() -> None:
    labels = [f"reason {i}" for i in range(300)]
    counts = [float(i % 97) for i in range(300)]
    names, values = capped(labels, counts)
    assert len(names) == MAX_BARS and names[-1] == f"{300 - MAX_BARS + 1} others"
    assert values[:-1] == sorted(values[:-1], reverse=True) and values[0] == 96.0
    assert sum(values) == sum(counts)  # nothing is lost from the picture's total


def test_a_plot_of_hundreds_of_categories_stays_a_small_image() -> None:
    root = _tree(bar_svg([f"language_checked: lang_{i}" for i in range(300)], list(range(300)), title="removed"))
    assert root.get("width") == "450" and float(root.get("height", "0")) < 1000
    assert len(_bars(root)) == MAX_BARS
    hist = _tree(histogram_svg(np.arange(1000.0), title="t", xlabel="x", threshold=500))
    assert (hist.get("width"), hist.get("height")) == ("450", "216")


def test_user_text_is_escaped_and_long_labels_are_shortened() -> None:
    evil = '<script>alert("x")</script> & "quotes" ' + "x" * 80
    root = _tree(bar_svg([evil], [3], title=f"by source {evil}"))
    assert not list(root.iter(f"{NS}script"))  # text, never markup
    assert _bars(root) == [f"{evil}: 3"]  # the tooltip keeps the whole label
    drawn = [t for t in _texts(root) if t.startswith("<script>")]
    assert any(t.endswith("…") and len(t) == 40 for t in drawn)


def test_histogram_counts_every_value_and_draws_the_threshold_inside() -> None:
    values = np.array([1.0, 1.0, 2.0, 3.0, np.nan, np.inf])
    root = _tree(histogram_svg(values, title="t", xlabel="x", bins=2, threshold=10.0))
    counts = [int(b.rsplit(": ", 1)[1]) for b in _bars(root)]
    assert sum(counts) == 4  # NaN and inf are not drawn, every finite value is
    red = [ln for ln in root.iter(f"{NS}line") if ln.get("stroke") == THRESHOLD_COLOR]
    assert len(red) == 1
    x = float(red[0].get("x1", "nan"))
    assert 0 < x <= 450 - 14 + 0.5  # a threshold past the data widens the axis instead of leaving it out


def test_histogram_on_a_log_axis_has_decade_ticks() -> None:
    root = _tree(histogram_svg(np.logspace(0, 5, 200), title="length", xlabel="characters", log_x=True))
    assert {"1", "10", "100", "1000", "10k", "100k"} <= set(_texts(root))


@pytest.mark.parametrize("values", [np.array([]), np.array([np.nan]), np.array([-1.0, 0.0])])
def test_histogram_of_nothing_says_so(values: np.ndarray) -> None:
    root = _tree(histogram_svg(values, title="t", xlabel="x", log_x=True))
    assert not _bars(root) and "no values" in _texts(root)


def test_grouped_bars_and_steps_have_a_legend_for_each_series() -> None:
    root = _tree(grouped_bar_svg(["en", "de"], [("v1", [0.6, 0.4], "#111111"), ("v2", [0.5, 0.5], "#222222")],
                                 title="shares"))  # fmt: skip
    assert _bars(root) == ["en (v1): 0.6", "en (v2): 0.5", "de (v1): 0.4", "de (v2): 0.5"]
    assert {"v1", "v2"} <= set(_texts(root))
    steps = _tree(steps_svg([1, 10, 100], [("v1", [0.2, 0.8], "#111111"), ("v2", [0.5, 0.5], "#222222")],
                            title="length", xlabel="tokens", ylabel="share", log_x=True))  # fmt: skip
    assert len(list(steps.iter(f"{NS}polyline"))) == 2 and {"v1", "v2", "10"} <= set(_texts(steps))


def test_reference_line_and_per_bar_colours() -> None:
    root = _tree(bar_svg(["a", "b"], [0.5, 3.0], title="drift", reference=1.0, colors=["#0000FF", "#FF0000"]))
    fills = [r.get("fill") for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]
    assert fills == ["#0000FF", "#FF0000"]
    assert any(ln.get("stroke-dasharray") for ln in root.iter(f"{NS}line"))


def test_ticks_are_round_numbers() -> None:
    assert nice_ticks(0, 97) == ([0, 20, 40, 60, 80], 20)
    assert nice_ticks(0, 1)[0] == [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
    assert [tick_label(t, 0.25) for t in (0.25, 0.5)] == ["0.25", "0.50"]
    assert [tick_label(t, 2.0) for t in nice_ticks(0, 9.5)[0]] == ["0", "2", "4", "6", "8"]
    assert tick_label(40000, 10000) == "40k" and tick_label(2_000_000, 500_000) == "2M"
    assert log_ticks(3, 2e5) == [10, 100, 1000, 10000, 100000]


def test_markdown_embeds_the_svg_as_a_data_uri() -> None:
    svg = bar_svg(["a"], [1], title="t")
    md = svg_markdown(svg, "removed [by reason]")
    assert md.startswith("![removed (by reason)](data:image/svg+xml;base64,")
    assert base64.b64decode(md.split(",", 1)[1].rstrip(")")).decode() == svg
