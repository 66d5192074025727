"""What a training run returns to its caller."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunResult:
    """What ``train`` returns: final metrics, and where the run was written."""

    metrics: dict[str, Any]
    run_dir: Path | None = None
    per_seed: list[dict[str, Any]] = field(default_factory=list)
    #: what ``export_run`` reported, when the run was exported (``--output`` / ``--store``)
    export: dict[str, Any] | None = None
