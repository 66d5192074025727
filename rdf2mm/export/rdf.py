"""The RDF of one run: embeddings, predictions, ranks and the run's metadata (ML Schema, PROV-O)."""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterator

import pyoxigraph as ox

from rdf2mm import vocab as V
from rdf2mm.errors import UsageError
from rdf2mm.export.reading import RunData, run_iri
from rdf2mm.io.write import VECTOR_FORMATS, double, integer, parse_term, rank_literal, skolem_iri, vector_literals

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
                yield node, _n(V.rank), rank_literal(rank)

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
                    yield node, pred, rank_literal(p[c][i])


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
