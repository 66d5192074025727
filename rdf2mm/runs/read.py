"""Reading a run directory: the one reader that predict, export, report and tracking use.

Kept free of torch (the weights are read by :mod:`rdf2mm.runs.weights`), so that export
and report read runs without loading it. Every file name comes from
:mod:`rdf2mm.runs.layout`.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rdf2mm.config import AGGREGATIONS, TrainConfig
from rdf2mm.errors import DataError, InputError, UsageError
from rdf2mm.runs import layout as L

if TYPE_CHECKING:
    import numpy as np

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


class RunFiles:
    """The files of the run directory ``folder``, read on demand.

    JSON files are read with :func:`read_json` (``default`` when absent, else an
    InputError); tables (``predictions``, ``ranks``, ...) in whichever of TSV and Parquet
    the run wrote.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, name: str) -> Path:
        """Where file ``name`` of the run is (whether or not it exists)."""
        return self.folder / name

    def json(self, name: str, default: Any = _MISSING) -> Any:
        """JSON file ``name`` of the run (see :func:`read_json`)."""
        return read_json(self.folder / name, default)

    def config(self, default: Any = _MISSING) -> Any:
        """``config.json``: the resolved settings, as saved (see :func:`load_run_config`)."""
        return self.json(L.CONFIG_JSON, default)

    def metrics(self, default: Any = _MISSING) -> Any:
        """``metrics.json``: final metrics, per seed, the kept seed."""
        return self.json(L.METRICS, default)

    def provenance(self, default: Any = _MISSING) -> Any:
        """``provenance.json``: versions, seeds, input fingerprint, times, device."""
        return self.json(L.PROVENANCE, default)

    def model_meta(self, default: Any = _MISSING) -> Any:
        """``model.json``, unchecked (:func:`rdf2mm.runs.weights.load_model_state` checks it)."""
        return self.json(L.MODEL_META, default)

    def literals(self, default: Any = _MISSING) -> Any:
        """``literals.json``: per-datatype modality and ill-typed counts, label or split sizes."""
        return self.json(L.LITERALS, default)

    def curve(self) -> list[dict[str, float]]:
        """``curve.csv`` as rows of floats (NaN where a cell is not a number); [] when absent."""
        path = self.folder / L.CURVE
        if not path.exists():
            return []
        rows = []
        with path.open(encoding="utf-8", newline="") as fh:
            for rec in csv.DictReader(fh):
                row = {}
                for k, v in rec.items():
                    try:
                        row[k] = float(v)
                    except (TypeError, ValueError):
                        row[k] = float("nan")
                rows.append(row)
        return rows

    def table(self, stem: str) -> dict[str, list[Any]] | None:
        """Table ``stem`` (``.parquet`` or ``.tsv``) as columns of values; None when absent.
        TSV cells are strings."""
        pq_path = self.folder / L.table_file(stem, "parquet")
        tsv_path = self.folder / L.table_file(stem, "tsv")
        if pq_path.exists():
            import pyarrow.parquet as pq

            try:
                return pq.read_table(pq_path).to_pydict()
            except Exception as exc:  # noqa: BLE001 - any damage means the file cannot be used
                raise InputError(f"{pq_path}: cannot read: {exc}") from None
        if tsv_path.exists():
            with open(tsv_path, encoding="utf-8", newline="") as fh:
                reader = csv.reader(fh, delimiter="\t")
                try:
                    names = next(reader)
                except StopIteration:
                    return {}
                cols: dict[str, list[Any]] = {n: [] for n in names}
                for row in reader:
                    # a short row's missing cells are empty: the columns stay aligned
                    for n, v in zip(names, [*row, *[""] * (len(names) - len(row))]):
                        cols[n].append(v)
                return cols
        return None

    def rows(self, stem: str) -> list[dict[str, str]]:
        """Table ``stem`` as rows of strings (Parquet values too); [] when absent."""
        cols = self.table(stem) or {}
        names = list(cols)
        return [{n: str(v) for n, v in zip(names, values)} for values in zip(*(cols[n] for n in names))]

    def has(self, name: str) -> bool:
        """Whether the run holds file ``name``."""
        return (self.folder / name).exists()

    def entities(self) -> list[str]:
        """``entities.parquet``: the training graph's entity terms, row i = embedding row i."""
        import pyarrow.parquet as pq

        path = self.folder / L.ENTITIES
        try:
            return pq.read_table(path, columns=["term"]).column("term").to_pylist()
        except FileNotFoundError:
            raise InputError(f"{self.folder}: not a run directory (missing {L.ENTITIES})") from None
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"{path}: cannot read: {exc}") from None

    def embeddings(self) -> dict[str, np.ndarray]:
        """``embeddings.safetensors`` as numpy arrays (``entity``, and ``relation`` for link
        prediction); no pickle, no torch."""
        from safetensors.numpy import load_file

        path = self.folder / L.EMBEDDINGS
        try:
            return load_file(str(path))
        except FileNotFoundError:
            raise InputError(f"{self.folder}: no {L.EMBEDDINGS} in this run directory") from None
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"{path}: cannot load embeddings: {exc}") from None


def load_run_config(run_dir: str | Path) -> TrainConfig:
    """The resolved config a run saved (``config.json``), type- and range-checked: a
    damaged or tampered file is an InputError, not a setting the user got wrong."""
    run = RunFiles(run_dir)
    if not run.folder.is_dir():
        raise InputError(f"{run.folder}: run directory not found")
    path = run.path(L.CONFIG_JSON)
    try:
        cfg = TrainConfig.from_dict(run.config(), source=str(path))
        cfg.resolve().validate()
    except UsageError as exc:
        raise InputError(f"{path}: damaged run config: {exc.message}") from None
    cfg.aggregation = cfg.aggregation or "mean"  # runs saved before --aggregation existed all used the mean
    if cfg.aggregation == "auto":
        # The run chose on validation; its model records which one it kept.
        chosen = run.model_meta().get("aggregation")
        if chosen not in AGGREGATIONS:
            raise DataError(f"{run.path(L.MODEL_META)}: no aggregation recorded for a run trained with auto")
        cfg.aggregation = chosen
    return cfg


def trained_in_minibatches(run_dir: str | Path) -> bool:
    """Whether the run in ``run_dir`` trained in mini-batches (its graph may then be too big
    for a full forward pass); runs without a ``metrics.json`` count as full-batch."""
    return RunFiles(run_dir).metrics(default={}).get("batching") == "mini"
