"""The HTML page of an ``rdf2mm tune`` folder: optimisation history, parameter
importances and the trials table, drawn as inline SVG like :mod:`rdf2mm.report` (no
scripts, nothing fetched)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rdf2mm.io.atomic import atomic_open
from rdf2mm.charts.svg import BOTTOM, LEFT, LEGEND, PALETTE, TOP, H, Scale, W, axes, esc, legend, svg
from rdf2mm.report.html import page as _page, table as _table

REPORT_FILE = "tune.html"
STATE_COLOURS = {"COMPLETE": PALETTE[0], "PRUNED": PALETTE[7], "FAIL": PALETTE[3]}


def history_chart(trials: list[dict[str, Any]], metric: str) -> str:
    """Each trial's validation figure (pruned trials: their last reported figure, grey)
    against its number, and the best so far as a step line."""
    points = []
    for t in trials:
        value = t.get("value") if t["state"] == "COMPLETE" else t.get("last_value")
        if isinstance(value, (int, float)) and math.isfinite(value):
            points.append((t["number"], float(value), t["state"]))
    if not points:
        return ""
    right, bottom = W - LEGEND, H - BOTTOM
    xs = Scale(min(p[0] for p in points), max(p[0] for p in points), LEFT, right, integer=True)
    ys = Scale(min(p[1] for p in points), max(p[1] for p in points), bottom, TOP)
    body = axes(xs, ys, "trial", metric, right, bottom)
    best, steps = -math.inf, []
    for number, value, state in sorted(points):
        if state == "COMPLETE" and value > best:
            best = value
        if best > -math.inf:
            steps.append((number, best))
    if steps:
        coords = " ".join(f"{xs(x):.1f},{ys(y):.1f}" for x, y in steps)
        body.append(f'<polyline class="best" fill="none" stroke="{PALETTE[1]}" stroke-width="1.5" '
                    f'points="{coords}"><title>best so far</title></polyline>')
    for number, value, state in points:
        body.append(f'<circle class="trial" data-trial="{number}" data-state="{state}" data-value="{value:.6f}" '
                    f'cx="{xs(number):.1f}" cy="{ys(value):.1f}" r="4" fill="{STATE_COLOURS.get(state, PALETTE[4])}">'
                    f'<title>trial {number} ({state.lower()}): {value:.4f}</title></circle>')
    body += legend([("completed", PALETTE[0], "dot"), ("pruned (last figure)", PALETTE[7], "dot"),
                    ("best so far", PALETTE[1], "line")], right + 16)
    return svg("history", body, W, H)


def importance_chart(importances: dict[str, float]) -> str:
    """One horizontal bar per searched setting (importances sum to 1), most important first."""
    if not importances:
        return ""
    left, row, width = 130, 20, 520
    height = 20 + row * len(importances)
    xs = Scale(0.0, 1.0, left, width - 50)
    body = []
    for i, (name, v) in enumerate(sorted(importances.items(), key=lambda kv: -kv[1])):
        y = 10 + row * i
        body.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" font-size="11">{esc(name)}</text>'
                    f'<rect class="bar" data-label="{esc(name)}" data-value="{v:.6f}" x="{left}" y="{y + 3}" '
                    f'width="{xs(v) - left:.1f}" height="{row - 6}" fill="{PALETTE[i % len(PALETTE)]}">'
                    f'<title>{esc(name)}: {v:.4f}</title></rect>'
                    f'<text x="{xs(v) + 4:.1f}" y="{y + 13}" font-size="10">{v:.3f}</text>')
    return svg("importances", body, width, height, grow=False)


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _trials_table(trials: list[dict[str, Any]], metric: str) -> str:
    names = sorted({k for t in trials for k in t["params"]})
    head = "".join(f"<th>{esc(h)}</th>" for h in ("trial", "state", metric, *names, "seconds"))
    rows = []
    for t in trials:
        value = t.get("value")
        cells = [str(t["number"]) + (" (default)" if t.get("default") else ""), t["state"].lower(),
                 f"{value:.4f}" if isinstance(value, float) else "-"]
        for n in names:
            cells.append(_fmt(t["params"].get(n, "-")))
        cells.append(str(t.get("seconds") or "-"))
        rows.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    return f'<table class="trials"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def build_tune_report(summary: dict[str, Any]) -> str:
    """The page for a search summary (``trials.json``)."""
    metric, trials = summary["metric"], summary["trials"]
    best, default, final = summary["best"], summary.get("default"), summary["final"]
    test_keys = [k for k in final if k.startswith("test_") and not k.endswith(("_std", "_loss"))
                 and isinstance(final[k], float)]
    rows = [("best trial", f"{best['number']}: {metric} {best['value']:.4f}"),
            ("default configuration (trial 0)", f"{metric} {default['value']:.4f}" if default else "not completed"),
            ("trials", f"{sum(t['state'] == 'COMPLETE' for t in trials)} completed, "
                       f"{sum(t['state'] == 'PRUNED' for t in trials)} pruned, "
                       f"{sum(t['state'] == 'FAIL' for t in trials)} failed"),
            *((f"final {k} over {final['seeds']} seed(s)", f"{final[k]:.4f}"
               + (f" ± {final[k + '_std']:.4f}" if isinstance(final.get(k + "_std"), float) else ""))
              for k in test_keys)]
    sections = ["<h2>Summary</h2>" + _table("summary", rows, ("", "")),
                "<h2>Optimisation history</h2>" + history_chart(trials, metric)]
    importances = summary.get("importances")
    if importances:
        sections.append("<h2>Parameter importances</h2>" + importance_chart(importances)
                        + f"<p>{esc(summary.get('importance_method', ''))}</p>")
    else:
        sections.append(f"<h2>Parameter importances</h2><p>{esc(summary.get('importance_method', ''))}</p>")
    sections.append("<h2>Best configuration</h2>" + _table("best", [(k, _fmt(v)) for k, v in sorted(best["params"].items())]))
    sections.append("<h2>Trials</h2>" + _trials_table(trials, metric))
    return _page(f"rdf2mm tune {Path(summary['out']).name}",
                 f"selected on {metric} (validation only); test evaluated once, on the final run", sections)


def write_tune_report(out: Path, result: Any) -> Path:
    """Write ``OUT/tune.html`` atomically from a :class:`~rdf2mm.tuning.study.TuneResult`."""
    summary = json.loads(json.dumps(result.to_dict(), default=str))
    path = out / REPORT_FILE
    with atomic_open(path) as fh:
        fh.write(build_tune_report(summary))
    return path
