"""TensorBoard: event files in ``RUN_DIR/tensorboard`` (``tensorboard --logdir runs``).

The run directory is written whole at the end of a run, so the events are collected
during the run and written into it then; a run that writes no run directory (failed,
or a pruned trial) leaves no event files.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from torch.utils.tensorboard import (
    SummaryWriter,  # ImportError without tensorboard: see session._make
)

from rdf2mm.tracking.base import RunRecord, Tracker

FOLDER = "tensorboard"


class TensorboardTracker(Tracker):
    name = "tensorboard"

    def finish(self, run: RunRecord, run_dir: Path | None, metrics: dict[str, float], tags: dict[str, str],
               status: str) -> None:
        if run_dir is None:
            return
        target = Path(run_dir) / FOLDER
        tmp = Path(tempfile.mkdtemp(prefix=f".{FOLDER}.", suffix=".tmp", dir=run_dir))
        try:
            writer = SummaryWriter(log_dir=str(tmp))
            for key, value, step in run.curve:
                writer.add_scalar(key, value, step)
            for key, value in metrics.items():
                writer.add_scalar(key, value, 0)
            writer.add_text("params", "\n".join(f"    {k} = {v}" for k, v in sorted(run.params.items())), 0)
            writer.add_text("tags", "\n".join(f"    {k} = {v}" for k, v in sorted({**run.tags, **tags}.items())), 0)
            writer.close()
            shutil.rmtree(target, ignore_errors=True)
            tmp.replace(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
