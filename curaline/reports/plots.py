"""Small PNG plots for stage reports, embedded in Markdown as data URIs.

The Dagster UI has no image metadata type, but it renders a base64 PNG inside
Markdown inline, so each stage report carries its plot without any file server.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np


def histogram_png(
    values: Sequence[float] | np.ndarray,
    *,
    title: str,
    xlabel: str,
    bins: int = 40,
    log_x: bool = False,
    threshold: float | None = None,
) -> bytes:
    """A compact histogram; a threshold, if given, is drawn as a red line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    fig, ax = plt.subplots(figsize=(5.0, 2.4), dpi=90)
    if data.size:
        if log_x:
            data = data[data > 0]
            edges = np.logspace(np.log10(max(data.min(), 1e-9)), np.log10(max(data.max(), 1e-9)) + 1e-9, bins)
            ax.hist(data, bins=list(edges), color="#4F46E5")
            ax.set_xscale("log")
        elif float(np.ptp(data)) <= 1e-9 * max(1.0, float(np.abs(data).max())):
            # one value give or take float rounding (e.g. Dawid-Skene posteriors one ulp apart):
            # numpy cannot cut so narrow a range into `bins` finite bins and raises
            mid = float(data.mean())
            ax.hist(data, bins=1, range=(mid - 0.5, mid + 0.5), color="#4F46E5")
        else:
            ax.hist(data, bins=bins, color="#4F46E5")
    if threshold is not None:
        ax.axvline(threshold, color="#DC2626", linewidth=1.2)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("records", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.subplots_adjust(left=0.14, right=0.97, top=0.88, bottom=0.2)  # fixed margins: tight_layout measured every label
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


#: bars drawn at most; past it the largest are drawn and the rest summed into one bar (the
#: tables beside the plots list every row: a plot of hundreds of bars is a tall, unreadable image)
MAX_BARS = 25


def capped(labels: Sequence[str], counts: Sequence[float], limit: int = MAX_BARS) -> tuple[list[str], list[float]]:
    """The labels and counts to draw: all of them, or the limit - 1 largest and one bar for the rest."""
    if len(labels) <= limit:
        return [str(x) for x in labels], [float(c) for c in counts]
    order = sorted(range(len(labels)), key=lambda i: -float(counts[i]))
    top, rest = order[: limit - 1], order[limit - 1 :]
    return ([str(labels[i]) for i in top] + [f"{len(rest)} others"],
            [float(counts[i]) for i in top] + [float(sum(counts[i] for i in rest))])  # fmt: skip


def bar_png(labels: Sequence[str], counts: Sequence[float], *, title: str) -> bytes:
    """Horizontal bars, e.g. records removed by reason (at most MAX_BARS: see `capped`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, counts = capped(labels, counts)
    height = 0.35 * max(len(labels), 2) + 0.8
    fig, ax = plt.subplots(figsize=(5.0, height), dpi=90)
    # numeric positions and fixed margins: string categories and tight_layout cost a callback and a
    # text measurement per label, several times the drawing itself
    names = labels[::-1]
    ax.barh(np.arange(len(names)), list(counts)[::-1], color="#0EA5E9")
    ax.set_yticks(np.arange(len(names)), names)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    longest = max((len(n) for n in names), default=1)
    left = min(0.6, 0.04 + longest * 7 * 0.6 / 72 / 5.0)  # label width: characters x 7 pt x ~0.6 em
    fig.subplots_adjust(left=left, right=0.97, top=1 - 0.35 / height, bottom=0.35 / height)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def png_markdown(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
