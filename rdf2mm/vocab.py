"""IRIs of the rdf2mm vocabulary (``vocab/rdf2mm.ttl``) and of the vocabularies it reuses.

The one home of IRI constants: every module that names an RDF, XSD, GeoSPARQL or rdf2mm
IRI imports it from here (the XSD datatype table of the modalities builds on :data:`XSD`).

Constants are plain strings so that importing this module costs nothing; wrap them in
``pyoxigraph.NamedNode`` where a term is needed. Every ``R2M_*`` name used by the
writers is defined in the Turtle file (a test checks it).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["R2M", "MLS", "PROV", "RDF", "RDFS", "XSD", "GEO", "KGB", "RDF_TYPE", "RDF_LANGSTRING", "XSD_STRING",
           "RDF_TENSOR", "HYPERPARAMETER", "MEASURE", "DEFAULT_BASE", "vocab_path", "vocab_text"]

R2M = "https://w3id.org/rdf2mm/vocab#"
MLS = "http://www.w3.org/ns/mls#"
PROV = "http://www.w3.org/ns/prov#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
GEO = "http://www.opengis.net/ont/geosparql#"
#: kgbench's datatypes (base64 images)
KGB = "http://kgbench.info/dt#"
RDF_TYPE = RDF + "type"
RDF_LANGSTRING = RDF + "langString"
XSD_STRING = XSD + "string"
#: the rdf-tensor datatype: JSON ``{"type":"float32","shape":[d],"data":[...]}``
RDF_TENSOR = "https://w3id.org/rdf-tensor/datatypes#NumericDataTensor"
#: hyperparameters and evaluation measures are minted per name under these
HYPERPARAMETER = "https://w3id.org/rdf2mm/hyperparameter/"
MEASURE = "https://w3id.org/rdf2mm/measure/"
#: base of skolem IRIs when no --base is given
DEFAULT_BASE = "https://w3id.org/rdf2mm"

PREFIXES = {"r2m": R2M, "mls": MLS, "prov": PROV, "rdf": RDF, "rdfs": RDFS, "xsd": XSD,
            "rdft": "https://w3id.org/rdf-tensor/datatypes#", "hp": HYPERPARAMETER, "measure": MEASURE}

# classes and individuals
Run = R2M + "Run"
Prediction = R2M + "Prediction"
LinkPrediction = R2M + "LinkPrediction"
RankedTriple = R2M + "RankedTriple"
SoftwarePackage = R2M + "SoftwarePackage"
MRGCN = R2M + "MRGCN"
NodeClassification = R2M + "NodeClassification"
LinkPredictionTask = R2M + "LinkPredictionTask"
# datatype
base64Float32 = R2M + "base64Float32"
# properties
embedding = R2M + "embedding"
relationEmbedding = R2M + "relationEmbedding"
embeddingDimension = R2M + "embeddingDimension"
entityCount = R2M + "entityCount"
inRun = R2M + "inRun"
about = R2M + "about"
predictedClass = R2M + "predictedClass"
trueClass = R2M + "trueClass"
score = R2M + "score"
split = R2M + "split"
head = R2M + "head"
relation = R2M + "relation"
tail = R2M + "tail"
rank = R2M + "rank"
headRank = R2M + "headRank"
tailRank = R2M + "tailRank"
headRankRaw = R2M + "headRankRaw"
tailRankRaw = R2M + "tailRankRaw"
fingerprint = R2M + "fingerprint"
source = R2M + "source"
seed = R2M + "seed"
keptSeed = R2M + "keptSeed"
device = R2M + "device"
platform = R2M + "platform"
pythonVersion = R2M + "pythonVersion"
usedSoftware = R2M + "usedSoftware"
packageName = R2M + "packageName"
version = R2M + "version"


def vocab_path() -> Path:
    """The shipped copy of ``vocab/rdf2mm.ttl``."""
    return Path(str(resources.files("rdf2mm") / "data" / "rdf2mm.ttl"))


def vocab_text() -> str:
    """The vocabulary as Turtle text."""
    return vocab_path().read_text(encoding="utf-8")
