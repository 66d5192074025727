"""``rdf2mm tune``: hyperparameter search with Optuna (see :mod:`rdf2mm.tuning.study`)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Optional

import typer

from rdf2mm.cli.app import app, handle_errors, info, out, print_json
from rdf2mm.cli.options import DEFAULTS, config_option, no_cache_option, option
from rdf2mm.cli.tracking_options import experiment_option, make_tracking, tracker_option, tracking_uri_option


@app.command("tune")
def tune_command(
    graph: Optional[list[str]] = typer.Argument(None, help="RDF files, folders, a store folder or a SPARQL endpoint URL (default: the --config file's graph)."),
    task: Optional[str] = option("task"),
    target: Optional[str] = option("target"),
    train: Optional[str] = option("train"),
    valid: Optional[str] = option("valid", help="Validation labels or triples (trials are judged on these only)."),
    test: Optional[str] = option("test", help="Test labels or triples: evaluated once, by the final run (node-classification trials never see them)."),
    config: Optional[Path] = config_option("TOML config of the settings not searched (see rdf2mm config --example)."),
    out_dir: Optional[str] = option("out", help="Folder of the search: study.db, trials/, final/, config.toml, tune.html (default: runs/tune-<time>)."),
    trials: int = typer.Option(20, "--trials", "-n", help="Finished trials the study should hold (a resumed search runs only the rest)."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Start no new trial after this many seconds (the running one finishes)."),
    space: Optional[Path] = typer.Option(None, "--space", help="TOML search space replacing the task's default (format: see README, 'Hyperparameter search')."),
    resume: bool = typer.Option(False, "--resume", help="Continue the interrupted search in --out (same settings)."),
    seeds: int = typer.Option(5, "--seeds", help="Seeds the best configuration is retrained over; the test figure is their mean."),
    trial_seeds: int = typer.Option(1, "--trial-seeds", help="Seeds per trial (the validation figure is their mean)."),
    prune: bool = typer.Option(True, "--prune/--no-prune", help="Stop trials whose validation curve falls below the median of earlier trials at the same epoch."),
    epochs: Optional[int] = option("epochs"),
    format: Optional[str] = option("format"),
    model: Optional[str] = option("model"),
    decoder: Optional[str] = option("decoder"),
    modalities: Optional[str] = option("modalities"),
    text_encoder: Optional[str] = option("text_encoder"),
    image_encoder: Optional[str] = option("image_encoder"),
    device: Optional[str] = option("device"),
    threads: Optional[str] = option("threads"),
    seed: Optional[int] = option("seed", help=f"Seed of the runs and of the sampler (default: {DEFAULTS.seed})."),
    shuffle_literals: Optional[bool] = option("shuffle_literals"),
    no_cache: bool = no_cache_option(),
    tracker: Optional[list[str]] = tracker_option(),
    tracking_uri: Optional[str] = tracking_uri_option(),
    experiment: str = experiment_option(),
    json_out: bool = typer.Option(False, "--json", help="Print the search's summary (best, default, final, every trial) as one JSON object."),
) -> None:
    """Search hyperparameters on validation with Optuna (TPE, median pruning), then retrain the best over --seeds and test once.

    The first trial is the default configuration, so the best trial is at least as good on validation. --model chooses the model tuned (default: mrgcn); the default space searches only the settings it reads: an entity-table model (the plain and literal KGE models) has no --hidden, --layers, --dropout or --aggregation, a plain one no --decoder; literale adds --literal-dim, mose --ensemble, momok --experts. A --space file naming a setting the model does not read is refused. Every trial is a run directory under OUT/trials; the study lives in OUT/study.db (--resume continues it); OUT/config.toml reproduces the final run with rdf2mm train --config. Needs the optional extra: pip install 'rdf2mm\\[tune]'.

    Examples:

      rdf2mm tune data/graph.nt.gz --train train.nt --valid valid.nt --test test.nt --trials 20 --out runs/tune-1

      rdf2mm tune data/graph.nt.gz --train train.nt --valid valid.nt --test test.nt --trials 20 --out runs/tune-1 --resume

      rdf2mm tune graph.nt --target http://ex.org/label --space space.toml --timeout 3600 --json

      rdf2mm tune lp/train.nt --task link-prediction --train lp/train.nt --valid lp/valid.nt --test lp/test.nt --model literale --trials 20

      rdf2mm train --config runs/tune-1/config.toml
    """
    with handle_errors():
        from rdf2mm.config import TrainConfig, load_config_file
        from rdf2mm.errors import UsageError
        from rdf2mm.tuning.space import SearchSpace, default_space, load_space, parse_space
        from rdf2mm.tuning.study import require_optuna, run_search, saved_settings

        require_optuna()
        folder = out_dir or str(Path("runs") / f"tune-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")
        tracking = make_tracking(tracker, tracking_uri, experiment, folder=folder)
        settings: dict[str, Any] = load_config_file(config) if config else {}
        flags = {"task": task, "target": target, "train": train, "valid": valid, "test": test, "format": format,
                 "model": model, "decoder": decoder, "modalities": modalities, "text_encoder": text_encoder, "image_encoder": image_encoder,
                 "epochs": epochs, "device": device, "threads": threads, "seed": seed,
                 "shuffle_literals": shuffle_literals}
        settings.update({k: v for k, v in flags.items() if v is not None})
        if graph:
            settings["graph"] = list(graph)
        if no_cache:
            settings["cache"] = False
        settings.pop("out", None)
        if resume and not out_dir:
            raise UsageError("--resume needs --out: the folder of the search to continue")
        if resume and not settings.get("graph"):
            # just --out --resume: the saved settings (checked against the study in run_search)
            saved = saved_settings(out_dir)  # type: ignore[arg-type]
            base = TrainConfig.from_dict(saved["base"], source=str(Path(str(out_dir)) / "tune.json"))
            differ = sorted(k for k, v in settings.items() if saved["base"].get(k) != v)
            if differ:
                raise UsageError(f"cannot resume {out_dir}: {', '.join(differ)} differ from the saved search; "
                                 f"resume with the same settings")
        else:
            if not settings.get("graph"):
                raise UsageError("no input graph: give GRAPH or a --config file that names one")
            base = TrainConfig.from_dict(settings, source=str(config) if config else "options")
        base.resolve().validate()
        if space:
            search_space: SearchSpace = load_space(space, base)
        elif resume:
            search_space = parse_space(saved_settings(str(out_dir))["space"], base, source="the saved space")
        else:
            search_space = default_space(base.task, base.model)
        try:
            result = run_search(base, search_space, folder, trials, timeout=timeout, resume=resume, seeds=seeds,
                                trial_seeds=trial_seeds, prune=prune, progress=_note,
                                run_hook=tracking.hook if tracking else None)
        except KeyboardInterrupt:
            info(f"interrupted: the study is kept in {folder}/study.db; continue it with "
                 f"rdf2mm tune --out {folder} --resume")
            raise
        if json_out:
            print_json(result.to_dict())
        else:
            _print_trials(result)
            _print_summary(result)
        info(f"search written to [bold]{result.out}[/] (config.toml, trials.json, tune.html)")


def _note(stage: str, data: dict) -> None:
    if stage == "note":
        info(f"note: {data['message']}")
    elif stage == "study":
        info(f"study in {data['out']}: {data['finished']} trial(s) finished, {data['to_run']} to run, "
             f"judged on {data['metric']}")
    elif stage == "trial":
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in data["params"].items())
        info(f"trial {data['number']}{' (default configuration)' if data['default'] else ''}: {params}")
    elif stage == "trial_done":
        value = data["value"]
        shown = f"{value:.4f}" if isinstance(value, float) else "-"
        if data["state"] == "PRUNED" and isinstance(data.get("last_value"), float):
            shown = f"best {data['last_value']:.4f} by epoch {data['last_epoch']}"
        best = f"{data['best']:.4f}" if isinstance(data["best"], float) else "-"
        extra = f" ({data['error']})" if data.get("error") else ""
        info(f"  trial {data['number']} {data['state'].lower()}: {shown}; best so far {best}{extra}")
    elif stage == "final":
        info(f"final: trial {data['number']}'s configuration over {data['seeds']} seed(s), evaluated on test once")


def _print_trials(result: Any) -> None:
    from rich.table import Table

    table = Table(title=f"Trials (judged on {result.metric}; best: trial {result.best['number']})",
                  caption="* the default configuration")
    for col, justify in (("trial", "right"), ("state", "left"), (result.metric, "right"), ("s", "right"),
                         ("settings", "left")):
        table.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for t in result.trials:
        value = t.get("value")
        shown = f"{value:.4f}" if isinstance(value, float) else "-"
        if t["state"] == "PRUNED" and isinstance(t.get("last_value"), float):
            shown = f"({t['last_value']:.4f} at epoch {t['last_epoch']})"
        settings = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in t["params"].items())
        table.add_row(str(t["number"]) + ("*" if t["default"] else ""), t["state"].lower(), shown,
                      f"{t['seconds']:.0f}" if isinstance(t.get("seconds"), (int, float)) else "-", settings)
    out.print(table)


def _print_summary(result: Any) -> None:
    from rich.table import Table

    table = Table(title="Result")
    table.add_column("")
    table.add_column("value", justify="right")
    default = result.default
    table.add_row(f"default configuration, {result.metric}", f"{default['value']:.4f}" if default else "-")
    table.add_row(f"best trial ({result.best['number']}), {result.metric}", f"{result.best['value']:.4f}")
    final = result.final
    for key in sorted(k for k in final if k.startswith(("test_", "valid_")) and not k.endswith("_std")):
        if isinstance(final[key], float):
            std = final.get(f"{key}_std")
            table.add_row(f"final over {final['seeds']} seed(s), {key}",
                          f"{final[key]:.4f}" + (f" ± {std:.4f}" if isinstance(std, float) else ""))
    table.add_row("config", str(result.config_path))
    out.print(table)
