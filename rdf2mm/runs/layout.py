"""The names of the files in a run directory: defined here once, for every writer and reader.

A run directory holds the files every task writes (:data:`COMMON_FILES`) plus its task's
table (:data:`TASK_TABLES`), as ``.tsv`` or ``.parquet`` (``--predictions-format``).
Other commands may add :data:`ADDED_LATER` to it.
"""
from __future__ import annotations

CONFIG_TOML = "config.toml"  # resolved settings: rdf2mm train --config RUN_DIR/config.toml
CONFIG_JSON = "config.json"  # the same settings, for programs
PROVENANCE = "provenance.json"  # versions, seed(s), input fingerprint, times, device
METRICS = "metrics.json"  # final metrics (per seed, and mean/std)
CURVE = "curve.csv"  # per-epoch training curve (absent when no epoch ran)
LITERALS = "literals.json"  # per-datatype modality and ill-typed report, label or split sizes
ENTITIES = "entities.parquet"  # the graph's entities; row i = embedding row i
EMBEDDINGS = "embeddings.safetensors"  # entity (and, for link prediction, relation) embeddings
MODEL_WEIGHTS = "model.safetensors"  # weights (no pickle: loading runs no code)
MODEL_META = "model.json"  # what is needed to rebuild the model around the weights

#: table stems; the file is ``STEM.tsv`` or ``STEM.parquet``
PREDICTIONS = "predictions"  # node classification: per-entity predicted class
RANKS = "ranks"  # link prediction: per-test-triple ranks, both directions
#: candidate links: no command writes them, but ``rdf2mm export`` exports them when present
LINK_PREDICTIONS = "link_predictions"
TABLE_FORMATS = ("tsv", "parquet")

COMMON_FILES = (CONFIG_TOML, CONFIG_JSON, PROVENANCE, METRICS, CURVE, LITERALS, ENTITIES, EMBEDDINGS,
                MODEL_WEIGHTS, MODEL_META)
TASK_TABLES = {"node-classification": PREDICTIONS, "link-prediction": RANKS}

REPORT = "report.html"  # rdf2mm report
EXPORT = "export"  # rdf2mm export's folder
TENSORBOARD = "tensorboard"  # --tracker tensorboard
ADDED_LATER = (REPORT, EXPORT, TENSORBOARD)


def table_file(stem: str, fmt: str = "tsv") -> str:
    """The file name of table ``stem`` in format ``fmt`` (``tsv`` or ``parquet``)."""
    return f"{stem}.{fmt}"


def run_files(task: str, fmt: str = "tsv") -> frozenset[str]:
    """The files ``rdf2mm train`` writes for ``task`` with ``--predictions-format fmt``."""
    return frozenset((*COMMON_FILES, table_file(TASK_TABLES[task], fmt)))


#: every name a run directory may hold (train writes the files; report, export and
#: tracking may add the rest)
RUN_DIR_NAMES = frozenset({*COMMON_FILES, *ADDED_LATER,
                           *(table_file(TASK_TABLES[t], f) for t in TASK_TABLES for f in TABLE_FORMATS)})
