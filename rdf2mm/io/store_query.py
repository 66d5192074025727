"""Read a run's graph back from a store folder or an endpoint: SPARQL queries, vectors,
nearest neighbours."""
from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyoxigraph as ox

from rdf2mm import vocab as V
from rdf2mm.errors import DataError, RemoteError, UsageError
from rdf2mm.io.http import Auth, HttpClient, public_url
from rdf2mm.io.store_load import STAGING_PREFIX, graph_node, is_endpoint, open_store

__all__ = ["query", "read_vectors", "results_json", "similar", "solutions"]

_ACCEPT = ("application/sparql-results+json, application/n-triples;q=0.9, text/turtle;q=0.5")


def query(target: str | Path, sparql: str, *, auth: Auth | None = None, timeout: float = 60.0) -> Any:
    """Run SPARQL on a store folder or endpoint URL.

    Returns SELECT solutions (iterable rows with ``variables``; see :func:`solutions`), a
    ``QueryBoolean`` (ASK) or a list of triples (CONSTRUCT/DESCRIBE), read completely:
    a truncated or malformed answer is a :class:`RemoteError` here, not later.
    """
    if is_endpoint(target):
        url = str(target)
        client = HttpClient(auth=auth or Auth(), timeout=timeout)
        resp = client.request("POST", url, urllib.parse.urlencode({"query": sparql}).encode(),
                              {"Content-Type": "application/x-www-form-urlencoded", "Accept": _ACCEPT})
        media = resp.media_type
        try:
            fmt = ox.QueryResultsFormat.from_media_type(media) if media else None
            if fmt is not None:
                result = ox.parse_query_results(resp.body, format=fmt)
                if isinstance(result, ox.QuerySolutions):  # lazy: parse every row now
                    names = [v.value for v in result.variables]
                    return _Solutions(names, [[s[n] for n in names] for s in result])
                return result
            rdf = ox.RdfFormat.from_media_type(media) if media else ox.RdfFormat.N_TRIPLES
            if rdf is None:
                raise SyntaxError(f"{media!r} is neither SPARQL results nor RDF")
            return list(ox.parse(resp.body, format=rdf))
        except (SyntaxError, ValueError) as exc:
            raise RemoteError(f"{public_url(url)}: cannot read the answer ({media or 'no media type'}): {exc}; "
                              f"{len(resp.body)} bytes received") from None
    store = open_store(target, create=False)
    try:
        result = store.query(sparql)
        # Materialise while the store is open: results are lazy.
        if isinstance(result, ox.QuerySolutions):
            rows = [list(s) for s in result]
            return _Solutions([v.value for v in result.variables], rows)
        if isinstance(result, ox.QueryBoolean):
            return result
        return list(result)
    except SyntaxError as exc:
        raise UsageError(f"SPARQL syntax error: {exc}") from None
    finally:
        del store


class _Solutions:
    """Materialised SELECT results with the shape of pyoxigraph's QuerySolutions."""

    def __init__(self, variables: list[str], rows: list[list[Any]]) -> None:
        self.variables = [ox.Variable(v) for v in variables]
        self.rows = rows

    def __iter__(self) -> Iterator[list[Any]]:
        return iter(self.rows)


def solutions(result: Any) -> tuple[list[str], list[list[Any]]]:
    """(variable names, rows of terms or None) from a SELECT result, local or remote."""
    if isinstance(result, _Solutions):
        return [v.value for v in result.variables], result.rows
    names = [v.value for v in result.variables]
    return names, [[s[n] for n in names] for s in result]


def results_json(result: Any) -> dict[str, Any]:
    """SPARQL 1.1 Query Results JSON for a SELECT or ASK result."""
    if isinstance(result, ox.QueryBoolean):
        return {"head": {}, "boolean": bool(result)}
    names, rows = solutions(result)
    bindings = []
    for row in rows:
        b: dict[str, Any] = {}
        for name, term in zip(names, row):
            if term is None:
                continue
            if isinstance(term, ox.NamedNode):
                b[name] = {"type": "uri", "value": term.value}
            elif isinstance(term, ox.BlankNode):
                b[name] = {"type": "bnode", "value": term.value}
            elif isinstance(term, ox.Literal):
                d: dict[str, Any] = {"type": "literal", "value": term.value}
                if term.language:
                    d["xml:lang"] = term.language
                elif term.datatype.value != V.XSD + "string":
                    d["datatype"] = term.datatype.value
                b[name] = d
            else:  # quoted triples (RDF 1.2)
                b[name] = {"type": "triple", "value": str(term)}
        bindings.append(b)
    return {"head": {"vars": names}, "results": {"bindings": bindings}}


def read_vectors(target: str | Path, run: str | None = None, *, relations: bool = False,
                 auth: Auth | None = None, timeout: float = 60.0) -> tuple[dict[str, tuple[list[str], np.ndarray]], dict[str, str]]:
    """Vectors per run graph: ``{run: (iris, matrix)}`` and ``{run: startedAtTime}``."""
    prop = V.relationEmbedding if relations else V.embedding
    graph = f"VALUES ?g {{ {graph_node(run)} }} " if run else ""
    # a staging graph left by a killed export is not a run
    sparql = (f"SELECT ?g ?e ?v ?t WHERE {{ {graph}GRAPH ?g {{ ?e <{prop}> ?v . "
              f"OPTIONAL {{ ?g <{V.PROV}startedAtTime> ?t }} }} "
              f"FILTER(!STRSTARTS(STR(?g), \"{STAGING_PREFIX}\")) }}")
    names, rows = solutions(query(target, sparql, auth=auth, timeout=timeout))
    by_run: dict[str, tuple[list[str], list[np.ndarray]]] = {}
    started: dict[str, str] = {}
    from rdf2mm.io.write import parse_vector

    for g, e, v, t in rows:
        if not isinstance(v, ox.Literal) or g is None:
            continue
        iris, vecs = by_run.setdefault(g.value, ([], []))
        iris.append(e.value)
        vecs.append(parse_vector(v.value, v.datatype.value).ravel())
        if t is not None:
            started[g.value] = t.value
    out: dict[str, tuple[list[str], np.ndarray]] = {}
    for g, (iris, vecs) in by_run.items():
        dims = {len(x) for x in vecs}
        if len(dims) > 1:
            raise DataError(f"run <{g}> holds vectors of different lengths {sorted(dims)}")
        out[g] = (iris, np.stack(vecs).astype(np.float32))
    return out, started


def similar(target: str | Path, iri: str, top: int = 10, run: str | None = None, *, auth: Auth | None = None,
            timeout: float = 60.0) -> dict[str, Any]:
    """Entities nearest to ``iri`` by cosine similarity of their embeddings in one run's graph.

    Without ``run``, the latest run (by prov:startedAtTime) that embeds ``iri`` is used.
    Returns ``{"run", "iri", "neighbours": [{"iri", "score", "rank"}]}``.
    """
    iri = iri.strip()
    iri = iri[1:-1] if iri.startswith("<") and iri.endswith(">") else iri
    graph_node(iri)  # validates before it goes anywhere near a query
    if top < 1:
        raise UsageError("--top must be at least 1")
    runs, started = read_vectors(target, run, auth=auth, timeout=timeout)
    having = [g for g, (iris, _m) in runs.items() if iri in iris]
    if not having:
        where = f"run <{run}>" if run else "any run graph"
        raise DataError(f"<{iri}> has no r2m:embedding in {where} of {target}")
    chosen = max(having, key=lambda g: (started.get(g, ""), g))
    iris, m = runs[chosen]
    m64 = m.astype(np.float64)  # float32 squares overflow for large components
    norms = np.linalg.norm(m64, axis=1)
    norms[norms == 0] = 1.0
    unit = m64 / norms[:, None]
    i = iris.index(iri)
    scores = unit @ unit[i]
    scores[i] = -np.inf
    k = min(top, len(iris) - 1)
    order = np.argsort(-scores, kind="stable")[:k]
    return {"run": chosen, "iri": iri, "runs_with_entity": sorted(having),
            "neighbours": [{"rank": r + 1, "iri": iris[j], "score": float(scores[j])} for r, j in enumerate(order)]}
