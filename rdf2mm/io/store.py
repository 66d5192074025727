"""Put a run's graph into SPARQL stores, and read it back.

* Embedded: a pyoxigraph on-disk store (:func:`load_store`).
* Remote: SPARQL 1.1 Update (:func:`push_sparql_update`) or the Graph Store HTTP
  Protocol (:func:`push_gsp`), through :class:`rdf2mm.io.http.HttpClient`.

Re-running replaces the run's named graph, never duplicates it, and a replacement is
all or nothing: a reader (or a kill at any moment) sees the old graph or the new one,
never none or half. Embedded: the triples are bulk-loaded under a staging graph name and
moved over the run's graph in one transaction. Remote: a graph that fits in one batch
goes in one request (``DROP + INSERT DATA``, or a GSP ``PUT``); a larger one is sent in
bounded batches into a staging graph (each batch retried on timeouts, dropped
connections and 5xx answers: inserting ground triples twice changes nothing), then one
``MOVE`` request swaps it in; if a batch fails for good the staging graph is dropped and
the run's graph is left as it was. GSP alone has no move, so without an Update endpoint
``push_gsp`` sends the whole graph as one ``PUT``.

Every term placed in SPARQL text is pyoxigraph's N-Triples form (IRIs validated, literals
escaped), so data cannot inject SPARQL. :func:`query` runs SPARQL on a store folder or an
endpoint URL, and :func:`similar` ranks entities by cosine similarity of their stored vectors.

Writing lives in :mod:`rdf2mm.io.store_load`, reading back in :mod:`rdf2mm.io.store_query`;
this module gathers both.

Credentials: ``--token`` / ``RDF2MM_SPARQL_TOKEN`` (bearer) or ``--user``/``--password``
/ ``RDF2MM_SPARQL_USER``/``RDF2MM_SPARQL_PASSWORD`` (Basic, or Digest when the server
asks); never in messages.
"""
from __future__ import annotations

from rdf2mm.io.http import Auth
from rdf2mm.io.store_load import (
    STAGING_PREFIX,
    is_endpoint,
    load_store,
    open_store,
    push_gsp,
    push_sparql_update,
    staging_graph,
)
from rdf2mm.io.store_query import query, read_vectors, results_json, similar, solutions

__all__ = ["Auth", "STAGING_PREFIX", "is_endpoint", "load_store", "open_store", "push_gsp", "push_sparql_update",
           "query", "read_vectors", "results_json", "similar", "solutions", "staging_graph"]
