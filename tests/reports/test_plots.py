"""The stage reports' plots: readable at any number of categories."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from curaline.reports.plots import MAX_BARS, bar_png, capped, histogram_png


def test_few_bars_are_drawn_as_given() -> None:
    assert capped(["b", "a"], [1, 5]) == (["b", "a"], [1.0, 5.0])  # the caller's order is kept


def test_many_bars_keep_the_largest_and_sum_the_rest() -> None:
    labels = [f"reason {i}" for i in range(300)]
    counts = [float(i % 97) for i in range(300)]
    names, values = capped(labels, counts)
    assert len(names) == MAX_BARS and names[-1] == f"{300 - MAX_BARS + 1} others"
    assert values[:-1] == sorted(values[:-1], reverse=True) and values[0] == 96.0
    assert sum(values) == sum(counts)  # nothing is lost from the picture's total


def test_a_plot_of_hundreds_of_categories_stays_a_small_image() -> None:
    png = bar_png([f"language_checked: lang_{i}" for i in range(300)], list(range(300)), title="removed")
    width, height = Image.open(io.BytesIO(png)).size
    assert width == 450 and height < 1000  # 5 x (0.35 x 25 + 0.8) inches at 90 dpi, not 9,500 px tall
    hist = Image.open(io.BytesIO(histogram_png(np.arange(1000.0), title="t", xlabel="x", threshold=500))).size
    assert hist == (450, 216)
