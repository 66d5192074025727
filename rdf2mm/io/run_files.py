"""Reading the JSON files of a run folder (config, metrics, model, provenance).

Kept free of torch so that export and report read runs without loading it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rdf2mm.errors import InputError

_MISSING = object()


def read_json(path: str | Path, default: Any = _MISSING) -> dict[str, Any]:
    """A JSON object from a run folder; ``default`` when the file is absent (without
    one, absence is an InputError). Anything but an object is refused: every caller
    reads fields from it, and a tampered file must fail here, not as a traceback."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if default is not _MISSING:
            return default
        raise InputError(f"{path.parent}: not a run directory (missing {path.name})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: invalid JSON: {exc}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: damaged run file: expected a JSON object, found {type(data).__name__}")
    return data
