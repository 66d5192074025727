"""Synthetic multimodal RDF graphs with planted, known label signal.

:func:`generate` writes a context graph whose target entities (``ex:Item``) carry
literals of every modality (numeric, temporal, textual, visual, spatial, boolean) plus
random entity structure (``ex:Group``, ``ex:Tag``, item-item links). The class label is
planted only where asked:

* each literal of a modality listed in ``signal`` follows its item's class distribution
  with probability ``strength`` and a random class's distribution otherwise; literals
  of other modalities always follow a random class's distribution, so their marginal
  is the same but they carry no information;
* with ``structure_signal = p`` an item joins a group of its own class block with
  probability ``p`` (``p = 0``: group choice is independent of the label).

Structure for link prediction is planted independently of the label: every item has
a latent cluster, and with probability ``link_strength`` its group, tags and related
item come from that cluster, so held-out links are predictable.

Class-conditional distributions (``z`` = the class a literal follows, ``K`` classes):

==========  ================================================================
numeric     ``x = z + N(0, 0.12)``, affinely mapped per predicate (decimal,
            integer incl. negatives, double in E-notation, float)
temporal    xsd:date year in ``[1900+10z, 1908+10z]``, dateTime year in
            ``[1950+5z, 1953+5z]``, gYear in a block of ``[-500, 2000)`` (so
            negative and < 4-digit years occur, half of them unpadded like the
            MR-GCN reference data)
textual     class-specific pseudo-words mixed into shared words (xsd:string,
            plain literal, ``@en``/``@nl`` language-tagged)
visual      small JPEG (or PNG): a filled shape (disk/square/triangle by
            ``z % 3``) with hue ``z / K`` on a noisy grey background
spatial     POLYGON with ``3 + z`` vertices (random centre, size, rotation,
            jitter; negative coordinates); the POINT location is always
            class-independent, since a point centred on itself has no shape
boolean     ``z % 2 == 1`` (a boolean carries at most two classes of signal)
==========  ================================================================

Output scales from 10^3 to 10^7 triples: lines are built and written in chunks of
items; only integer arrays for the whole graph are held in memory. Images are the
expensive part, so only the first ``max_images`` items (default 20,000) get one.
Everything is deterministic given the parameters (gzip output carries no timestamp).

Modules: :mod:`~rdf2mm.synthetic.params` (namespaces, datatypes, sizes, validation),
:mod:`~rdf2mm.synthetic.structure` (labels, groups, tags, links and their split),
:mod:`~rdf2mm.synthetic.literals` (the literals of every modality),
:mod:`~rdf2mm.synthetic.output` (term spelling, byte-stable files),
:mod:`~rdf2mm.synthetic.generator` (:func:`generate`),
:mod:`~rdf2mm.synthetic.lp_planted` (:func:`generate_planted_lp`: link-prediction graphs
whose target tails are planted in one modality, with entities missing modalities).
"""
from __future__ import annotations

from rdf2mm.synthetic.generator import GeneratedDataset, generate
from rdf2mm.synthetic.lp_planted import PLANTABLE, PLANTED_PREDICATE, generate_planted_lp
from rdf2mm.synthetic.params import (
    DATATYPE_MODALITY,
    EX,
    MODALITIES,
    TARGET_CLASS,
    TARGET_PREDICATE,
    class_iri,
    item_iri,
    parse_signal,
)

__all__ = [
    "DATATYPE_MODALITY",
    "EX",
    "MODALITIES",
    "PLANTABLE",
    "PLANTED_PREDICATE",
    "TARGET_CLASS",
    "TARGET_PREDICATE",
    "GeneratedDataset",
    "class_iri",
    "generate",
    "generate_planted_lp",
    "item_iri",
    "parse_signal",
]
