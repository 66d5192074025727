"""``rdf2mm train``: train an MR-GCN for node classification or link prediction."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rdf2mm.cli.app import app, console, handle_errors, info, is_main_worker, is_quiet, out, print_json, warn
from rdf2mm.cli.progress import LogProgress, format_selection, sentence
from rdf2mm.cli.tracking_options import experiment_option, make_tracking, tracker_option, tracking_uri_option


def _progress_enabled() -> bool:
    """Bars only for a person watching: both stdout and stderr are terminals, not --quiet."""
    return console.is_terminal and out.is_terminal and not is_quiet()


@app.command("train")
def train_command(
    graph: Optional[list[str]] = typer.Argument(None, help="RDF files, folders, a store folder, a SPARQL endpoint URL, or - for stdin (default: the --config file's graph)."),
    task: Optional[str] = typer.Option(None, "--task", "-t", help="node-classification (default) or link-prediction."),
    target: Optional[str] = typer.Option(None, "--target", help="Predicate holding the class labels in the graph: an IRI or a prefixed name such as ex:movement, with the graph's prefixes (its triples are removed before training)."),
    train: Optional[str] = typer.Option(None, "--train", help="Training labels (N-Triples or TSV/CSV) or, for link prediction, training triples."),
    valid: Optional[str] = typer.Option(None, "--valid", help="Validation labels or triples."),
    test: Optional[str] = typer.Option(None, "--test", help="Test labels or triples."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="TOML config (a run's config.toml reproduces it); flags override it."),
    out_dir: Optional[str] = typer.Option(None, "--out", "-o", help="Run directory to write (default: runs/<time>-<task>)."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Input format when it cannot be told from the extension."),
    modalities: Optional[str] = typer.Option(None, "--modalities", "-m", help="all (default), none, or a list: numeric,temporal,textual,visual,spatial,boolean."),
    literals: Optional[str] = typer.Option(None, "--literals", help="merged (default for node classification): a node per distinct literal; split (default for link prediction): a node per literal occurrence; none."),
    text_encoder: Optional[str] = typer.Option(None, "--text-encoder", help="charcnn (default) or minilm (frozen all-MiniLM-L6-v2 features, offline)."),
    modality_map: Optional[str] = typer.Option(None, "--modality-map", help="TOML file adding or overriding datatype -> modality rules."),
    embed_dim: Optional[int] = typer.Option(None, "--embed-dim", help="Size of node input vectors (default: 32; link prediction 64)."),
    hidden: Optional[int] = typer.Option(None, "--hidden", help="Hidden size of the R-GCN layers (default: 32; link prediction 64)."),
    layers: Optional[int] = typer.Option(None, "--layers", help="R-GCN layers (default: 2; link prediction 1)."),
    bases: Optional[int] = typer.Option(None, "--bases", help="Basis decomposition with this many bases (default: 30 when there are more than 40 relations)."),
    blocks: Optional[int] = typer.Option(None, "--blocks", help="Block-diagonal decomposition with this many blocks."),
    aggregation: Optional[str] = typer.Option(None, "--aggregation", help="How a node combines its messages per relation: sum (keeps how many neighbours there are), mean (R-GCN's; default for link prediction) or auto (default for node classification: trains with both and keeps the better on validation; twice the training time)."),
    dropout: Optional[float] = typer.Option(None, "--dropout", help="Dropout between layers (default: 0.2)."),
    entity_dropout: Optional[float] = typer.Option(None, "--entity-dropout", help="Probability of dropping an entity's whole input vector in a training step (default: 0.5 for node classification, 0 for link prediction)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Adam learning rate (default: 0.01)."),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay", help="L2 weight decay (default: 5e-4; link prediction 0)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Maximum epochs (default: 200)."),
    patience: Optional[int] = typer.Option(None, "--patience", help="Early-stopping patience on validation (default: 30; link prediction 10)."),
    device: Optional[str] = typer.Option(None, "--device", help="auto (default), cpu or cuda."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (default: 0); fixes results on CPU at a given thread count (--deterministic: at any)."),
    seeds: Optional[int] = typer.Option(None, "--seeds", help="Train N times with seeds seed..seed+N-1 and report mean and std."),
    predictions_format: Optional[str] = typer.Option(None, "--predictions-format", help="tsv (default) or parquet."),
    output: Optional[str] = typer.Option(None, "--output", help="Also export the run: comma list of parquet, nt, ttl, trig, nq (into RUN_DIR/export)."),
    store: Optional[str] = typer.Option(None, "--store", help="Also load the run's vectors and predictions into this embedded pyoxigraph store folder."),
    target_relations: Optional[str] = typer.Option(None, "--target-relations", help="Link prediction: comma-separated predicate IRIs or prefixed names to predict (default: every entity-entity relation)."),
    decoder: Optional[str] = typer.Option(None, "--decoder", help="Link prediction: distmult (default), complex or tucker."),
    negatives: Optional[int] = typer.Option(None, "--negatives", help="Link prediction: corrupted triples per positive; 0 (default) scores every entity (1-N)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Positive triples (link prediction, default 4096) or labelled nodes (node classification, mini-batch, default 512) per step."),
    batching: Optional[str] = typer.Option(None, "--batching", help="full (whole graph each step), mini (sampled neighbourhoods) or auto (default: mini when full batch would not fit in memory, or under torchrun)."),
    fanout: Optional[str] = typer.Option(None, "--fanout", help="Mini-batch: in-edges sampled per node at each hop, e.g. 20 or 25,10 (default: 20; 0: all, exact)."),
    eval_every: Optional[int] = typer.Option(None, "--eval-every", help="Evaluate on valid every N epochs (link prediction; node classification with mini-batches). (default: 1)."),
    checkpoint_every: Optional[int] = typer.Option(None, "--checkpoint-every", help="Save a checkpoint every N epochs next to the run directory (default: 10; 0: never)."),
    resume: Optional[str] = typer.Option(None, "--resume", help="Continue the interrupted run RUN_DIR from its last checkpoint (same settings, same result)."),
    force: bool = typer.Option(False, "--force", help="Let --out replace a folder or file rdf2mm did not write (its contents are deleted). Without it, only an empty folder or an rdf2mm run directory is replaced."),
    deterministic: Optional[bool] = typer.Option(None, "--deterministic", help="Bit-exact results on CPU at any thread count: deterministic torch algorithms and one intra-op thread (slower; stored in the config)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the parsed-graph cache."),
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

      torchrun --nproc-per-node 2 -m rdf2mm train graph.nt --target ex:label   # data parallel

      rdf2mm train graph.nt --target ex:label --tracker mlflow,tensorboard   # needs the track extra
    """
    with handle_errors():
        tracking = make_tracking(tracker, tracking_uri, experiment)
        from rdf2mm.config import TrainConfig, load_config_file
        from rdf2mm.pipeline import resume as run_resume
        from rdf2mm.pipeline import train as run_train

        if resume:
            from rdf2mm.checkpoint import TrainingCheckpoint, checkpoint_folder

            saved = TrainingCheckpoint(checkpoint_folder(resume)).saved_config()
            result = _tracked(tracking, saved, lambda _cfg, note: run_resume(resume, note, force=force))
            _report(result, json_out)
            return

        settings: dict[str, Any] = load_config_file(config) if config else {}
        flags = {
            "task": task, "target": target, "train": train, "valid": valid, "test": test, "format": format,
            "modalities": modalities, "literals": literals, "text_encoder": text_encoder,
            "modality_map": modality_map, "embed_dim": embed_dim, "hidden": hidden, "layers": layers,
            "bases": bases, "blocks": blocks, "aggregation": aggregation, "dropout": dropout, "entity_dropout": entity_dropout, "lr": lr, "weight_decay": weight_decay,
            "epochs": epochs, "patience": patience, "device": device, "seed": seed, "seeds": seeds,
            "predictions_format": predictions_format, "out": out_dir,
            "target_relations": [t.strip() for t in target_relations.split(",") if t.strip()] if target_relations else None,
            "decoder": decoder, "negatives": negatives, "batch_size": batch_size, "batching": batching,
            "fanout": fanout, "eval_every": eval_every,
            "output": [o.strip() for o in output.split(",") if o.strip()] if output else None,
            "store": store, "checkpoint_every": checkpoint_every, "deterministic": deterministic,
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
