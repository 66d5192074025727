"""``rdf2mm config --example``: a commented TOML template of every ``train`` setting."""
from __future__ import annotations

import dataclasses
import sys
from typing import Any

import typer

from rdf2mm.cli.app import app, handle_errors
from rdf2mm.cli.options import describe_option

#: settings no train option sets (their other comments are the options' help, see
#: rdf2mm.cli.options); a field in neither gets its ``#:`` comment in rdf2mm/config.py
DESCRIPTIONS: dict[str, str] = {
    "graph": "RDF files, folders, a store folder or a SPARQL endpoint URL (required)",
    "split": "train/valid/test fractions when labels come from --target",
    "inverse": "add inverse relations",
    "self_loops": "add self-loops",
    "clip": "gradient-norm clipping",
    "amp": "mixed precision on CUDA",
    "full_batch_fraction": "auto batching: share of available memory full-batch training may take",
    "lp_split": "link prediction: train/valid/test fractions of the entity-entity triples (no split files)",
    "eval_memory_mb": "link prediction: memory for one block of ranking scores, MiB",
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
    return describe_option(name) or DESCRIPTIONS.get(name) or _doc_comments().get(name) or name.replace("_", " ")


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
