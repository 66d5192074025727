"""``rdf2mm train``: train an MR-GCN for node classification or link prediction."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rdf2mm.cli.app import app, console, handle_errors, info, is_main_worker, is_quiet, out, print_json, warn
from rdf2mm.cli.options import config_option, no_cache_option, option
from rdf2mm.cli.progress import LogProgress, format_selection, sentence
from rdf2mm.cli.tracking_options import experiment_option, make_tracking, tracker_option, tracking_uri_option


def _progress_enabled() -> bool:
    """Bars only for a person watching: both stdout and stderr are terminals, not --quiet."""
    return console.is_terminal and out.is_terminal and not is_quiet()


@app.command("train")
def train_command(
    graph: Optional[list[str]] = typer.Argument(None, help="RDF files, folders, a store folder, a SPARQL endpoint URL, or - for stdin (default: the --config file's graph)."),
    task: Optional[str] = option("task"),
    target: Optional[str] = option("target"),
    train: Optional[str] = option("train"),
    valid: Optional[str] = option("valid"),
    test: Optional[str] = option("test"),
    config: Optional[Path] = config_option("TOML config (a run's config.toml reproduces it); flags override it."),
    out_dir: Optional[str] = option("out"),
    format: Optional[str] = option("format"),
    model: Optional[str] = option("model"),
    modalities: Optional[str] = option("modalities"),
    literals: Optional[str] = option("literals"),
    text_encoder: Optional[str] = option("text_encoder"),
    image_encoder: Optional[str] = option("image_encoder"),
    modality_map: Optional[str] = option("modality_map"),
    embed_dim: Optional[int] = option("embed_dim"),
    hidden: Optional[int] = option("hidden"),
    layers: Optional[int] = option("layers"),
    bases: Optional[int] = option("bases"),
    blocks: Optional[int] = option("blocks"),
    aggregation: Optional[str] = option("aggregation"),
    dropout: Optional[float] = option("dropout"),
    entity_dropout: Optional[float] = option("entity_dropout"),
    lr: Optional[float] = option("lr"),
    weight_decay: Optional[float] = option("weight_decay"),
    epochs: Optional[int] = option("epochs"),
    patience: Optional[int] = option("patience"),
    patience_steps: Optional[int] = option("patience_steps"),
    device: Optional[str] = option("device"),
    threads: Optional[str] = option("threads"),
    seed: Optional[int] = option("seed"),
    seeds: Optional[int] = option("seeds"),
    predictions_format: Optional[str] = option("predictions_format"),
    output: Optional[str] = option("output"),
    store: Optional[str] = option("store"),
    target_relations: Optional[str] = option("target_relations"),
    decoder: Optional[str] = option("decoder"),
    negatives: Optional[int] = option("negatives"),
    batch_size: Optional[int] = option("batch_size"),
    batching: Optional[str] = option("batching"),
    fanout: Optional[str] = option("fanout"),
    eval_every: Optional[int] = option("eval_every"),
    literal_dim: Optional[int] = option("literal_dim"),
    checkpoint_every: Optional[int] = option("checkpoint_every"),
    encoder_refresh: Optional[str] = option("encoder_refresh"),
    ensemble: Optional[str] = option("ensemble"),
    experts: Optional[int] = option("experts"),
    club_weight: Optional[float] = option("club_weight"),
    view_dropout: Optional[float] = option("view_dropout"),
    classifier_hidden: Optional[int] = option("classifier_hidden"),
    resume: Optional[str] = typer.Option(None, "--resume", help="Continue the interrupted run RUN_DIR from its last checkpoint (same settings, same result)."),
    force: bool = typer.Option(False, "--force", help="Let --out replace a folder or file rdf2mm did not write (its contents are deleted). Without it, only an empty folder or an rdf2mm run directory is replaced."),
    deterministic: Optional[bool] = option("deterministic"),
    shuffle_literals: Optional[bool] = option("shuffle_literals"),
    no_cache: bool = no_cache_option(),
    json_out: bool = typer.Option(False, "--json", help="Print the final metrics as one JSON object on stdout."),
    tracker: Optional[list[str]] = tracker_option(),
    tracking_uri: Optional[str] = tracking_uri_option(),
    experiment: str = experiment_option(),
) -> None:
    """Train an MR-GCN on GRAPH and write a run directory (config, metrics, curve, predictions, model).

    Examples:

      rdf2mm train examples/museum.ttl --target ex:movement      # the graph's own prefixes

      rdf2mm train aifb.nt.gz --train train.nt --valid valid.nt --test test.nt --seeds 5 --json

      rdf2mm train graph.nt --modalities numeric,temporal --literals merged --out runs/ablation-1

      rdf2mm train --config runs/ablation-1/config.toml --out runs/ablation-1-again

      rdf2mm train --resume runs/ablation-1       # after Ctrl-C or a kill

      rdf2mm train big.nt.gz --target ex:label --batching mini --fanout 25,10

      rdf2mm train graph.nt --task link-prediction --model rotate   # a plain KGE baseline

      rdf2mm train graph.nt --task link-prediction --model literale --decoder complex   # LiteralE

      rdf2mm train graph.nt --target ex:label --model distmult   # embeddings, then a classifier on them

      torchrun --nproc-per-node 2 -m rdf2mm train graph.nt --target ex:label   # data parallel

      rdf2mm train graph.nt --target ex:label --tracker mlflow,tensorboard   # needs the track extra
    """
    with handle_errors():
        tracking = make_tracking(tracker, tracking_uri, experiment)
        from rdf2mm.config import TrainConfig, load_config_file
        from rdf2mm.pipeline import resume as run_resume
        from rdf2mm.pipeline import train as run_train

        if resume:
            from rdf2mm.runs.checkpoint import TrainingCheckpoint, checkpoint_folder

            saved = TrainingCheckpoint(checkpoint_folder(resume)).saved_config()
            result = _tracked(tracking, saved, lambda _cfg, note: run_resume(resume, note, force=force))
            _report(result, json_out)
            return

        settings: dict[str, Any] = load_config_file(config) if config else {}
        flags = {
            "task": task, "model": model, "target": target, "train": train, "valid": valid, "test": test, "format": format,
            "modalities": modalities, "literals": literals, "text_encoder": text_encoder,
            "image_encoder": image_encoder,
            "modality_map": modality_map, "embed_dim": embed_dim, "hidden": hidden, "layers": layers,
            "bases": bases, "blocks": blocks, "aggregation": aggregation, "dropout": dropout, "entity_dropout": entity_dropout, "lr": lr, "weight_decay": weight_decay,
            "epochs": epochs, "patience": patience, "patience_steps": patience_steps, "device": device, "threads": threads, "seed": seed, "seeds": seeds,
            "predictions_format": predictions_format, "out": out_dir,
            "target_relations": [t.strip() for t in target_relations.split(",") if t.strip()] if target_relations else None,
            "decoder": decoder, "negatives": negatives, "batch_size": batch_size, "batching": batching,
            "fanout": fanout, "eval_every": eval_every, "literal_dim": literal_dim,
            "output": [o.strip() for o in output.split(",") if o.strip()] if output else None,
            "store": store, "checkpoint_every": checkpoint_every, "deterministic": deterministic,
            "encoder_refresh": encoder_refresh, "shuffle_literals": shuffle_literals,
            "ensemble": ensemble, "experts": experts, "club_weight": club_weight,
            "view_dropout": view_dropout,
            "classifier_hidden": classifier_hidden,
        }
        settings.update({k: v for k, v in flags.items() if v is not None})
        if graph:
            settings["graph"] = list(graph)
        if not settings.get("graph"):
            from rdf2mm.errors import UsageError

            raise UsageError("no input graph: give GRAPH or a --config file that names one")
        if no_cache:
            settings["cache"] = False
        cfg = TrainConfig.from_dict(settings, source=str(config) if config else "options")
        from rdf2mm.runs import claim_run_dir, release_run_dir

        claimed, root = None, Path("runs")
        root_existed = root.is_dir()
        if not cfg.out and is_main_worker():  # the other workers never write the run directory
            claimed = claim_run_dir(root, cfg.task)
            cfg.out = str(claimed)
        try:
            result = _tracked(tracking, cfg, lambda c, note: run_train(c, note, force=force))
        finally:
            if claimed is not None:
                # A run that failed before writing leaves nothing behind, not even runs/.
                release_run_dir(claimed, remove_root=not root_existed)
        _report(result, json_out)


def _tracked(tracking: Any, cfg: Any, run_train: Any) -> Any:
    """Run ``run_train`` with progress display, as one tracked run when trackers are named."""
    if not tracking:
        return _run_with_progress(run_train, cfg)
    tracking.begin(cfg)
    with tracking.closing():
        result = _run_with_progress(lambda c, note: run_train(c, tracking.wrap(note)), cfg)
    tracking.end(result.run_dir)
    return result


def _report(result: Any, json_out: bool) -> None:
    if not is_main_worker():
        return
    if json_out:
        print_json({**result.metrics, "run_dir": str(result.run_dir) if result.run_dir else None,
                    **({"export": result.export} if result.export else {})})
    else:
        _print_metrics(result.metrics)
        info(f"run written to [bold]{result.run_dir}[/]")


def _run_with_progress(run_train: Any, cfg: Any) -> Any:
    if not _progress_enabled():
        # Off a terminal: sentences, and a heartbeat line every RDF2MM_PROGRESS_INTERVAL seconds.
        log = LogProgress(info, epochs=cfg.epochs)

        def note(stage: str, data: dict) -> None:
            if stage == "warning":
                warn(data["message"])  # shown even with --quiet
            else:
                log(stage, data)
        return run_train(cfg, note)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
        console=console, transient=True,
    ) as bar:
        state: dict[str, Any] = {"task": None}

        def note(stage: str, data: dict) -> None:
            if stage == "warning":
                warn(data["message"])
            elif stage == "seed":
                agg = f" ({data['aggregation']})" if cfg.aggregation == "auto" else ""
                state["task"] = bar.add_task(f"seed {data['seed']}{agg}", total=cfg.epochs, status="")
            elif stage == "step" and state["task"] is not None:
                # Mini-batch epochs of a big graph take minutes: show the step too.
                bar.update(state["task"], status=f"epoch {data['epoch']}: step {data['step']}/{data['steps']}")
            elif stage == "epoch" and state["task"] is not None:
                status = " ".join(f"{k}={v:.3f}" for k, v in data.items() if k.startswith(("train_loss", "valid_")))
                bar.update(state["task"], completed=data["epoch"], status=status)
            elif stage == "seed_done" and state["task"] is not None:
                bar.update(state["task"], completed=cfg.epochs)
            elif stage in ("read", "labels", "literals", "export", "selected"):
                text = sentence(stage, data)
                if text:
                    bar.console.print(text, highlight=False)
        return run_train(cfg, note)


def _print_metrics(metrics: dict) -> None:
    from rich.table import Table

    table = Table(title="Results")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in metrics.items():
        if k.endswith("_std") or k == "per_seed":
            continue
        std = metrics.get(f"{k}_std")
        if k == "aggregation_selection":
            v = format_selection(v)
        if isinstance(v, float):
            table.add_row(k, f"{v:.4f}" + (f" ± {std:.4f}" if isinstance(std, float) and metrics.get("seeds", 1) > 1 else ""))
        else:
            table.add_row(k, str(v))
    out.print(table)
