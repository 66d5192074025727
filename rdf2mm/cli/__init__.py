"""Command-line interface (thin: parses options, calls the library, prints)."""
from __future__ import annotations

import importlib

from rdf2mm.cli.app import app

# Each command lives in its own module and registers itself on import.
_COMMANDS = ["inspect", "generate", "train", "predict", "encode", "export", "query", "config", "ablate", "report",
             "tune"]
for _name in _COMMANDS:
    try:
        importlib.import_module(f"rdf2mm.cli.{_name}")
    except ModuleNotFoundError as _exc:  # a command module not written yet
        if _exc.name != f"rdf2mm.cli.{_name}":
            raise


def main() -> None:
    """Console-script entry point."""
    app()
