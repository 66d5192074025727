"""Export a run directory's results as RDF and Parquet, into stores and endpoints.

The library behind ``rdf2mm export``. :func:`export_run` reads a run directory (see
:mod:`rdf2mm.runs`) and writes, for the run's IRI ``<run>`` (also its graph name):

* entity (and relation) embeddings: ``<entity> r2m:embedding "…"^^rdft:NumericDataTensor``;
* node predictions as nodes of their own: ``<run>/prediction/<h> a r2m:Prediction;
  r2m:about <entity>; r2m:predictedClass <class>; r2m:score 0.93; r2m:inRun <run>``;
* link prediction rankings (``ranks.tsv``) as ``r2m:RankedTriple`` nodes and candidate
  links (``link_predictions.tsv``) as ``r2m:LinkPrediction`` nodes, when present;
* run metadata in ML Schema and PROV-O: settings, metrics, input, versions, times.

Blank-node entities are skolemised to ``<base>/.well-known/genid/<hash>`` with a hash of
the input fingerprint and the blank label, so the same run always gives the same IRIs.
"""
from __future__ import annotations

import csv
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import pyoxigraph as ox

from rdf2mm import vocab as V
from rdf2mm.errors import InputError, UsageError
from rdf2mm.io.atomic import atomic_dir, write_json
from rdf2mm.io.run_files import read_json
from rdf2mm.io.targets import check_folder_target, is_export_dir
from rdf2mm.io.write import (RDF_FORMATS, VECTOR_FORMATS, double, integer, parse_term, skolem_iri, vector_literals,
                             write_embeddings_parquet, write_rdf, write_table_parquet)

__all__ = ["OUTPUTS", "RunData", "export_run", "load_run", "parse_outputs", "run_iri"]

OUTPUTS = ("parquet", *RDF_FORMATS)
DEFAULT_OUTPUTS = ("parquet", "trig")

# Settings that say where output went, not what was computed: left out of the run's identity.
_NOT_IDENTITY = {"out", "cache", "predictions_format", "device"}

_TYPE = ox.NamedNode(V.RDF + "type")
_LABEL = ox.NamedNode(V.RDFS + "label")
_XSD_STRING = ox.NamedNode(V.XSD + "string")
_XSD_DATETIME = ox.NamedNode(V.XSD + "dateTime")
_XSD_BOOLEAN = ox.NamedNode(V.XSD + "boolean")
_RDF_JSON = ox.NamedNode(V.RDF + "JSON")


def _n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def _h(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:24]


def parse_outputs(outputs: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"parquet,trig"`` or a list -> validated tuple; ``none``/empty -> ()."""
    if outputs is None:
        return ()
    items = outputs.split(",") if isinstance(outputs, str) else list(outputs)
    names = [s.strip().lower() for s in items if s.strip()]
    if names in (["none"], []):
        return ()
    unknown = [n for n in names if n not in OUTPUTS]
    if unknown:
        raise UsageError(f"unknown --output {', '.join(unknown)}; choose from {', '.join(OUTPUTS)} or none")
    return tuple(dict.fromkeys(names))


def run_iri(config: dict[str, Any], provenance: dict[str, Any], base: str | None = None) -> str:
    """The run's IRI: a hash of its settings, input fingerprint, seeds and start time.

    Stable for a run directory (re-exports replace the same graph); two trainings with
    the same settings are two runs, told apart by their start time.
    """
    identity = {
        "config": {k: v for k, v in sorted(config.items()) if k not in _NOT_IDENTITY},
        "fingerprint": provenance.get("data_fingerprint"),
        "seeds": provenance.get("seeds"),
        "started": provenance.get("started"),
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:32]
    if base:
        return f"{base.rstrip('/')}/run/{digest}"
    return f"urn:rdf2mm:run:{digest}"


# ------------------------------------------------------------------ reading a run
def _read_json(path: Path, required: bool = True) -> dict[str, Any]:
    return read_json(path) if required else read_json(path, default={})


def _read_table(folder: Path, stem: str) -> dict[str, list[Any]] | None:
    """``stem.parquet`` or ``stem.tsv`` as columns of strings/values; None when absent."""
    pq_path, tsv_path = folder / f"{stem}.parquet", folder / f"{stem}.tsv"
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
                for n, v in zip(names, row):
                    cols[n].append(v)
            return cols
    return None


@dataclass
class RunData:
    """What a run directory holds that an export needs."""

    folder: Path
    config: dict[str, Any]
    provenance: dict[str, Any]
    metrics: dict[str, Any]
    model: dict[str, Any]
    entities: list[str]
    entity_embeddings: np.ndarray
    relation_embeddings: np.ndarray | None = None
    relations: list[str] = field(default_factory=list)
    predictions: dict[str, list[Any]] | None = None
    link_predictions: dict[str, list[Any]] | None = None
    ranks: dict[str, list[Any]] | None = None

    @property
    def fingerprint(self) -> str | None:
        return self.provenance.get("data_fingerprint")

    @property
    def task(self) -> str:
        return str(self.model.get("task") or self.config.get("task") or self.metrics.get("task") or "")


def load_run(run_dir: str | Path) -> RunData:
    """Read the parts of ``run_dir`` an export uses; absent optional parts are None."""
    import pyarrow.parquet as pq
    from safetensors.numpy import load_file

    folder = Path(run_dir)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such run directory")
    config = _read_json(folder / "config.json")
    prov = _read_json(folder / "provenance.json", required=False)
    metrics = _read_json(folder / "metrics.json", required=False)
    model = _read_json(folder / "model.json", required=False)
    try:
        entities = pq.read_table(folder / "entities.parquet", columns=["term"]).column("term").to_pylist()
    except FileNotFoundError:
        raise InputError(f"{folder}: not a run directory (missing entities.parquet)") from None
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{folder / 'entities.parquet'}: cannot read: {exc}") from None
    try:
        tensors = load_file(str(folder / "embeddings.safetensors"))
    except FileNotFoundError:
        raise InputError(f"{folder}: no embeddings.safetensors in this run directory") from None
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{folder / 'embeddings.safetensors'}: cannot load: {exc}") from None
    if "entity" not in tensors:
        raise InputError(f"{folder / 'embeddings.safetensors'}: no 'entity' tensor")
    emb = np.ascontiguousarray(tensors["entity"], dtype=np.float32)
    if emb.ndim != 2 or emb.shape[0] != len(entities):
        raise InputError(f"{folder}: embeddings.safetensors has shape {list(emb.shape)} "
                         f"but entities.parquet lists {len(entities)} entities")
    rel = tensors.get("relation")
    relations: list[str] = []
    if rel is not None:
        relations = list(model.get("relation_names") or [])
        rel = np.ascontiguousarray(rel, dtype=np.float32)
        if rel.ndim != 2 or len(relations) < rel.shape[0]:
            rel, relations = None, []  # cannot name the rows: skip rather than guess
        else:
            relations = relations[: rel.shape[0]]
    preds = _read_table(folder, "predictions")
    links = _read_table(folder, "link_predictions")
    if preds is not None and "head" in preds and "entity" not in preds:
        links, preds = links or preds, None  # a link prediction run's predictions file
    return RunData(folder, config, prov, metrics, model, entities, emb, rel, relations, preds, links,
                   _read_table(folder, "ranks"))


# ------------------------------------------------------------------ RDF
class RunGraph:
    """The RDF of one run: ``quads()`` can be iterated any number of times."""

    def __init__(self, run: RunData, vectors: str = "tensor", base: str | None = None) -> None:
        if vectors not in VECTOR_FORMATS:
            raise UsageError(f"--vectors must be one of {', '.join(VECTOR_FORMATS)}, not {vectors!r}")
        if base is not None:
            try:
                ox.NamedNode(base)
                absolute = ":" in base and base.split(":", 1)[0].isalpha()
            except ValueError:
                absolute = False
            if not absolute:
                raise UsageError(f"--base must be an absolute IRI such as https://example.org/results, not {base!r}")
        self.run = run
        self.vectors = vectors
        self.base = (base or V.DEFAULT_BASE).rstrip("/")
        self.iri = run_iri(run.config, run.provenance, base)
        self.node = _n(self.iri)
        self._terms: dict[str, ox.NamedNode | ox.Literal] = {}
        self.quad_count: int | None = None  # known once quads() has been run to the end
        self.entity_nodes = [self.term(t) for t in run.entities]
        self.entity_iris = [n.value for n in self.entity_nodes]
        # Vector literals are the costly part: built once, reused by every output.
        self.entity_vectors = vector_literals(run.entity_embeddings, vectors)
        self.relation_vectors = (vector_literals(run.relation_embeddings, vectors)
                                 if run.relation_embeddings is not None else [])

    def skolem(self, label: str) -> str:
        return skolem_iri(label, self.run.fingerprint, self.base)

    def term(self, text: str) -> ox.NamedNode | ox.Literal:
        """N-Triples text (or a bare IRI) -> term, blank nodes skolemised; memoised."""
        t = self._terms.get(text)
        if t is None:
            t = self._terms[text] = parse_term(text, self.skolem)
        return t

    def mint(self, kind: str, key: str) -> ox.NamedNode:
        return _n(f"{self.iri}/{kind}/{key}")

    def counts(self) -> dict[str, int]:
        r = self.run
        return {
            "entities": len(r.entities),
            "relations": len(self.relation_vectors),
            "dimension": int(r.entity_embeddings.shape[1]),
            "predictions": len((r.predictions or {}).get("entity", [])),
            "link_predictions": len((r.link_predictions or {}).get("head", [])),
            "ranked_triples": len((r.ranks or {}).get("head", [])),
        }

    def quads(self) -> Iterator[ox.Quad]:
        g = self.node
        n = 0
        for s, p, o in self._triples():
            n += 1
            yield ox.Quad(s, p, o, g)
        self.quad_count = n

    def _triples(self) -> Iterator[tuple[Any, Any, Any]]:
        # Metadata is small: group it by subject so Turtle/TriG read as one block per node.
        meta = list(self._metadata())
        order = {s: i for i, s in reversed(list(enumerate(t[0] for t in meta)))}
        yield from sorted(meta, key=lambda t: order[t[0]])
        emb = _n(V.embedding)
        for node, lit in zip(self.entity_nodes, self.entity_vectors):
            yield node, emb, lit
        remb = _n(V.relationEmbedding)
        for name, lit in zip(self.run.relations, self.relation_vectors):
            yield self.term(name), remb, lit
        yield from self._node_predictions()
        yield from self._link_predictions()
        yield from self._ranks()

    # -------------------------------------------------------------- metadata
    def _metadata(self) -> Iterator[tuple[Any, Any, Any]]:
        r, run = self.run, self.node
        cfg, prov = r.config, r.provenance
        yield run, _TYPE, _n(V.Run)
        yield run, _TYPE, _n(V.MLS + "Run")
        yield run, _TYPE, _n(V.PROV + "Activity")
        task = r.task
        yield run, _LABEL, ox.Literal(f"rdf2mm {task or 'training'} run")
        yield run, _n(V.MLS + "realizes"), _n(V.MRGCN)
        task_node = {"node-classification": V.NodeClassification, "link-prediction": V.LinkPredictionTask}.get(task)
        if task_node:
            yield run, _n(V.MLS + "achieves"), _n(task_node)
        for key, pred in (("started", "startedAtTime"), ("ended", "endedAtTime")):
            if prov.get(key):
                yield run, _n(V.PROV + pred), ox.Literal(str(prov[key]), datatype=_XSD_DATETIME)
        for s in prov.get("seeds") or []:
            yield run, _n(V.seed), integer(s)
        if "kept_seed" in r.metrics:
            yield run, _n(V.keptSeed), integer(r.metrics["kept_seed"])
        for key, pred in (("device", V.device), ("platform", V.platform)):
            if prov.get(key):
                yield run, _n(pred), ox.Literal(str(prov[key]))
        yield run, _n(V.entityCount), integer(len(r.entities))
        yield run, _n(V.embeddingDimension), integer(r.entity_embeddings.shape[1])

        # input data: one node per fingerprint, shared by every run on the same input
        fp = r.fingerprint
        data = _n(f"{self.base}/data/{fp}") if fp else self.mint("data", "input")
        yield run, _n(V.PROV + "used"), data
        yield run, _n(V.MLS + "hasInput"), data
        yield data, _TYPE, _n(V.MLS + "Dataset")
        yield data, _TYPE, _n(V.PROV + "Entity")
        if fp:
            yield data, _n(V.fingerprint), ox.Literal(fp)
        graphs = cfg.get("graph") or []
        for src in [graphs] if isinstance(graphs, str) else graphs:
            yield data, _n(V.source), ox.Literal(str(src))

        # software: the implementation and the packages the results depend on
        versions = dict(prov.get("versions") or {})
        impl_version = versions.get("rdf2mm") or _own_version()
        impl = _n(f"https://pypi.org/project/rdf2mm/{impl_version}/")
        yield run, _n(V.MLS + "executes"), impl
        yield run, _n(V.PROV + "wasAssociatedWith"), impl
        yield impl, _TYPE, _n(V.MLS + "Implementation")
        yield impl, _TYPE, _n(V.PROV + "SoftwareAgent")
        yield impl, _LABEL, ox.Literal(f"rdf2mm {impl_version}")
        yield impl, _n(V.MLS + "implements"), _n(V.MRGCN)
        yield impl, _n(V.version), ox.Literal(str(impl_version))
        if versions.get("python"):
            yield run, _n(V.pythonVersion), ox.Literal(str(versions["python"]))
        for name, ver in sorted(versions.items()):
            if name in ("python", "rdf2mm") or not ver or ver == "not installed":
                continue
            try:
                pkg = _n(f"https://pypi.org/project/{name}/{ver}/")
            except ValueError:
                continue  # a version string no IRI can hold: leave it out
            yield run, _n(V.usedSoftware), pkg
            yield pkg, _TYPE, _n(V.SoftwarePackage)
            yield pkg, _n(V.packageName), ox.Literal(name)
            yield pkg, _n(V.version), ox.Literal(str(ver))

        # settings: mls:HyperParameterSetting per config key
        for key, value in sorted(cfg.items()):
            if key == "out" or value is None:
                continue
            if key == "aggregation" and value == "auto":
                # The model kept ran with the aggregation chosen on validation: record that one.
                value = r.metrics.get("aggregation", value)
            lit = _setting_literal(value)
            if lit is None:
                continue
            hp = _n(V.HYPERPARAMETER + key)
            setting = self.mint("setting", key)
            yield run, _n(V.MLS + "hasInput"), setting
            yield setting, _TYPE, _n(V.MLS + "HyperParameterSetting")
            yield setting, _n(V.MLS + "specifiedBy"), hp
            yield setting, _n(V.MLS + "hasValue"), lit
            yield impl, _n(V.MLS + "hasHyperParameter"), hp
            yield hp, _TYPE, _n(V.MLS + "HyperParameter")
            yield hp, _LABEL, ox.Literal(key)

        # model and metrics
        model = self.mint("model", "kept")
        yield run, _n(V.MLS + "hasOutput"), model
        yield model, _TYPE, _n(V.MLS + "Model")
        yield model, _TYPE, _n(V.PROV + "Entity")
        yield model, _n(V.PROV + "wasGeneratedBy"), run
        for key, value in sorted(r.metrics.items()):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or key in ("seeds", "kept_seed"):
                continue
            measure = _n(V.MEASURE + key)
            ev = self.mint("evaluation", key)
            yield run, _n(V.MLS + "hasOutput"), ev
            yield ev, _TYPE, _n(V.MLS + "ModelEvaluation")
            yield ev, _n(V.MLS + "specifiedBy"), measure
            yield ev, _n(V.MLS + "hasValue"), double(value)
            yield measure, _TYPE, _n(V.MLS + "EvaluationMeasure")
            yield measure, _LABEL, ox.Literal(key)

    # -------------------------------------------------------------- predictions
    def _node_predictions(self) -> Iterator[tuple[Any, Any, Any]]:
        p = self.run.predictions
        if not p or "entity" not in p:
            return
        run = self.node
        t_type, t_about, t_pred, t_true = _n(V.Prediction), _n(V.about), _n(V.predictedClass), _n(V.trueClass)
        t_score, t_split, t_in = _n(V.score), _n(V.split), _n(V.inRun)
        n = len(p["entity"])
        splits, trues = p.get("split", [""] * n), p.get("true_class", [""] * n)
        classes, scores = p.get("predicted_class", [""] * n), p.get("score", [None] * n)
        for ent, split, true, cls, score in zip(p["entity"], splits, trues, classes, scores):
            node = self.mint("prediction", _h(ent))
            yield node, _TYPE, t_type
            yield node, t_in, run
            yield node, t_about, self.term(ent)
            if cls:
                yield node, t_pred, self.term(cls)
            if score not in (None, ""):
                yield node, t_score, double(float(score))
            if split:
                yield node, t_split, ox.Literal(str(split))
            if true:
                yield node, t_true, self.term(true)

    def _link_predictions(self) -> Iterator[tuple[Any, Any, Any]]:
        p = self.run.link_predictions
        if not p or not {"head", "relation", "tail"} <= set(p):
            return
        run = self.node
        n = len(p["head"])
        scores, ranks = p.get("score", [None] * n), p.get("rank", [None] * n)
        for h, r, t, score, rank in zip(p["head"], p["relation"], p["tail"], scores, ranks):
            node = self.mint("link", _h(str(h), str(r), str(t)))
            yield node, _TYPE, _n(V.LinkPrediction)
            yield node, _n(V.inRun), run
            yield node, _n(V.head), self.term(str(h))
            yield node, _n(V.relation), self.term(str(r))
            yield node, _n(V.tail), self.term(str(t))
            if score not in (None, ""):
                yield node, _n(V.score), double(float(score))
            if rank not in (None, ""):
                yield node, _n(V.rank), integer(int(rank))

    def _ranks(self) -> Iterator[tuple[Any, Any, Any]]:
        p = self.run.ranks
        if not p or not {"head", "relation", "tail"} <= set(p):
            return
        run = self.node
        cols = [(c, _n(getattr(V, name))) for c, name in (("head_rank", "headRank"), ("tail_rank", "tailRank"),
                                                           ("head_rank_raw", "headRankRaw"),
                                                           ("tail_rank_raw", "tailRankRaw")) if c in p]
        for i, (h, r, t) in enumerate(zip(p["head"], p["relation"], p["tail"])):
            node = self.mint("ranked", _h(str(h), str(r), str(t)))
            yield node, _TYPE, _n(V.RankedTriple)
            yield node, _n(V.inRun), run
            yield node, _n(V.head), self.term(str(h))
            yield node, _n(V.relation), self.term(str(r))
            yield node, _n(V.tail), self.term(str(t))
            yield node, _n(V.split), ox.Literal("test")
            for c, pred in cols:
                if p[c][i] not in (None, ""):
                    yield node, pred, integer(int(p[c][i]))


def _own_version() -> str:
    from rdf2mm import __version__

    return __version__


def _setting_literal(value: Any) -> ox.Literal | None:
    if isinstance(value, bool):
        return ox.Literal("true" if value else "false", datatype=_XSD_BOOLEAN)
    if isinstance(value, int):
        return integer(value)
    if isinstance(value, float):
        return double(value)
    if isinstance(value, str):
        return ox.Literal(value)
    if isinstance(value, (list, tuple, dict)):
        return ox.Literal(json.dumps(value, sort_keys=True, default=str), datatype=_RDF_JSON)
    return None


# ------------------------------------------------------------------ Parquet
def _write_parquet(rg: RunGraph, out: Path) -> dict[str, Path]:
    import pyarrow as pa

    r, run = rg.run, rg.iri
    meta = {"rdf2mm.run": run, "rdf2mm.vectors": "float32"}
    files = {"embeddings": write_embeddings_parquet(
        out / "embeddings.parquet",
        {"iri": rg.entity_iris, "term": r.entities, "run": [run] * len(r.entities)},
        r.entity_embeddings, meta)}
    if r.relation_embeddings is not None and len(rg.relation_vectors):
        files["relation_embeddings"] = write_embeddings_parquet(
            out / "relation_embeddings.parquet",
            {"iri": [rg.term(x).value for x in r.relations], "run": [run] * len(r.relations)},
            r.relation_embeddings, meta)
    p = r.predictions
    if p and "entity" in p:
        n = len(p["entity"])
        files["predictions"] = write_table_parquet(out / "predictions.parquet", {
            "iri": pa.array([_plain(rg.term(e)) for e in p["entity"]], pa.string()),
            "split": pa.array([str(x) for x in p.get("split", [""] * n)], pa.string()),
            "true_class": pa.array([_plain(rg.term(x)) if x else None for x in p.get("true_class", [""] * n)],
                                   pa.string()),
            "predicted_class": pa.array([_plain(rg.term(x)) if x else None
                                         for x in p.get("predicted_class", [""] * n)], pa.string()),
            "score": pa.array([float(x) if x not in (None, "") else None for x in p.get("score", [None] * n)],
                              pa.float64()),
            "run": pa.array([run] * n, pa.string()),
        }, meta)
    for name, table in (("link_predictions", r.link_predictions), ("ranks", r.ranks)):
        if table and {"head", "relation", "tail"} <= set(table):
            n = len(table["head"])
            cols: dict[str, Any] = {c: pa.array([rg.term(str(x)).value for x in table[c]], pa.string())
                                    for c in ("head", "relation", "tail")}
            for c, v in table.items():
                if c not in cols:
                    cols[c] = pa.array([None if x in (None, "") else float(x) if c == "score" else int(x)
                                        for x in v])
            cols["run"] = pa.array([run] * n, pa.string())
            files[name] = write_table_parquet(out / f"{name}.parquet", cols, meta)
    return files


def _plain(term: ox.NamedNode | ox.Literal) -> str:
    """IRIs as plain strings (for joins in pandas/DuckDB); literals in N-Triples form."""
    return term.value if isinstance(term, ox.NamedNode) else str(term)


# ------------------------------------------------------------------ entry point
def export_run(
    run_dir: str | Path,
    outputs: str | Sequence[str] | None = DEFAULT_OUTPUTS,
    out_dir: str | Path | None = None,
    *,
    vectors: str = "tensor",
    base: str | None = None,
    store: str | Path | None = None,
    sparql_update: str | None = None,
    gsp: str | None = None,
    user: str | None = None,
    password: str | None = None,
    token: str | None = None,
    timeout: float = 60.0,
    batch_bytes: int = 4 << 20,
    progress: Callable[[str], None] | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Export ``run_dir``: files in ``out_dir`` (default ``run_dir/export``), then targets.

    The files are written as one folder, atomically: it replaces an earlier export (or
    an empty folder), anything else only with ``force`` (see :mod:`rdf2mm.io.targets`).

    ``outputs``: any of ``parquet, nt, ttl, trig, nq`` (a comma list or sequence; empty
    for none). ``vectors``: ``tensor`` (rdf-tensor JSON) or ``base64``. ``store``: a
    pyoxigraph store folder; ``sparql_update``/``gsp``: a remote endpoint (both together:
    one store, GSP batches swapped in by an Update ``MOVE``). Each target gets the run's
    named graph replaced, all or nothing, never duplicated. ``batch_bytes`` bounds each
    remote request's body. Returns a summary dict.
    """
    from rdf2mm.io.store import Auth, load_store, push_gsp, push_sparql_update

    say = progress or (lambda _m: None)
    started = time.perf_counter()
    formats = parse_outputs(outputs)
    if sparql_update or gsp:
        from rdf2mm.io.http import HttpClient

        HttpClient(timeout=timeout)  # a bad --timeout or size cap stops here, before anything is written
    run = load_run(run_dir)
    rg = RunGraph(run, vectors=vectors, base=base)
    out = Path(out_dir) if out_dir is not None else Path(run_dir) / "export"
    summary: dict[str, Any] = {"run": rg.iri, "graph": rg.iri, "run_dir": str(run_dir), "vectors": vectors,
                               "counts": rg.counts(), "files": {}}
    if formats:
        summary["out_dir"] = str(out)
        _write_files(rg, formats, out, summary, say, force)
    auth = Auth.resolve(user=user, password=password, token=token)
    if store:
        res = load_store(store, rg.iri, rg.quads)
        summary["store"] = {"path": str(store), **res}
        say(f"loaded {res['quads']} quads into {store} graph <{rg.iri}>")
    if sparql_update and not gsp:
        res = push_sparql_update(sparql_update, rg.iri, rg.quads, auth=auth, timeout=timeout, batch_bytes=batch_bytes)
        summary["sparql_update"] = res
        say(f"pushed {res['quads']} triples to {res['endpoint']} in {res['requests']} request(s)")
    if gsp:  # with sparql_update too: the same store's Update endpoint swaps the batches in
        res = push_gsp(gsp, rg.iri, rg.quads, auth=auth, timeout=timeout, batch_bytes=batch_bytes,
                       update_url=sparql_update)
        summary["gsp"] = res
        say(f"pushed {res['quads']} triples to {res['endpoint']} in {res['requests']} request(s)")
    summary["counts"]["quads"] = rg.quad_count  # None when no RDF was written
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return summary


def _write_files(rg: RunGraph, formats: Sequence[str], out: Path, summary: dict[str, Any],
                 say: Callable[[str], None], force: bool) -> None:
    """Every requested file into a temporary folder renamed onto ``out`` when complete:
    a failure (a full disk) leaves the earlier export, never a mix or a part."""
    replace = check_folder_target(out, is_export_dir, "an export", force)
    with atomic_dir(out, replace=replace) as tmp:
        for fmt in formats:
            t0 = time.perf_counter()
            if fmt == "parquet":
                paths = {name + ".parquet": path for name, path in _write_parquet(rg, tmp).items()}
            else:
                path = write_rdf(rg.quads, tmp / f"run{RDF_FORMATS[fmt][1]}", fmt, V.PREFIXES)
                paths = {path.name: path}
            for name, path in paths.items():
                summary["files"][name] = {"path": str(out / path.name), "bytes": path.stat().st_size}
            say(f"wrote {fmt} in {time.perf_counter() - t0:.1f} s")
        # Marks the folder as an export, so a later export may replace it.
        write_json(tmp / "export.json", {"run": rg.iri, "run_dir": summary["run_dir"], "formats": list(formats),
                                         "files": sorted(summary["files"])})


def iter_quads(run_dir: str | Path, vectors: str = "tensor", base: str | None = None) -> Iterable[ox.Quad]:
    """All quads of a run's export (for custom sinks)."""
    return RunGraph(load_run(run_dir), vectors=vectors, base=base).quads()
