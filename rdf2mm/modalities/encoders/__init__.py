"""The torch encoders of literal modalities, one module per modality.

Each :class:`~rdf2mm.modalities.base.Modality` builds its encoder from here in
``make_encoder``; the parsers (and so ``rdf2mm inspect``) never import these modules,
which import torch. Array layouts shared with the parsers are in
:mod:`rdf2mm.modalities.layouts`.
"""
