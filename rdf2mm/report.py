"""A self-contained HTML report of a run directory, with inline SVG charts.

:func:`build_report` reads a run directory (see :mod:`rdf2mm.runs`) and returns one
HTML page: metrics, training curves per seed, the test confusion matrix and per-class
and per-split accuracy (node classification), a 2-D PCA projection of the labelled
entities' embeddings, and the config and versions tables. Everything is drawn here
from the data; the page loads nothing from the network. :func:`write_report` writes it
atomically.
"""
from __future__ import annotations

import csv
import html
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from rdf2mm.errors import InputError
from rdf2mm.io.atomic import atomic_open
from rdf2mm.io.run_files import read_json
from rdf2mm.io.targets import REPORT_MARK, check_file_target, is_report_file

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
W, H, PAD = 460, 260, 52


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(x: float) -> str:
    return f"{x:.4g}"


def _short(term: str) -> str:
    """A readable local name for an IRI term like ``<http://ex.org/a#b>``."""
    t = term.strip("<>")
    for sep in ("#", "/"):
        if sep in t.rstrip(sep):
            t = t.rstrip(sep).rsplit(sep, 1)[1]
    return t


# --------------------------------------------------------------------------- reading


def _read_json(path: Path) -> Any:
    return read_json(path, default=None)


def _read_curve(folder: Path) -> list[dict[str, float]]:
    path = folder / "curve.csv"
    if not path.exists():
        return []
    rows = []
    with path.open(encoding="utf-8", newline="") as fh:
        for rec in csv.DictReader(fh):
            row = {}
            for k, v in rec.items():
                try:
                    row[k] = float(v)
                except (TypeError, ValueError):
                    row[k] = float("nan")
            rows.append(row)
    return rows


def _read_predictions(folder: Path) -> list[dict[str, str]]:
    tsv, parquet = folder / "predictions.tsv", folder / "predictions.parquet"
    if tsv.exists():
        with tsv.open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh, delimiter="\t"))
    if parquet.exists():
        import pyarrow.parquet as pq

        return [{k: str(v) for k, v in row.items()} for row in pq.read_table(parquet).to_pylist()]
    return []


def _read_embeddings(folder: Path) -> tuple[np.ndarray, list[str]] | None:
    emb, ents = folder / "embeddings.safetensors", folder / "entities.parquet"
    if not (emb.exists() and ents.exists()):
        return None
    import pyarrow.parquet as pq
    from safetensors.numpy import load_file

    try:
        matrix = load_file(str(emb))["entity"]
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{emb}: cannot load embeddings: {exc}") from None
    terms = pq.read_table(ents, columns=["term"]).column("term").to_pylist()
    return np.asarray(matrix, dtype=np.float64), terms


# --------------------------------------------------------------------------- analysis


def split_accuracy(predictions: list[dict[str, str]]) -> dict[str, float]:
    """Accuracy of the kept model's predictions per labelled split."""
    hits: dict[str, list[int]] = defaultdict(list)
    for row in predictions:
        if row.get("split") in ("train", "valid", "test") and row.get("true_class"):
            hits[row["split"]].append(int(row["true_class"] == row["predicted_class"]))
    return {s: sum(v) / len(v) for s in ("train", "valid", "test") if (v := hits.get(s))}


def confusion(predictions: list[dict[str, str]], split: str = "test") -> tuple[list[str], np.ndarray]:
    """Classes and the confusion matrix (rows: true class, columns: predicted) of ``split``."""
    rows = [r for r in predictions if r.get("split") == split and r.get("true_class")]
    classes = sorted({r["true_class"] for r in predictions if r.get("true_class")}
                     | {r["predicted_class"] for r in rows})
    index = {c: i for i, c in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for r in rows:
        matrix[index[r["true_class"]], index[r["predicted_class"]]] += 1
    return classes, matrix


def pca_2d(x: np.ndarray) -> np.ndarray:
    """Project rows of ``x`` onto their first two principal components (numpy SVD)."""
    centred = x - x.mean(axis=0, keepdims=True)
    if centred.shape[0] < 2:
        return np.zeros((centred.shape[0], 2))
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    proj = centred @ vt[:2].T
    if proj.shape[1] < 2:
        proj = np.hstack([proj, np.zeros((proj.shape[0], 2 - proj.shape[1]))])
    return proj


# --------------------------------------------------------------------------- SVG


class _Scale:
    def __init__(self, lo: float, hi: float, a: float, b: float):
        if not math.isfinite(lo) or not math.isfinite(hi):
            lo, hi = 0.0, 1.0
        if hi - lo < 1e-12:
            lo, hi = lo - 0.5, hi + 0.5
        self.lo, self.hi, self.a, self.b = lo, hi, a, b

    def __call__(self, v: float) -> float:
        return self.a + (v - self.lo) / (self.hi - self.lo) * (self.b - self.a)


def _axes(xs: _Scale, ys: _Scale, xlabel: str, ylabel: str) -> list[str]:
    parts = [f'<line class="axis" x1="{PAD}" y1="{H - PAD}" x2="{W - 10}" y2="{H - PAD}" stroke="#333"/>',
             f'<line class="axis" x1="{PAD}" y1="10" x2="{PAD}" y2="{H - PAD}" stroke="#333"/>']
    for i in range(5):
        yv = ys.lo + (ys.hi - ys.lo) * i / 4
        y = ys(yv)
        parts.append(f'<text x="{PAD - 4}" y="{y + 3:.1f}" text-anchor="end" font-size="10">{_num(yv)}</text>')
        xv = xs.lo + (xs.hi - xs.lo) * i / 4
        parts.append(f'<text x="{xs(xv):.1f}" y="{H - PAD + 14}" text-anchor="middle" font-size="10">{_num(xv)}</text>')
    parts.append(f'<text x="{(W + PAD) / 2}" y="{H - 8}" text-anchor="middle" font-size="11">{_esc(xlabel)}</text>')
    parts.append(f'<text x="12" y="{H / 2}" text-anchor="middle" font-size="11" '
                 f'transform="rotate(-90 12 {H / 2})">{_esc(ylabel)}</text>')
    return parts


def _svg(kind: str, body: list[str], width: int = W, height: int = H) -> str:
    return (f'<svg class="chart {kind}" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img">' + "".join(body) + "</svg>")


def line_chart(kind: str, curve: list[dict[str, float]], columns: list[str], ylabel: str) -> str:
    """One polyline per (column, seed) against epoch."""
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
    xs = _Scale(min(p[0] for p in points), max(p[0] for p in points), PAD, W - 10)
    ys = _Scale(min(p[1] for p in points), max(p[1] for p in points), H - PAD, 10)
    body = _axes(xs, ys, "epoch", ylabel)
    for col, seed, ci, si, pts in series:
        coords = " ".join(f"{xs(x):.1f},{ys(y):.1f}" for x, y in pts)
        dash = ' stroke-dasharray="4 3"' if si % 2 else ""
        body.append(f'<polyline class="series" data-column="{_esc(col)}" data-seed="{seed}" fill="none" '
                    f'stroke="{PALETTE[ci % len(PALETTE)]}" stroke-width="1.5"{dash} points="{coords}">'
                    f'<title>{_esc(col)}, seed {seed}</title></polyline>')
    for ci, col in enumerate(columns):
        y = 16 + 13 * ci
        body.append(f'<rect x="{W - 150}" y="{y - 8}" width="10" height="10" fill="{PALETTE[ci % len(PALETTE)]}"/>'
                    f'<text x="{W - 136}" y="{y + 1}" font-size="10">{_esc(col)}</text>')
    return _svg(kind, body)


def bar_chart(kind: str, values: dict[str, float], ylabel: str) -> str:
    if not values:
        return ""
    n = len(values)
    width = max(W, PAD + 40 * n + 20)
    step = (width - PAD - 10) / n
    ys = _Scale(0.0, 1.0, H - PAD, 10)
    body = [f'<line x1="{PAD}" y1="{H - PAD}" x2="{width - 10}" y2="{H - PAD}" stroke="#333"/>',
            f'<line x1="{PAD}" y1="10" x2="{PAD}" y2="{H - PAD}" stroke="#333"/>',
            f'<text x="12" y="{H / 2}" text-anchor="middle" font-size="11" transform="rotate(-90 12 {H / 2})">'
            f'{_esc(ylabel)}</text>']
    for i in range(5):
        body.append(f'<text x="{PAD - 4}" y="{ys(i / 4) + 3:.1f}" text-anchor="end" font-size="10">{i / 4:g}</text>')
    for i, (name, v) in enumerate(values.items()):
        x = PAD + i * step + step * 0.15
        y = ys(v)
        body.append(f'<rect class="bar" data-label="{_esc(name)}" data-value="{v:.6f}" x="{x:.1f}" y="{y:.1f}" '
                    f'width="{step * 0.7:.1f}" height="{H - PAD - y:.1f}" fill="{PALETTE[i % len(PALETTE)]}">'
                    f'<title>{_esc(name)}: {v:.4f}</title></rect>')
        body.append(f'<text x="{x + step * 0.35:.1f}" y="{y - 3:.1f}" text-anchor="middle" font-size="10">{v:.3f}</text>')
        body.append(f'<text x="{x + step * 0.35:.1f}" y="{H - PAD + 14}" text-anchor="middle" font-size="10">'
                    f'{_esc(_short(name))[:14]}</text>')
    return _svg(kind, body, width=int(width))


def confusion_chart(classes: list[str], matrix: np.ndarray) -> str:
    if not classes:
        return ""
    n = len(classes)
    cell = max(18, min(48, 360 // n))
    left, top = 120, 30
    size = (max(left + cell * n + 10, 320), top + cell * n + 40)
    peak = max(int(matrix.max()), 1)
    body = []
    for i in range(n):
        body.append(f'<text x="{left - 4}" y="{top + cell * i + cell / 2 + 3:.1f}" text-anchor="end" font-size="10">'
                    f'{_esc(_short(classes[i]))[:18]}</text>')
        body.append(f'<text x="{left + cell * i + cell / 2:.1f}" y="{top - 6}" text-anchor="middle" font-size="10">'
                    f'{_esc(_short(classes[i]))[:8]}</text>')
        for j in range(n):
            v = int(matrix[i, j])
            shade = 1 - 0.85 * v / peak
            colour = f"rgb({int(255 * shade)},{int(255 * shade)},255)"
            body.append(f'<rect class="cell" data-true="{_esc(classes[i])}" data-predicted="{_esc(classes[j])}" '
                        f'data-count="{v}" x="{left + cell * j}" y="{top + cell * i}" width="{cell}" height="{cell}" '
                        f'fill="{colour}" stroke="#fff"/>')
            body.append(f'<text x="{left + cell * j + cell / 2:.1f}" y="{top + cell * i + cell / 2 + 4:.1f}" '
                        f'text-anchor="middle" font-size="11" fill="{"#fff" if shade < 0.5 else "#000"}">{v}</text>')
    body.append(f'<text x="{left}" y="{size[1] - 12}" font-size="11">'
                f'predicted (rows: true class)</text>')
    return _svg("confusion", body, width=size[0], height=size[1])


def scatter_chart(points: np.ndarray, groups: list[str]) -> str:
    if len(points) == 0:
        return ""
    classes = sorted(set(groups))
    xs = _Scale(float(points[:, 0].min()), float(points[:, 0].max()), PAD, W - 160)
    ys = _Scale(float(points[:, 1].min()), float(points[:, 1].max()), H - PAD, 10)
    body = _axes(xs, ys, "PC 1", "PC 2")
    for (x, y), g in zip(points.tolist(), groups):
        k = classes.index(g)
        body.append(f'<circle class="point" data-class="{_esc(g)}" cx="{xs(x):.1f}" cy="{ys(y):.1f}" r="3.5" '
                    f'fill="{PALETTE[k % len(PALETTE)]}" fill-opacity="0.8"/>')
    for k, c in enumerate(classes[:20]):
        y = 16 + 13 * k
        body.append(f'<circle cx="{W - 146}" cy="{y - 3}" r="4" fill="{PALETTE[k % len(PALETTE)]}"/>'
                    f'<text x="{W - 138}" y="{y + 1}" font-size="10">{_esc(_short(c))[:22]}</text>')
    return _svg("pca", body)


# --------------------------------------------------------------------------- page


def _table(kind: str, rows: list[tuple[str, Any]], header: tuple[str, str] = ("setting", "value")) -> str:
    cells = "".join(f"<tr><td>{_esc(k)}</td><td>{_esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="{kind}"><thead><tr><th>{header[0]}</th><th>{header[1]}</th></tr></thead><tbody>{cells}</tbody></table>'


def _fmt_metric(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else json.dumps(value) if isinstance(value, (list, dict)) else str(value)


RANK_BUCKETS = ((1, 1, "1"), (2, 3, "2-3"), (4, 10, "4-10"), (11, 100, "11-100"), (101, 1000, "101-1000"),
                (1001, float("inf"), ">1000"))


def rank_histogram(ranks: list[float]) -> dict[str, float]:
    """Share of ranking queries per rank bucket (realistic ranks may be .5: they round up)."""
    total = max(len(ranks), 1)
    return {label: sum(1 for r in ranks if lo <= math.ceil(r) <= hi) / total for lo, hi, label in RANK_BUCKETS}


def _read_ranks(folder: Path) -> list[float]:
    path = folder / "ranks.tsv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [float(r[k]) for r in rows for k in ("head_rank", "tail_rank") if r.get(k) not in (None, "")]


def _page(title: str, subtitle: str, sections: list[str]) -> str:
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1000px;color:#222}"
             "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;"
             "font-size:13px;text-align:left}svg.chart{display:block;margin:.5em 0;background:#fafafa}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">" + REPORT_MARK +
            f"<title>{_esc(title)}</title><style>{style}</style></head><body>"
            f"<h1>{_esc(title)}</h1><p>{_esc(subtitle)}</p>"
            + "\n".join(sections) + "</body></html>\n")


def build_ablation_report(folder: Path, summary: dict[str, Any]) -> str:
    """The page for an ``rdf2mm ablate`` output folder: one bar per grid cell, and the table."""
    metric = summary["metric"]
    sections = []
    for mode in sorted({c["literals"] for c in summary["cells"]}):
        cells = [c for c in summary["cells"] if c["literals"] == mode]
        values = {("structure only" if c["config"] == "none" else c["config"]): float(c[metric] or 0.0) for c in cells}
        sections.append(f"<h2>{_esc(metric)} per modality ({_esc(mode)} literals)</h2>"
                        + bar_chart(f"ablation-{mode}", values, metric))
    rows = []
    for c in summary["cells"]:
        std = c.get(f"{metric}_std")
        p = c.get("p_value")
        rows.append((f"{c['config']} ({c['literals']})",
                     f"{_fmt_metric(c[metric])}" + (f" ± {std:.4f}" if isinstance(std, float) else "")
                     + (f"; p = {p:.4f} vs structure only" if isinstance(p, float) else "")))
    sections.append("<h2>Results</h2>" + _table("ablation", rows, ("configuration", f"{metric} (mean ± std)")))
    return _page(f"rdf2mm ablation {folder.name}",
                 f"task: {summary['task']}; {summary['seeds']} seeds; test: {summary.get('test', '')}", sections)


def build_report(run_dir: str | Path) -> str:
    """The HTML page for a run directory, or for an ``rdf2mm ablate`` output folder
    (raises :class:`InputError` when it is neither)."""
    folder = Path(run_dir)
    ablation = _read_json(folder / "ablation.json")
    if ablation is not None:
        return build_ablation_report(folder, ablation)
    metrics = _read_json(folder / "metrics.json")
    if not folder.is_dir() or metrics is None:
        raise InputError(f"{folder}: not a run directory (no metrics.json)")
    config = _read_json(folder / "config.json") or {}
    prov = _read_json(folder / "provenance.json") or {}
    curve = _read_curve(folder)
    predictions = _read_predictions(folder)
    task = metrics.get("task", config.get("task", "node-classification"))
    sections: list[str] = []

    metric_rows = []
    for k, v in metrics.items():
        if k == "per_seed" or k.endswith("_std"):
            continue
        std = metrics.get(f"{k}_std")
        text = _fmt_metric(v) + (f" ± {std:.4f}" if isinstance(std, float) and metrics.get("seeds", 1) > 1 else "")
        metric_rows.append((k, text))
    sections.append("<h2>Metrics</h2>" + _table("metrics", metric_rows, ("metric", "value")))

    if curve:
        cols = sorted({k for r in curve for k in r} - {"epoch", "seed"})
        loss = [c for c in cols if c.endswith("loss")]
        quality = [c for c in cols if c not in loss]
        charts = [line_chart("curve-loss", curve, loss, "loss"), line_chart("curve-quality", curve, quality,
                                                                             "accuracy" if task != "link-prediction" else "score")]
        sections.append("<h2>Training curves</h2><p>Per epoch; one line per seed (dashed: odd seeds).</p>"
                        + "".join(c for c in charts if c))

    if task == "node-classification" and predictions:
        classes, matrix = confusion(predictions, "test")
        per_split = split_accuracy(predictions)
        per_class = {c: float(matrix[i, i] / matrix[i].sum()) for i, c in enumerate(classes) if matrix[i].sum()}
        kept = metrics.get("kept_seed")
        note = f" (predictions of the kept model, seed {kept})" if kept is not None else ""
        sections.append(f"<h2>Test confusion matrix{_esc(note)}</h2>" + confusion_chart(classes, matrix))
        sections.append("<h2>Accuracy per split</h2>" + bar_chart("split-accuracy", per_split, "accuracy"))
        sections.append("<h2>Test accuracy per class</h2>" + bar_chart("class-accuracy", per_class, "accuracy"))

    ranks = _read_ranks(folder) if task == "link-prediction" else []
    if ranks:
        sections.append(f"<h2>Filtered test ranks ({len(ranks)} queries, both directions)</h2>"
                        + bar_chart("rank-histogram", rank_histogram(ranks), "share of queries"))

    emb = _read_embeddings(folder)
    if emb is not None and predictions:
        matrix_e, terms = emb
        row_of = {t: i for i, t in enumerate(terms)}
        labelled = [(row_of[r["entity"]], r["true_class"]) for r in predictions
                    if r.get("true_class") and r.get("entity") in row_of]
        if len(labelled) >= 2:
            pts = pca_2d(matrix_e[[i for i, _ in labelled]])
            sections.append(f"<h2>Entity embeddings (PCA, {len(labelled)} labelled entities)</h2>"
                            + scatter_chart(pts, [c for _, c in labelled]))

    sections.append("<h2>Config</h2>" + _table("config", [(k, json.dumps(v) if isinstance(v, (list, dict)) else v)
                                                          for k, v in config.items()]))
    versions = prov.get("versions", {})
    other = [(k, v) for k, v in prov.items() if k != "versions"]
    sections.append("<h2>Versions</h2>" + _table("versions", list(versions.items()), ("package", "version")))
    if other:
        sections.append("<h2>Provenance</h2>" + _table("provenance", other, ("field", "value")))

    return _page(f"rdf2mm run {folder.name}", f"task: {task}; seeds: {metrics.get('seeds', 1)}", sections)


def write_report(run_dir: str | Path, output: str | Path | None = None, force: bool = False) -> Path:
    """Write :func:`build_report`'s page atomically (default ``RUN_DIR/report.html``); returns
    the path. An existing file there is replaced only if it is an rdf2mm report, or ``force``."""
    path = Path(output) if output else Path(run_dir) / "report.html"
    check_file_target(path, is_report_file, "a report page", force)
    page = build_report(run_dir)
    with atomic_open(path) as fh:
        fh.write(page)
    return path
