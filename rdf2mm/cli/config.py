"""``rdf2mm config --example``: a commented TOML template of every ``train`` setting."""
from __future__ import annotations

import dataclasses
import sys
from typing import Any

import typer

from rdf2mm.cli.app import app, handle_errors

#: one line per TrainConfig field; a field missing here gets its ``#:`` comment in rdf2mm/config.py
DESCRIPTIONS: dict[str, str] = {
    "graph": "RDF files, folders, a store folder or a SPARQL endpoint URL (required)",
    "format": "input format when it cannot be told from the extension (nt, ttl, nq, trig, ...)",
    "task": "node-classification or link-prediction",
    "target": "predicate IRI or prefixed name (ex:movement, with the graph's prefixes) holding the class labels (its triples are removed before training)",
    "train": "training labels (N-Triples or TSV/CSV) or, for link prediction, training triples",
    "valid": "validation labels or triples",
    "test": "test labels or triples",
    "split": "train/valid/test fractions when labels come from --target",
    "modality_map": "TOML file adding or overriding datatype -> modality rules",
    "modalities": "all, none, or a comma list: numeric,temporal,textual,visual,spatial,boolean",
    "literals": "split (a node per literal occurrence), merged (a node per distinct literal) or none",
    "text_encoder": "charcnn or minilm (frozen all-MiniLM-L6-v2 features, offline)",
    "inverse": "add inverse relations",
    "self_loops": "add self-loops",
    "embed_dim": "size of node input vectors",
    "hidden": "hidden size of the R-GCN layers",
    "layers": "number of R-GCN layers",
    "bases": "basis decomposition with this many bases (default: 30 when there are more than 40 relations)",
    "blocks": "block-diagonal decomposition with this many blocks",
    "dropout": "dropout between layers, in [0, 1)",
    "entity_dropout": "probability of dropping an entity's whole input embedding in a training step",
    "lr": "Adam learning rate",
    "weight_decay": "L2 weight decay",
    "epochs": "maximum epochs",
    "patience": "early-stopping patience on validation (epochs)",
    "clip": "gradient-norm clipping",
    "device": "auto, cpu, cuda or cuda:N",
    "amp": "mixed precision on CUDA",
    "seed": "random seed (fixes results on CPU at a given thread count; deterministic: at any)",
    "seeds": "train N times with seeds seed..seed+N-1 and report mean and std",
    "target_relations": "link prediction: predicate IRIs to predict (empty: every entity-entity relation)",
    "decoder": "link prediction: distmult, complex or tucker",
    "negatives": "link prediction: corrupted triples per positive; 0 scores every entity (1-N)",
    "batch_size": "positive triples (link prediction) or labelled nodes (node classification, mini-batch) per step",
    "batching": "full (the whole graph every step), mini (sampled neighbourhoods) or auto (mini when full would not fit)",
    "fanout": "mini-batch: in-edges kept per node at each hop, nearest first; 0 keeps all (exact)",
    "full_batch_fraction": "auto batching: share of available memory full-batch training may take",
    "lp_split": "link prediction: train/valid/test fractions of the entity-entity triples (no split files)",
    "eval_every": "evaluate on valid every N epochs (link prediction; node classification in mini-batch mode)",
    "eval_memory_mb": "link prediction: memory for one block of ranking scores, MiB",
    "out": "run directory to write (default: runs/<time>-<task>)",
    "predictions_format": "tsv or parquet",
    "output": "also export the run as these formats: parquet, nt, ttl, trig, nq (into RUN_DIR/export)",
    "store": "also load the run's vectors and predictions into this embedded pyoxigraph store folder",
    "cache": "read and write the parsed-graph cache",
}


def _doc_comments() -> dict[str, str]:
    """The ``#:`` comment above each TrainConfig field in its source, by field name."""
    import inspect
    import re

    from rdf2mm.config import TrainConfig

    found: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(TrainConfig).splitlines():
        text = line.strip()
        if text.startswith("#:"):
            pending.append(text[2:].strip())
            continue
        match = re.match(r"(\w+)\s*:", text)
        if match and pending:
            found[match.group(1)] = " ".join(pending)
        pending = []
    return found


def describe(name: str) -> str:
    """The one-line comment for TrainConfig field ``name``."""
    return DESCRIPTIONS.get(name) or _doc_comments().get(name) or name.replace("_", " ")


def example_toml() -> str:
    """The template: every TrainConfig field with its default and a one-line comment.

    Settings whose default is "not set" or depends on the task are written commented out
    (uncomment to set them); ``graph`` must be filled in.
    """
    from rdf2mm.config import TASK_DEFAULTS, TrainConfig, _toml_value

    defaults = TrainConfig()
    tasks = list(TASK_DEFAULTS)
    lines = [
        "# rdf2mm train settings: fill in `graph` (and labels), then",
        "#   rdf2mm train --config THIS_FILE",
        "# Command-line flags override the file. Commented-out lines show settings left unset.",
        "",
    ]
    for f in dataclasses.fields(TrainConfig):
        name = f.name
        value: Any = getattr(defaults, name)
        lines.append(f"# {describe(name)}")
        if name in TASK_DEFAULTS[tasks[0]] and value is None:
            per_task = ", ".join(f"{t}: {_toml_value(TASK_DEFAULTS[t][name])}" for t in tasks)
            lines.append(f"# {name} = {_toml_value(TASK_DEFAULTS[tasks[0]][name])}    # default by task ({per_task})")
        elif value is None:
            lines.append(f"# {name} = ")
        elif name == "graph":
            lines.append('graph = []    # e.g. ["data/graph.nt.gz"]')
        else:
            lines.append(f"{name} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


@app.command("config")
def config_command(
    example: bool = typer.Option(False, "--example", help="Print a commented TOML template of every train setting."),
) -> None:
    """Print configuration templates for [bold]rdf2mm train --config[/].

    Examples:

      rdf2mm config --example > train.toml

      rdf2mm train --config train.toml --target http://example.org/museum#movement
    """
    with handle_errors():
        if not example:
            from rdf2mm.errors import UsageError

            raise UsageError("nothing to do: give --example")
        sys.stdout.write(example_toml())
        sys.stdout.flush()
