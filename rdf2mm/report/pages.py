"""A self-contained HTML report of a run directory, with inline SVG charts.

:func:`build_report` reads a run directory (see :mod:`rdf2mm.runs`) and returns one
HTML page: metrics, training curves per seed, the test confusion matrix and per-class
and per-split accuracy (node classification), a 2-D PCA projection of the labelled
entities' embeddings, and the config and versions tables. Everything is drawn here
from the data; the page loads nothing from the network. :func:`write_report` writes it
atomically.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from rdf2mm.ablation.plan import config_label, literals_label
from rdf2mm.charts.svg import bar_chart, confusion_chart, esc, line_chart, scatter_chart
from rdf2mm.errors import InputError
from rdf2mm.io.atomic import atomic_open
from rdf2mm.io.prefixes import Prefixes, run_prefixes
from rdf2mm.io.targets import check_file_target, is_report_file
from rdf2mm.report.analysis import confusion, pca_2d, rank_histogram, split_accuracy
from rdf2mm.report.html import display, fmt_metric, page, table
from rdf2mm.runs import layout as L
from rdf2mm.runs.read import RunFiles

_esc = esc


def _json(folder: Path, name: str) -> Any:
    return RunFiles(folder).json(name, default=None)


def _embeddings(run: RunFiles) -> tuple[np.ndarray, list[str]] | None:
    """The kept model's entity embeddings and their entity terms; None when the run has none."""
    if not (run.has(L.EMBEDDINGS) and run.has(L.ENTITIES)):
        return None
    matrix = run.embeddings().get("entity")
    if matrix is None:
        raise InputError(f"{run.path(L.EMBEDDINGS)}: cannot load embeddings: no 'entity' tensor")
    return np.asarray(matrix, dtype=np.float64), run.entities()


def _ranks(run: RunFiles) -> list[float]:
    """Every filtered test rank of a link-prediction run, both directions."""
    cols = run.table(L.RANKS) or {}
    both = [c for c in (cols.get("head_rank"), cols.get("tail_rank")) if c is not None]
    return [float(c[i]) for i in range(max(map(len, both), default=0)) for c in both
            if i < len(c) and c[i] not in (None, "")]


def _selection_table(selection: dict[str, Any]) -> str:
    """``--aggregation auto``'s candidates and their mean validation figures, as a small table."""
    if "skipped" in selection:
        return _esc(display(selection["skipped"]))
    columns = sorted({k for figures in selection.values() for k in figures})
    rows = [(_esc(name), *(_esc(fmt_metric(figures.get(c))) for c in columns)) for name, figures in selection.items()]
    return table("inner", rows, ("candidate", *(c.replace("_", " ") for c in columns)), raw=True)


def _encoded(modalities: Any) -> set[str] | None:
    """The modalities a run encoded (None: all of them), from its ``modalities`` setting."""
    if modalities in (None, "all"):
        return None
    if modalities == "none":
        return set()
    names = modalities.split(",") if isinstance(modalities, str) else list(modalities)
    return {n.strip() for n in names if n.strip()}


def summary_section(literals: dict[str, Any], prefixes: Prefixes, modalities: Any = "all") -> str:
    """Counts per modality and per datatype (with ill-typed counts) and the label or split sizes.

    Literals of modalities the run did not encode were not parsed: their ill-typed count
    reads "not checked" rather than 0."""
    encoded = _encoded(modalities)
    datatypes = literals.get("datatypes") or {}
    if not datatypes and not literals.get("labels") and not literals.get("splits"):
        return ""
    per_mod: dict[str, list[Any]] = {}
    for dt, d in datatypes.items():
        row = per_mod.setdefault(d.get("modality", "?"), [[], 0, 0])
        row[0].append(prefixes.compact(dt) if dt else "(plain)")
        row[1] += int(d.get("literals") or 0)
        row[2] += int(d.get("ill_typed") or 0)
    mods = [(m, ", ".join(dts), f"{n:,}", f"{ill:,}" if encoded is None or m in encoded else "not checked (not encoded)")
            for m, (dts, n, ill) in sorted(per_mod.items(), key=lambda kv: -kv[1][1])]
    parts = ["<h2>Graph and modalities</h2>"]
    if mods:
        parts.append(table("modalities", mods, ("modality", "datatypes", "literals encoded", "ill-typed (skipped)")))
        reasons = [(prefixes.compact(dt), display(d.get("reasons"))) for dt, d in datatypes.items() if d.get("ill_typed")]
        if reasons:
            parts.append(table("ill-typed", reasons, ("datatype", "why literals were skipped")))
    for key, title in (("labels", "Labels"), ("splits", "Link-prediction triples")):
        report = literals.get(key)
        if report:
            rows = [(k.replace("_", " "), display(v)) for k, v in report.items()]
            parts.append(f"<h3>{title}</h3>" + table(key, rows, ("what", "count")))
    return "".join(parts)


def _seed_of(index: int, entry: dict[str, Any], config: dict[str, Any]) -> int:
    return int(entry.get("seed", int(config.get("seed") or 0) + index))


def _kept_seed_figures(metrics: dict[str, Any], config: dict[str, Any]) -> tuple[int | None, dict[str, Any]]:
    """The kept model's seed and that seed's own figures (what the bars of the predictions show)."""
    kept = metrics.get("kept_seed")
    for i, entry in enumerate(metrics.get("per_seed") or []):
        if kept is None or _seed_of(i, entry, config) == kept:
            return _seed_of(i, entry, config), entry
    return kept, {}


def build_ablation_report(folder: Path, summary: dict[str, Any]) -> str:
    """The page for an ``rdf2mm ablate`` output folder: per model (and literal mode) one bar
    per grid cell (mean, ± std), and the table. Summaries from before ``--models`` (no
    ``model`` in the cells) are one model's, and drawn as before."""
    metric = summary["metric"]
    seeds = summary.get("seeds")
    cells_all = summary["cells"]
    several = any("model" in c for c in cells_all)  # written since --models: a model per cell
    sections = [f'<p class="note">Bars: mean {_esc(metric)} over {_esc(seeds)} seeds per configuration; '
                "whiskers: ± one standard deviation. p: Welch's t-test against the model's structure only (and "
                "against its shuffled-literal control, where the grid has one) with the same literal mode."
                + (" A literal KGE model's structure only is its plain KGE counterpart (named in brackets); "
                   "it reads entity-level literal features, whatever the literal mode (literals: entity)."
                   if several else "") + "</p>"]

    def name(c: dict[str, Any]) -> str:
        return config_label(c["config"], c.get("model"), c.get("trained_model"))

    for model in dict.fromkeys(c.get("model") for c in cells_all):
        of_model = [c for c in cells_all if c.get("model") == model]
        # a plain KGE row (literals none) is the structure only of every mode of its model
        modes = list(dict.fromkeys(c["literals"] for c in of_model if c["literals"] != "none")) or ["none"]
        for mode in (sorted(modes) if not several else modes):
            cells = [c for c in of_model if c["literals"] in (mode, "none")]
            values = {name(c): float(c[metric] or 0.0) for c in cells}
            errors = {name(c): float(c[f"{metric}_std"]) for c in cells if isinstance(c.get(f"{metric}_std"), float)}
            chart_id, title = (f"ablation-{mode}", f"({literals_label(mode)})") if not several else \
                (f"ablation-{model}-{mode}", f"{model} ({literals_label(mode)})")
            sections.append(f"<h2>{_esc(metric)} per configuration, {_esc(title)}</h2>"
                            + bar_chart(chart_id, values, metric, errors=errors, wide=True))
    secondary = summary.get("secondary")
    # summaries written before the control existed have no shuffled row: no column for it
    controlled = any(c["config"] == "shuffled" for c in cells_all)

    def shown_p(p: Any) -> str:
        return "—" if not isinstance(p, float) else f"p = {p:.4f}" + (" (significant at 0.05)" if p < 0.05 else "")

    rows = []
    for c in cells_all:
        row = [*([c.get("model", "")] if several else []), name(c), c["literals"],
               _pm(c.get(metric), c.get(f"{metric}_std"))]
        if secondary:
            row.append(_pm(c.get(secondary), c.get(f"{secondary}_std")))
        row.append(shown_p(c.get("p_value")))
        if controlled:
            row.append(shown_p(c.get("p_value_shuffled")))
        rows.append(tuple(row))
    header = (*(("model",) if several else ()), "configuration", "literals", f"{metric} (mean ± std)",
              *((f"{secondary} (mean ± std)",) if secondary else ()), "p vs structure only",
              *(("p vs shuffled literals",) if controlled else ()))
    sections.append("<h2>Results</h2>" + table("ablation", rows, header))
    # the cell with every modality encoded parsed every literal: its ill-typed counts are the graph's
    dirs = [folder / (c.get("dir") or f"{c['literals']}-{c['config']}")
            for c in sorted(cells_all, key=lambda c: c["config"] != "all")]
    first = next((d for d in dirs if (d / L.LITERALS).is_file()), None)
    if first is not None:
        config = _json(first, L.CONFIG_JSON) or {}
        sections.append(summary_section(_json(first, L.LITERALS) or {},
                                        run_prefixes(config.get("graph"), first), config.get("modalities"))
                        + f'<p class="note">From the run of {_esc(first.name)}.</p>')
    models = ", ".join(str(m) for m in summary.get("models") or [])
    return page(f"rdf2mm ablation {folder.name}",
                f"task: {summary['task']}; {f'models: {models}; ' if several and models else ''}"
                f"{seeds} seeds per configuration; test: {summary.get('test', '')}", sections)


def _pm(mean: Any, std: Any) -> str:
    if not isinstance(mean, float) or math.isnan(mean):
        return "—"
    return f"{mean:.4f}" + (f" ± {std:.4f}" if isinstance(std, float) else "")


def build_report(run_dir: str | Path) -> str:
    """The HTML page for a run directory, or for an ``rdf2mm ablate`` output folder
    (raises :class:`InputError` when it is neither)."""
    folder = Path(run_dir)
    ablation = _json(folder, "ablation.json")  # an ablate folder's summary, not a run's file
    if ablation is not None:
        return build_ablation_report(folder, ablation)
    run = RunFiles(folder)
    metrics = run.metrics(default=None)
    if not folder.is_dir() or metrics is None:
        raise InputError(f"{folder}: not a run directory (no {L.METRICS})")
    config = run.config(default=None) or {}
    prov = run.provenance(default=None) or {}
    literals = run.literals(default=None) or {}
    curve = run.curve()
    predictions = run.rows(L.PREDICTIONS)
    task = metrics.get("task", config.get("task", "node-classification"))
    prefixes = run_prefixes(config.get("graph"), folder)
    name = prefixes.compact_term
    seeds = int(metrics.get("seeds", 1) or 1)
    sections: list[str] = []

    metric_rows = []
    for k, v in metrics.items():
        if k in ("per_seed", "splits") or k.endswith("_std"):
            continue
        std = metrics.get(f"{k}_std")
        if k == "aggregation_selection" and isinstance(v, dict):
            metric_rows.append((_esc(k.replace("_", " ")), _selection_table(v)))
            continue
        text = fmt_metric(v) + (f" ± {std:.4f}" if isinstance(std, float) and seeds > 1 else "")
        metric_rows.append((_esc(k.replace("_", " ")), _esc(text)))
    over = f"mean ± std over {seeds} seeds" if seeds > 1 else "one seed"
    sections.append(f"<h2>Metrics ({over})</h2>" + table("metrics", metric_rows, ("metric", "value"), raw=True))
    sections.append(summary_section(literals, prefixes, config.get("modalities", "all")))

    kept, kept_figures = _kept_seed_figures(metrics, config)
    if curve:
        best = {_seed_of(i, e, config): int(e["best_epoch"]) for i, e in enumerate(metrics.get("per_seed") or [])
                if e.get("best_epoch")}
        cols = sorted({k for r in curve for k in r} - {"epoch", "seed"})
        loss = [c for c in cols if c.endswith("loss")]
        quality = [c for c in cols if c not in loss]
        charts = [line_chart("curve-loss", curve, loss, "loss", best),
                  line_chart("curve-quality", curve, quality, "accuracy" if task != "link-prediction" else "score", best)]
        sections.append("<h2>Training curves</h2><p class=\"note\">Per epoch; one line per seed (dashed: odd seeds); "
                        "the dotted vertical line is each seed's best validation epoch, whose weights were kept. "
                        "Hover a point for its value.</p>" + "".join(c for c in charts if c))

    if task == "node-classification" and predictions:
        classes, matrix = confusion(predictions, "test")
        per_split = split_accuracy(predictions)
        per_class = {c: float(matrix[i, i] / matrix[i].sum()) for i, c in enumerate(classes) if matrix[i].sum()}
        which = f"the kept model, seed {kept}" if kept is not None else "the kept model"
        sections.append(f"<h2>Predictions of {_esc(which)}</h2><p class=\"note\">The charts below show this one "
                        f"seed{'' if seeds == 1 else f' (the metrics table above averages {seeds} seeds)'}.</p>")
        if kept_figures:
            rows = [(k.replace("_", " "), fmt_metric(v)) for k, v in kept_figures.items()
                    if k.split("_")[0] in ("train", "valid", "test", "best", "epochs") and not k.endswith("seconds")]
            sections.append(table("kept-seed", rows, ("figure", f"seed {kept}")))
        sections.append("<h3>Test confusion matrix</h3>" + confusion_chart(classes, matrix, name))
        sections.append('<div class="cols"><div><h3>Accuracy per split</h3>'
                        + bar_chart("split-accuracy", per_split, "accuracy") + "</div><div><h3>Test accuracy per class</h3>"
                        + bar_chart("class-accuracy", per_class, "accuracy", names=name) + "</div></div>")

    ranks = _ranks(run) if task == "link-prediction" else []
    if ranks:
        sections.append(f"<h2>Filtered test ranks ({len(ranks)} queries, both directions)</h2>"
                        + bar_chart("rank-histogram", rank_histogram(ranks), "share of queries"))

    emb = _embeddings(run)
    if emb is not None and predictions:
        matrix_e, terms = emb
        row_of = {t: i for i, t in enumerate(terms)}
        labelled = [(row_of[r["entity"]], r["true_class"], r["entity"]) for r in predictions
                    if r.get("true_class") and r.get("entity") in row_of]
        if len(labelled) >= 2:
            pts = pca_2d(matrix_e[[i for i, _, _ in labelled]])
            sections.append(f"<h2>Entity embeddings (PCA, {len(labelled)} labelled entities, seed {kept})</h2>"
                            + scatter_chart(pts, [c for _, c, _ in labelled], name, [name(e) for _, _, e in labelled]))

    shown = {k: (prefixes.compact(v) if k == "target" and v else [prefixes.compact(t) for t in v] if k == "target_relations" else v)
             for k, v in config.items()}
    sections.append("<h2>Config</h2>" + table("config", [(k.replace("_", " "), display(v)) for k, v in shown.items()]))
    versions = prov.get("versions", {})
    other = [(k.replace("_", " "), display(v)) for k, v in prov.items() if k != "versions"]
    sections.append("<h2>Versions</h2>" + table("versions", list(versions.items()), ("package", "version")))
    if other:
        sections.append("<h2>Provenance</h2>" + table("provenance", other, ("field", "value")))

    return page(f"rdf2mm run {folder.name}", f"task: {task}; seeds: {seeds}", sections)


def write_report(run_dir: str | Path, output: str | Path | None = None, force: bool = False) -> Path:
    """Write :func:`build_report`'s page atomically (default ``RUN_DIR/report.html``); returns
    the path. An existing file there is replaced only if it is an rdf2mm report, or ``force``."""
    path = Path(output) if output else Path(run_dir) / L.REPORT
    check_file_target(path, is_report_file, "a report page", force)
    page = build_report(run_dir)
    with atomic_open(path) as fh:
        fh.write(page)
    return path
