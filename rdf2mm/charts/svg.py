"""Inline SVG charts for the HTML report: lines, bars, a confusion matrix and a scatter.

Every chart scales to the page width (``width="100%"`` with a ``viewBox``), puts its
axis ticks at round numbers (:func:`nice_ticks`: 1, 2 or 5 times a power of ten)
with compact labels (:func:`tick_label`), keeps its legend beside the plot rather
than over it, writes names in full (rotated or wrapped, never cut) and carries an
SVG ``<title>`` on every mark, which browsers show on hover.
"""
from __future__ import annotations

import html
import math
from collections import defaultdict
from typing import Any, Callable, Mapping, Sequence

import numpy as np

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
#: viewBox size of the line and scatter charts, and their margins
W, H = 900, 320
LEFT, TOP, BOTTOM = 70, 14, 46
LEGEND = 210  # room right of the plot for the legend
CHAR = 6.2  # approximate width of one 11px character, for laying out labels


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def nice_step(span: float, count: int = 5) -> float:
    """The 1/2/5 x 10^k step that cuts ``span`` into at most about ``count`` - 1 intervals."""
    raw = span / max(count - 1, 1)
    if not math.isfinite(raw) or raw <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * magnitude >= raw * (1 - 1e-9):
            return m * magnitude
    return 10 * magnitude


def nice_ticks(lo: float, hi: float, count: int = 5, integer: bool = False) -> list[float]:
    """Round tick values covering ``[lo, hi]``: the first at or below ``lo``, the last at or above ``hi``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi < lo:
        lo, hi = hi, lo
    if hi - lo < 1e-12:
        pad = abs(lo) * 0.1 or 0.5
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo, count)
    if integer:
        step = max(step, 1.0)
    start, stop = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [float(f"{i * step:.12g}") for i in range(start, stop + 1)]


def _sci(value: float) -> str:
    mantissa, exponent = f"{value:.1e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def tick_label(value: float, step: float) -> str:
    """A short label for a tick on an axis whose ticks are ``step`` apart: ``0.25``, ``40``, ``3e-6``."""
    if abs(value) < step * 1e-6:
        return "0"
    if step >= 1 and abs(value) < 1e6:
        return f"{value:.0f}"
    if step < 1e-3 or abs(value) >= 1e6:
        return _sci(value)
    decimals = max(0, math.ceil(-math.log10(step) - 1e-9))
    return f"{value:.{decimals}f}"


def value_text(value: float) -> str:
    """A value for people (hover titles, bar labels): four significant figures, no long exponents."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    return _sci(value) if abs(value) < 1e-3 or abs(value) >= 1e6 else f"{value:.4g}"


class Scale:
    """A linear map from data values onto a pixel range, over round tick values."""

    def __init__(self, lo: float, hi: float, a: float, b: float, count: int = 5, integer: bool = False,
                 ticks: Sequence[float] | None = None):
        self.ticks = list(ticks) if ticks is not None else nice_ticks(lo, hi, count, integer)
        self.lo, self.hi, self.a, self.b = self.ticks[0], self.ticks[-1], a, b
        self.step = (self.ticks[1] - self.ticks[0]) if len(self.ticks) > 1 else 1.0

    def __call__(self, v: float) -> float:
        return self.a + (v - self.lo) / ((self.hi - self.lo) or 1.0) * (self.b - self.a)

    def label(self, v: float) -> str:
        return tick_label(v, self.step)


def svg(kind: str, body: list[str], width: float, height: float, grow: bool = True) -> str:
    """The ``<svg>`` element: as wide as its column, keeping its aspect ratio (``grow=False``:
    never drawn larger than its own size, for small charts such as a few bars)."""
    limit = "" if grow else f' style="max-width:{width * 1.25:.0f}px"'
    return (f'<svg class="chart {kind}" xmlns="http://www.w3.org/2000/svg" width="100%" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" preserveAspectRatio="xMinYMin meet" role="img"{limit}>'
            + "".join(body) + "</svg>")


def axes(xs: Scale, ys: Scale, xlabel: str, ylabel: str, right: float, bottom: float) -> list[str]:
    """Axis lines, light grid lines at the ticks, tick labels and axis titles."""
    parts = []
    for v in ys.ticks:
        y = ys(v)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{ys.label(v)}</text>')
    for v in xs.ticks:
        x = xs(v)
        parts.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" font-size="11">{xs.label(v)}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333"/>')
    parts.append(f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#333"/>')
    parts.append(f'<text x="{(LEFT + right) / 2:.0f}" y="{bottom + 36}" text-anchor="middle" font-size="12">{esc(xlabel)}</text>')
    mid = (TOP + bottom) / 2
    parts.append(f'<text x="14" y="{mid:.0f}" text-anchor="middle" font-size="12" '
                 f'transform="rotate(-90 14 {mid:.0f})">{esc(ylabel)}</text>')
    return parts


def legend(entries: Sequence[tuple[str, str, str]], x: float) -> list[str]:
    """Legend rows (label, colour, shape: line/dashed/dot) in the margin right of the plot."""
    parts = []
    for i, (label, colour, shape) in enumerate(entries[:20]):
        y = TOP + 10 + 18 * i
        if shape == "dot":
            parts.append(f'<circle cx="{x + 8}" cy="{y - 4}" r="5" fill="{colour}"/>')
        else:
            dash = {"dashed": ' stroke-dasharray="5 3"', "dotted": ' stroke-dasharray="2 3"'}.get(shape, "")
            parts.append(f'<line x1="{x}" y1="{y - 4}" x2="{x + 18}" y2="{y - 4}" stroke="{colour}" stroke-width="2"{dash}/>')
        parts.append(f'<text x="{x + 24}" y="{y}" font-size="11">{esc(label)}</text>')
    if len(entries) > 20:
        parts.append(f'<text x="{x}" y="{TOP + 10 + 18 * 20}" font-size="11">… {len(entries) - 20} more</text>')
    return parts


def line_chart(kind: str, curve: list[dict[str, float]], columns: list[str], ylabel: str,
               best_epochs: Mapping[int, int] | None = None) -> str:
    """One polyline per (column, seed) against epoch; the best epoch of each seed marked.

    Each point carries a hover title with its value; ``best_epochs`` maps seed -> epoch.
    """
    series = []
    for ci, col in enumerate(columns):
        by_seed: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for r in curve:
            v = r.get(col, float("nan"))
            if math.isfinite(v) and math.isfinite(r.get("epoch", float("nan"))):
                by_seed[int(r.get("seed", 0))].append((r["epoch"], v))
        for si, (seed, pts) in enumerate(sorted(by_seed.items())):
            series.append((col, seed, ci, si, sorted(pts)))
    points = [p for s in series for p in s[4]]
    if not points:
        return ""
    right, bottom = W - LEGEND, H - BOTTOM
    xs = Scale(min(p[0] for p in points), max(p[0] for p in points), LEFT, right, count=8, integer=True)
    ys = Scale(min(p[1] for p in points), max(p[1] for p in points), bottom, TOP)
    body = axes(xs, ys, "epoch", ylabel, right, bottom)
    seeds = sorted({s[1] for s in series})
    for seed, epoch in sorted((best_epochs or {}).items()):
        if seed not in seeds or not xs.lo <= epoch <= xs.hi:
            continue
        x = xs(epoch)
        body.append(f'<line class="best-epoch" data-seed="{seed}" data-epoch="{epoch}" x1="{x:.1f}" y1="{TOP}" '
                    f'x2="{x:.1f}" y2="{bottom}" stroke="#555" stroke-width="1" stroke-dasharray="2 3">'
                    f'<title>best validation epoch of seed {seed}: {epoch} (the model kept)</title></line>')
        near_right = x > right - 50
        body.append(f'<text x="{x - 4 if near_right else x + 4:.1f}" y="{TOP + 11}" font-size="11" fill="#555" '
                    f'text-anchor="{"end" if near_right else "start"}">best {epoch}</text>')
    hovers = []
    for col, seed, ci, si, pts in series:
        colour = PALETTE[ci % len(PALETTE)]
        coords = " ".join(f"{xs(x):.1f},{ys(y):.1f}" for x, y in pts)
        dash = ' stroke-dasharray="5 3"' if si % 2 else ""
        body.append(f'<polyline class="series" data-column="{esc(col)}" data-seed="{seed}" fill="none" '
                    f'stroke="{colour}" stroke-width="1.6"{dash} points="{coords}">'
                    f'<title>{esc(col)}, seed {seed}</title></polyline>')
        for x, y in pts:
            hovers.append(f'<circle class="hover" cx="{xs(x):.1f}" cy="{ys(y):.1f}" r="4" fill="{colour}" '
                          f'fill-opacity="0"><title>{esc(col)}, seed {seed}, epoch {x:g}: {value_text(y)}</title></circle>')
    body.append('<g class="hovers">' + "".join(hovers) + "</g>")
    entries = [(col, PALETTE[ci % len(PALETTE)], "line") for ci, col in enumerate(columns)]
    if len(seeds) > 1:
        entries += [(f"seed {s}", "#555", "dashed" if i % 2 else "line") for i, s in enumerate(seeds[:2])]
    if best_epochs:
        entries.append(("best validation epoch", "#555", "dotted"))
    body += legend(entries, right + 20)
    return svg(kind, body, W, H)


def _rotated_labels(names: Sequence[str], centres: Sequence[float], y: float) -> tuple[list[str], float]:
    """Full names under the bars, rotated when they would collide; returns the parts and the room used."""
    step = (centres[1] - centres[0]) if len(centres) > 1 else 1e9
    longest = max((len(n) for n in names), default=0) * CHAR
    if longest <= step * 0.95:
        return ([f'<text x="{c:.1f}" y="{y + 15}" text-anchor="middle" font-size="11">{esc(n)}</text>'
                 for n, c in zip(names, centres)], 22.0)
    parts = [f'<text x="{c:.1f}" y="{y + 12}" text-anchor="end" font-size="11" '
             f'transform="rotate(-35 {c:.1f} {y + 12})">{esc(n)}</text>' for n, c in zip(names, centres)]
    return parts, 20 + longest * math.sin(math.radians(35))


def bar_chart(kind: str, values: Mapping[str, float], ylabel: str, *, errors: Mapping[str, float] | None = None,
              names: Callable[[str], str] = str, unit_range: bool = True, wide: bool = False) -> str:
    """One bar per value (labels in full, ``names`` turns keys into display names); ``errors``: ± whiskers.

    ``wide`` draws the chart across the page however few bars there are."""
    if not values:
        return ""
    keys = list(values)
    labels = [names(k) for k in keys]
    n = len(keys)
    width = max(W if wide else 420.0, LEFT + 90 * n + 20)
    plot_bottom = 250.0
    step = (width - LEFT - 12) / n
    centres = [LEFT + step * (i + 0.5) for i in range(n)]
    label_parts, room = _rotated_labels(labels, centres, plot_bottom)
    height = plot_bottom + room + 8
    top_value = 1.0 if unit_range else max(v + (errors or {}).get(k, 0.0) for k, v in values.items())
    ys = Scale(0.0, top_value, plot_bottom, TOP, ticks=nice_ticks(0.0, 1.0) if unit_range else None)
    body = []
    for v in ys.ticks:
        body.append(f'<line x1="{LEFT}" y1="{ys(v):.1f}" x2="{width - 12:.0f}" y2="{ys(v):.1f}" stroke="#e3e3e3"/>')
        body.append(f'<text x="{LEFT - 6}" y="{ys(v) + 4:.1f}" text-anchor="end" font-size="11">{ys.label(v)}</text>')
    body.append(f'<line x1="{LEFT}" y1="{plot_bottom}" x2="{width - 12:.0f}" y2="{plot_bottom}" stroke="#333"/>')
    body.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{plot_bottom}" stroke="#333"/>')
    mid = (TOP + plot_bottom) / 2
    body.append(f'<text x="14" y="{mid:.0f}" text-anchor="middle" font-size="12" transform="rotate(-90 14 {mid:.0f})">'
                f'{esc(ylabel)}</text>')
    for i, (key, label) in enumerate(zip(keys, labels)):
        v = float(values[key])
        x, y = centres[i] - step * 0.35, ys(max(v, 0.0))
        err = (errors or {}).get(key)
        tip = f"{label}: {value_text(v)}" + (f" ± {value_text(err)}" if err is not None else "")
        body.append(f'<rect class="bar" data-label="{esc(key)}" data-value="{v:.6f}" x="{x:.1f}" y="{y:.1f}" '
                    f'width="{step * 0.7:.1f}" height="{plot_bottom - y:.1f}" fill="{PALETTE[i % len(PALETTE)]}">'
                    f'<title>{esc(tip)}</title></rect>')
        if err:
            lo, hi = ys(max(v - err, 0.0)), ys(v + err)
            c = centres[i]
            body.append(f'<path class="error" d="M{c:.1f} {lo:.1f}V{hi:.1f}M{c - 6:.1f} {hi:.1f}h12M{c - 6:.1f} {lo:.1f}h12" '
                        f'stroke="#222" fill="none"><title>{esc(tip)}</title></path>')
        body.append(f'<text x="{centres[i]:.1f}" y="{min(y, ys(v + (err or 0))) - 4:.1f}" text-anchor="middle" '
                    f'font-size="11">{f"{v:.3f}" if unit_range else value_text(v)}</text>')
    body += label_parts
    return svg(kind, body, width, height, grow=wide or n > 8)


def confusion_chart(classes: list[str], matrix: np.ndarray, names: Callable[[str], str] = str) -> str:
    """Rows: true class, columns: predicted; full class names (column names rotated)."""
    if not classes:
        return ""
    n = len(classes)
    labels = [names(c) for c in classes]
    longest = max(len(s) for s in labels) * CHAR
    cell = max(22, min(56, 480 // n))
    left, top = longest + 24, longest * math.sin(math.radians(45)) + 24
    note = "columns: predicted class; rows: true class"
    width, height = max(left + cell * n + 24, left + len(note) * CHAR * 1.1 + 12, 360), top + cell * n + 36
    peak = max(int(matrix.max()), 1)
    body = []
    for i in range(n):
        body.append(f'<text x="{left - 6:.1f}" y="{top + cell * i + cell / 2 + 4:.1f}" text-anchor="end" font-size="11">'
                    f'{esc(labels[i])}</text>')
        cx, cy = left + cell * i + cell / 2, top - 6
        body.append(f'<text x="{cx:.1f}" y="{cy:.1f}" text-anchor="start" font-size="11" '
                    f'transform="rotate(-45 {cx:.1f} {cy:.1f})">{esc(labels[i])}</text>')
        for j in range(n):
            v = int(matrix[i, j])
            shade = 1 - 0.85 * v / peak
            colour = f"rgb({int(255 * shade)},{int(255 * shade)},255)"
            body.append(f'<rect class="cell" data-true="{esc(classes[i])}" data-predicted="{esc(classes[j])}" '
                        f'data-count="{v}" x="{left + cell * j:.1f}" y="{top + cell * i:.1f}" width="{cell}" '
                        f'height="{cell}" fill="{colour}" stroke="#fff"><title>true {esc(labels[i])}, predicted '
                        f'{esc(labels[j])}: {v}</title></rect>')
            body.append(f'<text x="{left + cell * j + cell / 2:.1f}" y="{top + cell * i + cell / 2 + 4:.1f}" '
                        f'text-anchor="middle" font-size="12" fill="{"#fff" if shade < 0.5 else "#000"}">{v}</text>')
    body.append(f'<text x="{left:.1f}" y="{height - 12:.1f}" font-size="12">{note}</text>')
    return svg("confusion", body, width, height, grow=False)


def scatter_chart(points: np.ndarray, groups: list[str], names: Callable[[str], str] = str,
                  tips: Sequence[str] | None = None) -> str:
    """One dot per row of ``points``, coloured by group, legend beside the plot."""
    if len(points) == 0:
        return ""
    classes = sorted(set(groups))
    right, bottom = W - LEGEND, H - BOTTOM
    xs = Scale(float(points[:, 0].min()), float(points[:, 0].max()), LEFT, right)
    ys = Scale(float(points[:, 1].min()), float(points[:, 1].max()), bottom, TOP)
    body = axes(xs, ys, "PC 1", "PC 2", right, bottom)
    for i, ((x, y), g) in enumerate(zip(points.tolist(), groups)):
        k = classes.index(g)
        tip = (tips[i] + ": " if tips else "") + names(g)
        body.append(f'<circle class="point" data-class="{esc(g)}" cx="{xs(x):.1f}" cy="{ys(y):.1f}" r="3.5" '
                    f'fill="{PALETTE[k % len(PALETTE)]}" fill-opacity="0.8"><title>{esc(tip)}</title></circle>')
    body += legend([(names(c), PALETTE[k % len(PALETTE)], "dot") for k, c in enumerate(classes)], right + 20)
    return svg("pca", body, W, H)
