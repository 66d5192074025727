"""Benchmark: the literal KGE models on planted link-prediction graphs, and on synth-lp.

Issue 17's must-show grid, in one script:

1. **Planted graphs.** For every ``--plants`` modality (numeric, textual, visual,
   spatial, and ``none``, the control graph), one graph of ``rdf2mm generate DIR --task
   link-prediction --plant P --missing 0.2 --entities N --seed G``
   (:mod:`rdf2mm.synthetic.lp_planted`: only P's literal says which hub an item's
   ``hasCategory`` links to; ``lp/valid`` and ``lp/test`` hold only those triples). On
   it, every ``--models`` model that reads P (IKRL reads only images) trains with the
   real literals (``--modalities P``; on ``none``: every modality) and with
   ``--shuffle-literals`` (the shuffled control), and its plain KGE decoder trains beside
   it (literale / vlkge / mose: the plain model of ``--decoder``, default distmult;
   ikrl: transe; momok: tucker). Filtered test MRR, mean ± std over ``--seeds``
   training seeds on the one graph, and a verdict per row against the issue's bar: the
   model beats its plain decoder *and* its shuffled control by at least 0.10; on the
   ``none`` graph it is not worse than the plain decoder by more than 0.02.
2. **synth-lp** (``--synth-lp DIR``, ``train/valid/test.nt.gz``): each of
   ``--synth-lp-models`` (mrgcn, the plain baselines, the literal models) over
   ``--synth-lp-seeds`` seeds, filtered test MRR; mrgcn's figure to keep is 0.29.

Every run goes through :func:`rdf2mm.pipeline.train` (the library ``rdf2mm train`` is a
thin layer over) with the CLI's link-prediction defaults unless an option overrides them
(``--epochs``, ``--batch-size``, ``--patience``, ``--lr``, ``--set key=value``). Text
features are the frozen MiniLM ones and images the frozen EfficientNet-Lite0 ones
(``--text-encoder minilm --image-encoder pretrained``: what the entity features read;
offline, ``HF_HUB_OFFLINE=1``), for mrgcn too unless ``--mrgcn-default-encoders``.
Results go to stdout as Markdown tables and, run by run, to ``--json`` (a rerun with the
same file skips the runs it already holds, so an interrupted grid resumes).

    # small (a few minutes on 2 cores)
    python bench/bench_literal_models.py --entities 300 --seeds 1 --epochs 60 --json /tmp/lit-small.json
    # the issue's setting
    python bench/bench_literal_models.py --entities 2000 --seeds 3 --json lit.json \\
        --synth-lp ../shared/data/synth-lp --synth-lp-seeds 3
    # only part of the grid
    python bench/bench_literal_models.py --plants numeric,none --models literale,mose --no-synth-lp
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PYTHONWARNINGS", "ignore")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rdf2mm.models.registry import (  # noqa: E402
    LITERAL_KGE_MODELS, PLAIN_COUNTERPARTS, PLAIN_KGE_MODELS, plain_counterpart, reads_modality,
)

PLANTS = ("numeric", "textual", "visual", "spatial", "none")
SYNTH_LP_MODELS = ("mrgcn", "transe", "distmult", "complex", "rotate", "tucker",
                   "literale", "vlkge", "ikrl", "mose", "momok")
#: the issue's bars
MARGIN, NONE_TOLERANCE = 0.10, 0.02


def default_synth_lp() -> Path:
    """``../shared/data/synth-lp`` beside the checkout (a worktree one level deeper: beside its parent)."""
    for base in (ROOT.parent, ROOT.parent.parent):
        if (base / "shared" / "data" / "synth-lp").is_dir():
            return base / "shared" / "data" / "synth-lp"
    return ROOT.parent / "shared" / "data" / "synth-lp"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plants", default=",".join(PLANTS), help="planted graphs to build (and none)")
    ap.add_argument("--models", default=",".join(LITERAL_KGE_MODELS), help="literal models of the planted grid")
    ap.add_argument("--entities", type=int, default=2000, help="items per planted graph")
    ap.add_argument("--missing", type=float, default=0.2, help="share of items without each modality")
    ap.add_argument("--graph-seed", type=int, default=0, help="the generator's seed")
    ap.add_argument("--seeds", type=int, default=3, help="training seeds per run (planted grid)")
    ap.add_argument("--decoder", default="distmult", help="decoder of literale, vlkge and mose (and their plain)")
    ap.add_argument("--epochs", type=int, help="training epochs (default: the CLI's)")
    ap.add_argument("--batch-size", type=int, help="positive triples per step (default: the CLI's)")
    ap.add_argument("--patience", type=int, help="early-stopping patience in epochs (default: the CLI's)")
    ap.add_argument("--lr", type=float, help="learning rate (default: the CLI's)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="any other TrainConfig field for every run (JSON value), e.g. embed_dim=64")
    ap.add_argument("--none-shuffled", action="store_true", help="also train the shuffled control on the none graph")
    ap.add_argument("--threads", default="2", help="torch threads per run")
    ap.add_argument("--work", type=Path, default=Path("/tmp/rdf2mm-bench-literal"), help="where the graphs go")
    ap.add_argument("--synth-lp", type=Path, default=default_synth_lp(),
                    help="synth-lp folder (train/valid/test.nt.gz; default ../shared/data/synth-lp of the checkout "
                         "or of its parent folder)")
    ap.add_argument("--no-synth-lp", action="store_true", help="skip the synth-lp table")
    ap.add_argument("--no-planted", action="store_true", help="skip the planted grid")
    ap.add_argument("--synth-lp-models", default=",".join(SYNTH_LP_MODELS))
    ap.add_argument("--synth-lp-seeds", type=int, default=3)
    ap.add_argument("--mrgcn-default-encoders", action="store_true",
                    help="mrgcn with its default text/image encoders (charcnn, mobilenet) instead of the frozen ones")
    ap.add_argument("--json", type=Path, help="write every run here (and skip the runs it already holds)")
    args = ap.parse_args(argv)
    args.plant_list = [p.strip() for p in args.plants.split(",") if p.strip()]
    args.model_list = [m.strip() for m in args.models.split(",") if m.strip()]
    for p in args.plant_list:
        if p not in PLANTS:
            ap.error(f"unknown plant {p!r}; choose among {', '.join(PLANTS)}")
    for m in args.model_list:
        if m not in LITERAL_KGE_MODELS:
            ap.error(f"unknown literal model {m!r}; choose among {', '.join(LITERAL_KGE_MODELS)}")
    args.overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            args.overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            args.overrides[key] = value
    return args


class Runs:
    """Every training run of the benchmark, memoised by its settings (and in ``--json``)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.done: dict[str, dict[str, Any]] = {}
        if path is not None and path.exists():
            self.done = json.loads(path.read_text()).get("runs", {})

    def run(self, cfg: dict[str, Any], label: str) -> dict[str, Any]:
        """Train ``cfg`` (TrainConfig fields) once; its summary."""
        key = json.dumps(cfg, sort_keys=True)
        if key in self.done and "error" not in self.done[key]:
            return self.done[key]
        from rdf2mm.config import TrainConfig  # noqa: PLC0415 - torch loads on the first run
        from rdf2mm.pipeline import train  # noqa: PLC0415

        started = time.perf_counter()
        print(f"  {label} ...", end="", flush=True, file=sys.stderr)
        try:
            result = train(TrainConfig(**cfg))
        except Exception as exc:  # a failed run is a row of the table, not the end of the grid
            summary: dict[str, Any] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f" failed: {summary['error']}", file=sys.stderr)
        else:
            m = result.metrics
            seeds = result.per_seed
            summary = {
                "label": label,
                "test_mrr": m.get("test_mrr"), "test_mrr_std": m.get("test_mrr_std"),
                "test_hits@10": m.get("test_hits@10"),
                "test_mrr_random": m.get("test_mrr_random"),
                "per_seed_test_mrr": [s.get("test_mrr") for s in seeds],
                "epochs_run": [s.get("epochs_run") for s in seeds],
                "best_epoch": [s.get("best_epoch") for s in seeds],
                "stopped": [s.get("stopped") for s in seeds],
                "seconds_per_epoch": m.get("seconds_per_epoch"),
            }
            print(f" MRR {fmt(summary)} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
        summary["wall_s"] = time.perf_counter() - started
        self.done[key] = summary
        self.save()
        return summary

    def save(self, **extra: Any) -> None:
        if self.path is None:
            return
        data = json.loads(self.path.read_text()) if self.path.exists() else {}
        data["runs"] = self.done
        data.update(extra)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(self.path)


def fmt(summary: dict[str, Any] | None) -> str:
    """``0.123 ± 0.004`` (or the error)."""
    if summary is None:
        return "-"
    if "error" in summary:
        return "failed"
    mean, std = summary.get("test_mrr"), summary.get("test_mrr_std")
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    return f"{mean:.3f} ± {std or 0.0:.3f}"


def mrr(summary: dict[str, Any] | None) -> float:
    if summary is None or "error" in summary or summary.get("test_mrr") is None:
        return float("nan")
    return float(summary["test_mrr"])


def common(args: argparse.Namespace, model: str) -> dict[str, Any]:
    """The TrainConfig fields every run shares (the CLI's defaults unless overridden)."""
    cfg: dict[str, Any] = {"task": "link-prediction", "model": model, "threads": str(args.threads),
                           "text_encoder": "minilm", "image_encoder": "pretrained"}
    if model == "mrgcn" and args.mrgcn_default_encoders:
        cfg.pop("text_encoder"), cfg.pop("image_encoder")
    for name in ("epochs", "batch_size", "patience", "lr"):
        value = getattr(args, name)
        if value is not None:
            cfg[name] = value
    cfg.update(args.overrides)
    return cfg


def planted_graph(args: argparse.Namespace, plant: str) -> Path:
    """The planted graph's folder (generated once per setting)."""
    from rdf2mm.synthetic.lp_planted import generate_planted_lp  # noqa: PLC0415

    folder = args.work / f"lp-{plant}-n{args.entities}-m{args.missing:g}-s{args.graph_seed}"
    if not (folder / "lp" / "test.nt").exists():
        generate_planted_lp(folder, entities=args.entities, plant=plant, missing=args.missing, seed=args.graph_seed)
    return folder


def planted_grid(args: argparse.Namespace, runs: Runs) -> list[dict[str, Any]]:
    rows = []
    for plant in args.plant_list:
        folder = planted_graph(args, plant)
        files = {"graph": [str(folder / "lp" / "train.nt")], "train": str(folder / "lp" / "train.nt"),
                 "valid": str(folder / "lp" / "valid.nt"), "test": str(folder / "lp" / "test.nt"),
                 "seeds": args.seeds}
        print(f"{plant} graph: {folder}", file=sys.stderr)
        for model in args.model_list:
            if plant != "none" and not reads_modality(model, plant):
                continue
            modalities = "all" if plant == "none" else plant
            lit = {**common(args, model), **files, "modalities": modalities}
            if PLAIN_COUNTERPARTS[model] is None:  # literale, vlkge, mose score with --decoder
                lit["decoder"] = args.decoder
            plain_name = plain_counterpart(model, args.decoder)
            assert plain_name is not None  # every literal model has one
            real = runs.run(lit, f"{plant}: {model}")
            shuffled = runs.run({**lit, "shuffle_literals": True}, f"{plant}: {model} shuffled") \
                if plant != "none" or args.none_shuffled else None
            plain = runs.run({**common(args, plain_name), **files, "modalities": "none"}, f"{plant}: {plain_name}")
            rows.append(verdict(plant, model, modalities, plain_name, real, shuffled, plain))
    return rows


def verdict(plant: str, model: str, modalities: str, plain_name: str, real: dict[str, Any],
            shuffled: dict[str, Any] | None, plain: dict[str, Any]) -> dict[str, Any]:
    """One row of the planted table, with its verdict against the issue's bar."""
    r, s, p = mrr(real), mrr(shuffled), mrr(plain)
    row: dict[str, Any] = {"plant": plant, "model": model, "modalities": modalities, "plain": plain_name,
                           "real": real, "shuffled": shuffled, "plain_run": plain,
                           "over_plain": r - p, "over_shuffled": r - s}
    if math.isnan(r) or math.isnan(p):
        row["verdict"] = "failed"
    elif plant == "none":
        row["verdict"] = "meets" if r >= p - NONE_TOLERANCE else f"misses (worse than plain by {p - r:.3f})"
    else:
        short = []
        if not r - p >= MARGIN:
            short.append(f"over plain {r - p:+.3f}")
        if not r - s >= MARGIN:
            short.append(f"over shuffled {r - s:+.3f}")
        row["verdict"] = "meets" if not short else "misses (" + ", ".join(short) + ")"
    return row


def synth_lp_table(args: argparse.Namespace, runs: Runs) -> list[dict[str, Any]]:
    d = args.synth_lp
    files = {"graph": [str(d / "train.nt.gz")], "train": str(d / "train.nt.gz"), "valid": str(d / "valid.nt.gz"),
             "test": str(d / "test.nt.gz"), "seeds": args.synth_lp_seeds}
    rows = []
    print(f"synth-lp: {d}", file=sys.stderr)
    for model in [m.strip() for m in args.synth_lp_models.split(",") if m.strip()]:
        cfg = {**common(args, model), **files}
        if model in PLAIN_KGE_MODELS:
            cfg["modalities"] = "none"
        rows.append({"model": model, "run": runs.run(cfg, f"synth-lp: {model}")})
    return rows


def print_tables(planted: list[dict[str, Any]], synth: list[dict[str, Any]], args: argparse.Namespace) -> None:
    if planted:
        print(f"\nPlanted graphs: {args.entities} items, {args.missing:.0%} missing the planted modality, "
              f"graph seed {args.graph_seed}, {args.seeds} training seed(s); filtered test MRR (mean ± std)\n")
        print("| graph | model | reads | literals | shuffled | plain | plain MRR | vs plain | vs shuffled | verdict |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for row in planted:
            shuffled = fmt(row["shuffled"]) if row["shuffled"] is not None else "-"
            over_s = f"{row['over_shuffled']:+.3f}" if row["shuffled"] is not None else "-"
            print(f"| {row['plant']} | `{row['model']}` | {row['modalities']} | {fmt(row['real'])} | {shuffled} | "
                  f"`{row['plain']}` | {fmt(row['plain_run'])} | {row['over_plain']:+.3f} | {over_s} | "
                  f"{row['verdict']} |")
        randoms = {row["plant"]: row["real"].get("test_mrr_random") for row in planted if "error" not in row["real"]}
        print("\nrandom scores: " + ", ".join(f"{k} {v:.4f}" for k, v in randoms.items() if v is not None))
    if synth:
        print(f"\nsynth-lp ({args.synth_lp_seeds} seeds): filtered test MRR\n")
        print("| model | test MRR | Hits@10 | epochs run | s / epoch |")
        print("|---|---|---|---|---|")
        for row in synth:
            r = row["run"]
            hits = f"{r['test_hits@10']:.3f}" if r.get("test_hits@10") is not None else "-"
            spe = f"{r['seconds_per_epoch']:.2f}" if r.get("seconds_per_epoch") is not None else "-"
            print(f"| `{row['model']}` | {fmt(r)} | {hits} | {r.get('epochs_run', '-')} | {spe} |")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    runs = Runs(args.json)
    started = time.perf_counter()
    planted = [] if args.no_planted else planted_grid(args, runs)
    synth = [] if args.no_synth_lp else synth_lp_table(args, runs)
    print_tables(planted, synth, args)
    runs.save(planted=[{k: v for k, v in row.items() if k not in ("real", "shuffled", "plain_run")}
                       | {"real_mrr": mrr(row["real"]), "shuffled_mrr": mrr(row["shuffled"]),
                          "plain_mrr": mrr(row["plain_run"])} for row in planted],
              synth_lp=[{"model": row["model"], "test_mrr": mrr(row["run"]),
                         "test_mrr_std": row["run"].get("test_mrr_std")} for row in synth],
              argv=sys.argv[1:])
    print(f"\n({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
