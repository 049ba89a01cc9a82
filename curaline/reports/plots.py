"""Small SVG plots for stage reports, embedded in Markdown as data URIs.

The Dagster UI has no image metadata type, but its Markdown renders an image whose source is
a `data:` URI, so each report carries its plot without any file server. The plots are written
as SVG here rather than drawn with matplotlib: a `curaline run` draws about twenty of them
per source, and matplotlib's import and rendering were over a CPU second of a small run's
fixed cost. SVG text is also sharp at any zoom and a tenth of the PNG's size in the event log.
Every label is escaped: source names and reasons are the user's text.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

import numpy as np

WIDTH = 450
INK, GRID, MUTED = "#111827", "#E5E7EB", "#4B5563"
HIST_COLOR, BAR_COLOR, THRESHOLD_COLOR = "#4F46E5", "#0EA5E9", "#DC2626"
#: old and new version, when two series are compared (drift)
SERIES_COLORS = ("#94A3B8", "#4F46E5")

#: bars drawn at most; past it the largest are drawn and the rest summed into one bar (the
#: tables beside the plots list every row: a plot of hundreds of bars is a tall, unreadable image)
MAX_BARS = 25
#: label characters drawn before an ellipsis (the whole label is the bar's tooltip)
MAX_LABEL = 40
_CHAR_W = 5.6  # average width of a 10 px sans-serif character, for margins


def _x(s: object) -> str:
    return escape(str(s), {'"': "&quot;"})


def _f(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def tick_label(v: float, step: float) -> str:
    """A tick's text: as few digits as its spacing needs, k/M for large counts."""
    if v == 0:
        return "0"
    if abs(v) >= 1e6 and step >= 1e5:
        return f"{v / 1e6:g}M"
    if abs(v) >= 1e4 and step >= 1e3:
        return f"{v / 1e3:g}k"
    decimals = 0
    while decimals < 8 and not math.isclose(step * 10**decimals, round(step * 10**decimals), rel_tol=1e-6):
        decimals += 1
    return f"{v:.{decimals}f}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> tuple[list[float], float]:
    """About n round ticks spanning [lo, hi], and their spacing."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo], 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw * (1 - 1e-9))
    first = math.ceil(lo / step - 1e-9)
    ticks = [(first + i) * step for i in range(int(math.floor(hi / step + 1e-9)) - first + 1)]
    return ticks, step


def log_ticks(lo: float, hi: float) -> list[float]:
    """The powers of ten inside [lo, hi] (lo > 0), thinned to at most eight."""
    a, b = math.ceil(math.log10(lo) - 1e-9), math.floor(math.log10(hi) + 1e-9)
    exps = list(range(a, b + 1))
    stride = max(1, math.ceil(len(exps) / 8))
    return [10.0**e for e in exps[::stride]]


class _Plot:
    """One SVG figure: a plotting area inside margins, data-to-pixel scales, and its elements."""

    def __init__(self, height: float, *, left: float, right: float = 14, top: float = 26, bottom: float = 34,
                 title: str = "") -> None:  # fmt: skip
        self.height, self.left, self.right, self.top, self.bottom = height, left, WIDTH - right, top, height - bottom
        self.parts = [f'<rect width="{WIDTH}" height="{_f(height)}" fill="#FFFFFF"/>']
        if title:
            self.text(WIDTH / 2, 16, title, size=11, anchor="middle", weight="600")
        self.x0, self.x1, self.log_x = 0.0, 1.0, False

    def set_x(self, lo: float, hi: float, log: bool = False) -> None:
        if log:
            lo, hi = math.log10(lo), math.log10(hi)
        self.x0, self.x1, self.log_x = lo, (hi if hi > lo else lo + 1.0), log

    def px(self, v: float) -> float:
        """Data x to pixels."""
        if self.log_x:
            v = math.log10(max(v, 1e-300))
        return self.left + (v - self.x0) / (self.x1 - self.x0) * (self.right - self.left)

    def text(self, x: float, y: float, s: str, *, size: int = 9, anchor: str = "start", weight: str = "normal",
             color: str = INK, rotate: bool = False) -> None:  # fmt: skip
        turn = f' transform="rotate(-90 {_f(x)} {_f(y)})"' if rotate else ""
        bold = f' font-weight="{weight}"' if weight != "normal" else ""
        self.parts.append(f'<text x="{_f(x)}" y="{_f(y)}" font-size="{size}" text-anchor="{anchor}" fill="{color}"'
                          f'{bold}{turn}>{_x(s)}</text>')  # fmt: skip

    def rect(self, x: float, y: float, w: float, h: float, color: str, tip: str | None = None) -> None:
        inner = f"<title>{_x(tip)}</title>" if tip else ""
        self.parts.append(f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(max(w, 0.0))}" height="{_f(max(h, 0.0))}" '
                          f'fill="{color}">{inner}</rect>')  # fmt: skip

    def line(self, x1: float, y1: float, x2: float, y2: float, color: str = INK, width: float = 1.0,
             dashed: bool = False) -> None:  # fmt: skip
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        self.parts.append(f'<line x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}" stroke="{color}" '
                          f'stroke-width="{width:g}"{dash}/>')  # fmt: skip

    def x_axis(self, label: str | None) -> None:
        """Ticks, grid lines and their labels under the plotting area."""
        if self.log_x:
            ticks = log_ticks(10**self.x0, 10**self.x1)
            labels = [tick_label(t, t) for t in ticks]
        else:
            ticks, step = nice_ticks(self.x0, self.x1)
            labels = [tick_label(t, step) for t in ticks]
        for t, s in zip(ticks, labels, strict=True):
            x = self.px(t)
            if self.left - 0.5 <= x <= self.right + 0.5:
                self.line(x, self.top, x, self.bottom, GRID)
                self.text(x, self.bottom + 12, s, anchor="middle", color=MUTED)
        self.line(self.left, self.bottom, self.right, self.bottom, MUTED)
        if label:
            self.text((self.left + self.right) / 2, self.height - 6, label, size=10, anchor="middle")

    def legend(self, names: Sequence[str], colors: Sequence[str]) -> None:
        x = self.right - 4
        for name, color in reversed(list(zip(names, colors, strict=True))):
            width = len(name) * _CHAR_W * 0.9 + 16
            x -= width
            self.rect(x, self.top - 13, 9, 9, color)  # in the band between the title and the plot
            self.text(x + 12, self.top - 5, name, color=MUTED)

    def svg(self) -> str:
        body = "".join(self.parts)
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{_f(self.height)}" '
                f'viewBox="0 0 {WIDTH} {_f(self.height)}" font-family="DejaVu Sans, Arial, sans-serif">{body}</svg>')  # fmt: skip


def _y_scale(plot: _Plot, top_value: float, label: str) -> tuple[float, float]:
    """A count axis on the left: returns the pixels per unit and the axis's maximum."""
    ticks, step = nice_ticks(0.0, top_value)
    if ticks[-1] < top_value * (1 - 1e-9):  # the axis ends on a tick above the tallest bar
        ticks.append(ticks[-1] + step)
    top = ticks[-1]
    scale = (plot.bottom - plot.top) / top if top > 0 else 0.0
    for t in ticks:
        y = plot.bottom - t * scale
        plot.line(plot.left, y, plot.right, y, GRID)
        plot.text(plot.left - 4, y + 3, tick_label(t, step), anchor="end", color=MUTED)
    plot.line(plot.left, plot.top, plot.left, plot.bottom, MUTED)
    plot.text(12, (plot.top + plot.bottom) / 2, label, size=10, anchor="middle", rotate=True)
    return scale, top


def _histogram_bins(data: np.ndarray, bins: int, log_x: bool) -> tuple[np.ndarray, np.ndarray, bool]:
    if log_x:
        data = data[data > 0]
        if data.size:
            lo, hi = max(float(data.min()), 1e-9), max(float(data.max()), 1e-9)
            edges = np.logspace(np.log10(lo), np.log10(hi) + 1e-9, bins)
            return np.histogram(data, bins=edges)[0], edges, True
    if not data.size:
        return np.zeros(1, dtype=np.int64), np.array([0.0, 1.0]), False
    if float(np.ptp(data)) <= 1e-9 * max(1.0, float(np.abs(data).max())):
        # one value give or take float rounding (e.g. Dawid-Skene posteriors one ulp apart):
        # numpy cannot cut so narrow a range into `bins` finite bins and raises
        mid = float(data.mean())
        return np.array([data.size]), np.array([mid - 0.5, mid + 0.5]), False
    counts, edges = np.histogram(data, bins=bins)
    return counts, edges, False


def histogram_svg(
    values: Sequence[float] | np.ndarray,
    *,
    title: str,
    xlabel: str,
    bins: int = 40,
    log_x: bool = False,
    threshold: float | None = None,
    ylabel: str = "records",
) -> str:
    """A compact histogram; a threshold, if given, is drawn as a red line."""
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    counts, edges, log_x = _histogram_bins(data, bins, log_x)
    lo, hi = float(edges[0]), float(edges[-1])
    if threshold is not None and math.isfinite(threshold) and (threshold > 0 or not log_x):
        lo, hi = min(lo, threshold), max(hi, threshold)  # the line is always inside the picture
    plot = _Plot(216, left=58, title=title)
    plot.set_x(lo, hi, log_x)
    scale, _ = _y_scale(plot, float(counts.max()) or 1.0, ylabel)
    plot.x_axis(xlabel)
    for c, a, b in zip(counts, edges[:-1], edges[1:], strict=True):
        if c:
            x0, x1 = plot.px(float(a)), plot.px(float(b))
            plot.rect(x0, plot.bottom - c * scale, max(x1 - x0 - 0.6, 0.6), c * scale, HIST_COLOR,
                      tip=f"{a:.4g} – {b:.4g}: {int(c)}")  # fmt: skip
    if not counts.any():
        plot.text((plot.left + plot.right) / 2, (plot.top + plot.bottom) / 2, "no values", anchor="middle", color=MUTED)
    if threshold is not None and math.isfinite(threshold) and (threshold > 0 or not log_x):
        x = plot.px(threshold)
        plot.line(x, plot.top, x, plot.bottom, THRESHOLD_COLOR, 1.4)
    return plot.svg()


def capped(labels: Sequence[str], counts: Sequence[float], limit: int = MAX_BARS) -> tuple[list[str], list[float]]:
    """The labels and counts to draw: all of them, or the limit - 1 largest and one bar for the rest."""
    if len(labels) <= limit:
        return [str(x) for x in labels], [float(c) for c in counts]
    order = sorted(range(len(labels)), key=lambda i: -float(counts[i]))
    top, rest = order[: limit - 1], order[limit - 1 :]
    return ([str(labels[i]) for i in top] + [f"{len(rest)} others"],
            [float(counts[i]) for i in top] + [float(sum(counts[i] for i in rest))])  # fmt: skip


def _value(v: float) -> str:
    """A bar's value as written beside it: a count with separators, a share with three digits."""
    if not math.isfinite(v):
        return str(v)
    return f"{int(v):,}" if v == int(v) else f"{v:.3g}"


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def grouped_bar_svg(categories: Sequence[str], series: Sequence[tuple[str, Sequence[float], str]], *, title: str,
                    xlabel: str | None = None, reference: float | None = None,
                    colors: Sequence[str] | None = None) -> str:  # fmt: skip
    """Horizontal bars, one row per category and one bar per series in it, top to bottom in the
    given order; a legend when there are several series, a dashed reference line if given,
    per-row colours (one series) if given. Each bar's value is written at its end."""
    names = [str(c) for c in categories]
    per_row = len(series)
    row = 8 + 12 * per_row
    shown = [_short(n) for n in names]
    left = min(0.6 * WIDTH, 10 + max((len(s) for s in shown), default=1) * _CHAR_W)
    bottom = 34 if xlabel else 22
    top = 26 + (14 if per_row > 1 else 0)
    plot = _Plot(top + row * max(len(names), 1) + bottom, left=left, right=44, top=top, bottom=bottom, title=title)
    values = [float(v) for _, vs, _ in series for v in vs if math.isfinite(float(v))]
    hi = max([*values, reference or 0.0, 0.0])
    plot.set_x(0.0, hi * 1.02 if hi > 0 else 1.0)
    plot.x_axis(xlabel)
    for i, (name, label) in enumerate(zip(names, shown, strict=True)):
        y = plot.top + i * row + 4
        plot.text(left - 5, y + row / 2 + 0.5, label, anchor="end")
        for j, (sname, vs, color) in enumerate(series):
            v = float(vs[i])
            fill = colors[i] if colors is not None and per_row == 1 else color
            width = plot.px(v) - left if math.isfinite(v) and v > 0 else 0.0
            tip = f"{name}: {v:g}" if per_row == 1 else f"{name} ({sname}): {v:g}"
            plot.rect(left, y + j * 12, width, 10, fill, tip=tip)
            plot.text(left + width + 3, y + j * 12 + 8.5, _value(v), size=8, color=MUTED)
    plot.line(left, plot.top, left, plot.bottom, MUTED)
    if reference is not None:
        x = plot.px(reference)
        plot.line(x, plot.top, x, plot.bottom, INK, 1.0, dashed=True)
    if per_row > 1:
        plot.legend([s for s, _, _ in series], [c for _, _, c in series])
    return plot.svg()


def bar_svg(labels: Sequence[str], counts: Sequence[float], *, title: str, xlabel: str | None = None,
            reference: float | None = None, colors: Sequence[str] | None = None) -> str:  # fmt: skip
    """Horizontal bars in the given order, e.g. records removed by reason (at most MAX_BARS: see `capped`)."""
    names, values = capped(labels, counts)
    if colors is not None and len(names) != len(labels):
        colors = None  # capped: the colours no longer match the rows
    return grouped_bar_svg(names, [("", values, BAR_COLOR)], title=title, xlabel=xlabel, reference=reference,
                           colors=colors)  # fmt: skip


def steps_svg(edges: Sequence[float], series: Sequence[tuple[str, Sequence[float], str]], *, title: str,
              xlabel: str, ylabel: str, log_x: bool = False) -> str:  # fmt: skip
    """Distributions over the same bins drawn as step lines (one per series), with a legend."""
    e = np.asarray(edges, dtype=float)
    if log_x and e.size and e[0] <= 0:
        log_x = False
    plot = _Plot(216, left=58, top=40, title=title)
    if e.size < 2:
        plot.set_x(0.0, 1.0)
    else:
        plot.set_x(float(e[0]), float(e[-1]), log_x)
    top_value = max([float(v) for _, vs, _ in series for v in vs] + [0.0])
    scale, _ = _y_scale(plot, top_value if top_value > 0 else 1.0, ylabel)
    plot.x_axis(xlabel)
    for _, vs, color in series:
        points: list[str] = []
        for v, a, b in zip(vs, e[:-1], e[1:], strict=False):
            y = plot.bottom - float(v) * scale
            points += [f"{_f(plot.px(float(a)))},{_f(y)}", f"{_f(plot.px(float(b)))},{_f(y)}"]
        if points:
            plot.parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="{color}" stroke-width="1.5"/>')
    plot.legend([s for s, _, _ in series], [c for _, _, c in series])
    return plot.svg()


def svg_markdown(svg: str, alt: str) -> str:
    """The plot as a Markdown image (a base64 data URI: the UI's sanitizer allows `data:` sources)."""
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f"![{alt.replace(']', ')').replace('[', '(')}](data:image/svg+xml;base64,{data})"
