"""``rdf2mm ablate``: the MR-GCN paper's modality ablation grid, for one model or several, in one table."""
from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path
from typing import Any, Optional

import typer

from rdf2mm.cli.app import app, handle_errors, info, out, print_json, warn
from rdf2mm.cli.options import DEFAULTS, config_option, no_cache_option, option
from rdf2mm.cli.progress import LogProgress
from rdf2mm.cli.tracking_options import experiment_option, make_tracking, tracker_option, tracking_uri_option


@app.command("ablate")
def ablate_command(
    graph: Optional[list[str]] = typer.Argument(None, help="RDF files, folders or a store folder (default: the --config file's graph)."),
    task: Optional[str] = option("task"),
    target: Optional[str] = option("target"),
    train: Optional[str] = option("train"),
    valid: Optional[str] = option("valid"),
    test: Optional[str] = option("test"),
    seeds: int = typer.Option(5, "--seeds", help="Seeds per grid cell (Welch's t-test needs at least 2)."),
    modalities_grid: Optional[str] = typer.Option(None, "--modalities-grid", help="Grid rows, comma list of none, all, shuffled (all modalities, literals shuffled: the control) and modality names (default: none, each modality present in the graph, all, shuffled)."),
    literals: str = typer.Option("split,merged", "--literals", help="Literal modes to run: split, merged or split,merged (mrgcn's literal nodes; the literal KGE models read entity-level features and run once, shown as 'entity')."),
    models: Optional[str] = typer.Option(None, "--models", metavar="MODEL[,MODEL...]", help="Models to compare over the same grid and seeds, comma list (e.g. mrgcn,literale,ikrl,distmult; default: --model). Each runs the rows it reads; a literal KGE model's structure-only row is its plain KGE counterpart (literale, vlkge, mose: --decoder's; ikrl: transe; momok: tucker), trained once for all that share it; a plain KGE model has just that row."),
    model: Optional[str] = option("model"),
    out_dir: Optional[str] = option("out", help="Folder for the cells' run directories (default: runs/ablate-<time>)."),
    json_out: bool = typer.Option(False, "--json", help="Print the results as one JSON object on stdout instead of a table."),
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="Also write the table as CSV to this file."),
    config: Optional[Path] = config_option("TOML config of the other train settings (see rdf2mm config --example)."),
    format: Optional[str] = option("format"),
    modality_map: Optional[str] = option("modality_map"),
    text_encoder: Optional[str] = option("text_encoder"),
    image_encoder: Optional[str] = option("image_encoder"),
    embed_dim: Optional[int] = option("embed_dim"),
    hidden: Optional[int] = option("hidden"),
    layers: Optional[int] = option("layers"),
    aggregation: Optional[str] = option("aggregation"),
    decoder: Optional[str] = option("decoder"),
    batch_size: Optional[int] = option("batch_size"),
    negatives: Optional[int] = option("negatives"),
    entity_dropout: Optional[float] = option("entity_dropout"),
    dropout: Optional[float] = option("dropout"),
    lr: Optional[float] = option("lr"),
    weight_decay: Optional[float] = option("weight_decay"),
    epochs: Optional[int] = option("epochs"),
    patience: Optional[int] = option("patience"),
    device: Optional[str] = option("device"),
    threads: Optional[str] = option("threads"),
    seed: Optional[int] = option("seed", help=f"First seed (default: {DEFAULTS.seed}); cells use seed..seed+N-1."),
    shuffle_literals: Optional[bool] = option("shuffle_literals"),
    no_cache: bool = no_cache_option(),
    force: bool = typer.Option(False, "--force", help="Let --out be a folder holding files rdf2mm did not write (the cells are added beside them), and --csv overwrite a file rdf2mm did not write."),
    tracker: Optional[list[str]] = tracker_option(),
    tracking_uri: Optional[str] = tracking_uri_option(),
    experiment: str = experiment_option(),
) -> None:
    """Train structure only, each modality alone, all modalities and all modalities with shuffled literals, for split and merged literals, over N seeds; with --models, for several models side by side.

    Prints one table: mean ± std of test accuracy (link prediction: filtered MRR) and
    macro-F1 (link prediction: Hits@10), and the p-values of Welch's t-test of each row
    against its model's structure only and shuffled control (every modality, each
    modality's values permuted among the entities of their predicate) with the same
    literal mode. Each cell's run directory is written under --out (one model, mrgcn:
    MODE-ROW; several: mrgcn-MODE-ROW and MODEL-ROW). With --shuffle-literals every row is
    trained on shuffled literals (each modality's row becomes its own control); the
    shuffled row is in the default grid without it.

    --models a,b,c runs every model over the same grid rows and seeds: mrgcn in each
    literal mode (structure only: --modalities none); a literal KGE model (literale,
    vlkge, ikrl, mose, momok; link prediction) once, on the modalities it reads (ikrl:
    visual only), its structure-only row being its plain KGE counterpart; a plain KGE model
    (transe, distmult, complex, rotate, tucker) only its structure-only row. Equal runs are
    trained once and shared (literale's and vlkge's distmult).

    Examples:

      rdf2mm ablate examples/museum.ttl --target http://example.org/museum#movement --seeds 5

      rdf2mm ablate graph.nt --train train.nt --valid valid.nt --test test.nt --seeds 3 --epochs 50 --json

      rdf2mm ablate graph.nt --target http://ex.org/label --modalities-grid none,numeric,all --literals split --csv ablation.csv

      rdf2mm ablate lp/train.nt --task link-prediction --train lp/train.nt --valid lp/valid.nt --test lp/test.nt --models mrgcn,literale,ikrl,distmult --seeds 3
    """
    with handle_errors():
        from rdf2mm.ablation import default_grid, literals_label, parse_models, row_label, run_ablation
        from rdf2mm.config import TrainConfig, load_config_file
        from rdf2mm.errors import UsageError

        tracking = make_tracking(tracker, tracking_uri, experiment)
        settings: dict[str, Any] = load_config_file(config) if config else {}
        flags = {
            "task": task, "target": target, "train": train, "valid": valid, "test": test, "format": format,
            "modality_map": modality_map, "text_encoder": text_encoder, "image_encoder": image_encoder, "embed_dim": embed_dim, "hidden": hidden,
            "layers": layers, "aggregation": aggregation, "decoder": decoder, "batch_size": batch_size,
            "negatives": negatives, "model": model, "entity_dropout": entity_dropout, "dropout": dropout, "lr": lr, "weight_decay": weight_decay, "epochs": epochs,
            "patience": patience, "device": device, "threads": threads, "seed": seed,
            "shuffle_literals": shuffle_literals,
        }
        settings.update({k: v for k, v in flags.items() if v is not None})
        if graph:
            settings["graph"] = list(graph)
        if not settings.get("graph"):
            raise UsageError("no input graph: give GRAPH or a --config file that names one")
        if no_cache:
            settings["cache"] = False
        settings.pop("out", None)
        cfg = TrainConfig.from_dict(settings, source=str(config) if config else "options")
        if models is not None and model is not None:
            raise UsageError("give --model NAME or --models a,b,c, not both")
        model_list = parse_models(models, cfg.model)
        cfg.out = out_dir or str(Path("runs") / f"ablate-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")
        modes = [m.strip() for m in literals.split(",") if m.strip()]
        grid = [g.strip() for g in modalities_grid.split(",") if g.strip()] if modalities_grid else default_grid(cfg)
        if csv_path:
            from rdf2mm.io.targets import check_file_target, is_ablation_csv

            check_file_target(csv_path, is_ablation_csv, "the ablation table", force)
        if seeds < 2:
            info("note: with fewer than 2 seeds no significance test is possible")

        heartbeat = LogProgress(info, epochs=cfg.epochs)

        def note(stage: str, data: dict) -> None:
            if stage == "warning":
                warn(data["message"])
            elif stage == "note":
                info(f"note: {data['message']}")
            elif stage == "cell":
                # each cell is one tracked run, named like its run directory
                tracking.begin(data["cfg"], tags={"rdf2mm.ablation": str(cfg.out)})
                info(f"[{data['index']}/{data['total']}] {data['model']}: {row_label(data['config'])} "
                     f"({literals_label(data['literals'])})")
            elif stage == "cell_done":
                tracking.end(data.get("run_dir"))
            elif stage in ("seed", "epoch", "step", "seed_done", "candidate_seed_done", "selected"):
                heartbeat(stage, data)

        with tracking.closing():
            result = run_ablation(cfg, grid, modes, seeds, tracking.wrap(note), force=force, models=model_list)
        if csv_path:
            _write_csv(csv_path, result.rows())
        if json_out:
            print_json({**result.to_dict(), "out": cfg.out})
        else:
            _print_table(result)
            info(f"run directories under [bold]{cfg.out}[/]")


def _fmt(mean: Any, std: Any) -> str:
    if not isinstance(mean, float) or math.isnan(mean):
        return "-"
    return f"{mean:.4f} ± {std:.4f}" if isinstance(std, float) else f"{mean:.4f}"


def _print_table(result: Any) -> None:
    from rich.table import Table

    from rdf2mm.ablation import SHUFFLED, config_label

    metric_name = "test MRR (filtered)" if result.task == "link-prediction" else "test accuracy"
    second_name = "test Hits@10" if result.task == "link-prediction" else "test macro-F1"
    controlled = any(c.name == SHUFFLED for c in result.cells)
    title = f"Ablation, {result.seeds} seed(s) per row; p: Welch's t-test vs the model's structure only"
    table = Table(title=title + (" and vs its shuffled control" if controlled else ""))
    columns = [("model", "left"), ("config", "left"), ("literals", "left"), (metric_name, "right"),
               (second_name, "right"), ("p vs structure", "right"), *([("p vs shuffled", "right")] if controlled else [])]
    for name, justify in columns:
        # fold, not cut: "structure only (distmult)" must stay readable on 80 columns
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for row, cell in zip(result.rows(), result.cells):
        ps = [row["p_value"], *([row["p_value_shuffled"]] if controlled else [])]
        table.add_row(
            cell.model, config_label(cell.name, cell.model, cell.trained_model), cell.literals,
            _fmt(row[result.metric], row[f"{result.metric}_std"]),
            _fmt(row[result.secondary], row[f"{result.secondary}_std"]),
            *("-" if p is None else f"{p:.3g}" for p in ps),
        )
    out.print(table)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    from rdf2mm.io.atomic import atomic_open

    with atomic_open(path) as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["config"])
        w.writeheader()
        w.writerows(rows)
