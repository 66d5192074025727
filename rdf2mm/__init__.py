"""rdf2mm: end-to-end learning on multimodal RDF knowledge graphs."""
from __future__ import annotations

__version__ = "0.1.0"
