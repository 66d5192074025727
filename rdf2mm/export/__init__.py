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

from rdf2mm.export.parquet import write_parquet
from rdf2mm.export.rdf import RunGraph
from rdf2mm.export.reading import RunData, load_run, run_iri
from rdf2mm.export.targets import DEFAULT_OUTPUTS, OUTPUTS, export_run, iter_quads, parse_outputs

__all__ = ["DEFAULT_OUTPUTS", "OUTPUTS", "RunData", "RunGraph", "export_run", "iter_quads", "load_run",
           "parse_outputs", "run_iri", "write_parquet"]
