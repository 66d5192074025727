"""Array layouts shared by the parsers and the encoders of literals.

The parser of a modality writes arrays in one layout and its encoder
(:mod:`rdf2mm.modalities.encoders`) reads them; both take the layout from here, so that
parsing (``rdf2mm inspect``) never imports the torch modules of the encoders.
Light module: imports nothing.
"""
from __future__ import annotations

#: textual (charcnn): index of padding and of characters outside the vocabulary
PAD, UNK = 0, 1

#: spatial: channels per vertex position (x, y, four markers, mask)
SEQ_CHANNELS = 7
#: spatial: global features, stored in position 0 after the vertex channels
GLOBAL_CHANNELS = 11
CHANNELS = SEQ_CHANNELS + GLOBAL_CHANNELS
#: spatial: the mask channel (1 on real vertices, 0 on padding)
MASK = 6
