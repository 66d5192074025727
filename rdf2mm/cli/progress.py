"""What ``train`` and ``ablate`` say while they run: sentences, bars, and heartbeat lines.

On a terminal ``train`` draws rich progress bars. Off a terminal (a pipeline log, CI)
:class:`LogProgress` prints one line when a seed starts and ends and, in between, one
line every :func:`progress_interval` seconds with the seed, epoch, losses and
validation figures, so a log shows the run is alive without flooding it.
"""
from __future__ import annotations

import math
import os
import time
from typing import Any, Callable

#: seconds between two heartbeat lines off a terminal (RDF2MM_PROGRESS_INTERVAL overrides)
DEFAULT_INTERVAL = 15.0


def progress_interval() -> float:
    """The heartbeat interval in seconds: ``RDF2MM_PROGRESS_INTERVAL`` or :data:`DEFAULT_INTERVAL`."""
    text = os.environ.get("RDF2MM_PROGRESS_INTERVAL", "")
    try:
        value = float(text) if text else DEFAULT_INTERVAL
    except ValueError:
        value = DEFAULT_INTERVAL
    return max(value, 0.0)


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _fig(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4f}"
    return "n/a" if value is None else str(value)


def _split_sizes(sizes: dict[str, Any]) -> str:
    return " / ".join(f"{k} {_n(v)}" for k, v in sizes.items())


def _figures(data: dict[str, Any]) -> str:
    """Losses and validation figures of an epoch record, e.g. ``train loss 0.41, valid accuracy 0.81``."""
    keys = [k for k in data if k.startswith(("train_loss", "valid_")) and isinstance(data[k], (int, float))]
    return ", ".join(f"{k.replace('_', ' ')} {_fig(float(data[k]))}" for k in keys)


def validation_text(figures: dict) -> str:
    return (f"valid accuracy {figures.get('valid_accuracy', float('nan')):.4f}, "
            f"loss {figures.get('valid_loss', float('nan')):.4f}")


def format_selection(selection: dict) -> str:
    """Each candidate's mean validation figures, as ``--aggregation auto`` compared them."""
    if "skipped" in selection:
        return str(selection["skipped"])
    return "; ".join(f"{name}: {validation_text(figures)}" for name, figures in selection.items())


def sentence(stage: str, data: dict[str, Any]) -> str | None:
    """A plain-English line for a pipeline note, or None for notes people need not see."""
    if stage == "read":
        counts = [f"{_n(data[k])} {k}" for k in ("entities", "relations", "literals") if k in data]
        head = f"read {_n(data['triples'])} triples" if "triples" in data else "read the graph"
        cache = {"hit": "from the parsed-graph cache", "miss": "parsed (now cached)"}.get(str(data.get("cache")), "")
        return head + (f" ({', '.join(counts)})" if counts else "") + (f", {cache}" if cache else "")
    if stage == "labels":
        parts = []
        if "classes" in data:
            parts.append(f"{_n(data['classes'])} classes")
        if isinstance(data.get("sizes"), dict):
            parts.append(_split_sizes(data["sizes"]))
        unknown = data.get("unknown_entities") or {}
        if sum(unknown.values()):
            parts.append(f"{sum(unknown.values()):,} labels naming no entity of the graph skipped ({_split_sizes(unknown)})")
        for key in ("duplicate_labels_skipped", "entities_with_several_classes", "train_triples_also_held_out"):
            if data.get(key):
                parts.append(f"{key.replace('_', ' ')}: {_n(data[key])}")
        unseen = data.get("unseen_in_train") or {}
        if sum(unseen.values()):
            parts.append("held-out triples naming something unseen in train: " + _split_sizes(unseen))
        what = "labels" if "classes" in data else "link-prediction triples"
        return f"{what}: " + "; ".join(parts) if parts else None
    if stage == "literals":
        text = f"model graph: {_n(data.get('nodes'))} nodes, {_n(data.get('edges'))} edges"
        ill = data.get("ill_typed") or 0
        return text + (f"; {ill:,} ill-typed literals skipped" if ill else "; no ill-typed literals")
    if stage == "export":
        files = ", ".join(map(str, data.get("files") or [])) or "no files"
        return f"exported {files}" + (f"; loaded into the store {data['store']}" if data.get("store") else "")
    if stage == "candidate_seed_done":
        return f"seed {data['seed']} ({data['aggregation']}): {validation_text(data)}"
    if stage == "selected":
        over = data.get("seeds_compared")
        seeds = f" of the first {over} seed{'s' if over != 1 else ''}" if over else ""
        return (f"aggregation: {data['aggregation']}, chosen on mean validation figures{seeds} "
                f"({format_selection(data['selection'])})")
    if stage == "stage":  # a two-stage run (an entity-table model classifying nodes)
        if data.get("stage") == "embedding":
            sizes = data.get("triples") or {}
            return (f"seed {data['seed']}, stage 1: entity embeddings by link prediction on {_n(sizes.get('train'))} "
                    f"triples without the label predicate ({_n(sizes.get('valid'))} held out for early stopping)")
        return f"seed {data['seed']}, stage 2: classifier on the frozen embeddings (stage 1 valid MRR {_fig(data.get('valid_mrr'))})"
    if stage == "seed_done":
        test = data.get("test_accuracy", data.get("test_mrr"))
        name = "accuracy" if "test_accuracy" in data else "filtered MRR"
        best = f", best epoch {data['best_epoch']}" if data.get("best_epoch") is not None else ""
        return f"seed {data['seed']} done: test {name} {_fig(test)}{best}"
    return None


class LogProgress:
    """Prints :func:`sentence` lines and, off a terminal, a heartbeat every ``interval`` seconds."""

    def __init__(self, say: Callable[[str], None], epochs: int | None = None, interval: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.say, self.epochs, self.clock = say, epochs, clock
        self.interval = progress_interval() if interval is None else interval
        self.seed: Any = None
        self.last = clock()

    def __call__(self, stage: str, data: dict[str, Any]) -> None:
        if stage == "seed":
            self.seed = data.get("seed")
            agg = f" ({data['aggregation']})" if data.get("aggregation") else ""
            limit = f", up to {self.epochs} epochs" if self.epochs else ""
            self.say(f"seed {self.seed}{agg}: training{limit}")
            self.last = self.clock()
        elif stage in ("epoch", "step"):
            now = self.clock()
            if now - self.last < self.interval:
                return
            self.last = now
            of = f"/{self.epochs}" if self.epochs else ""
            if stage == "epoch":
                figures = _figures(data)
                self.say(f"seed {self.seed} epoch {data.get('epoch')}{of}" + (f": {figures}" if figures else ""))
            else:
                self.say(f"seed {self.seed} epoch {data['epoch']}{of}: step {data['step']}/{data['steps']}")
        else:
            text = sentence(stage, data)
            if text:
                self.say(text)
