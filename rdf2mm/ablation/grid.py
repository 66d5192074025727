"""The rows of the ablation grid: structure only, each modality alone, all modalities, and
the shuffled-literal control (all modalities, values permuted among the entities of their
predicate: :mod:`rdf2mm.encoding.shuffle`); which the graph has, and how a user names them.
"""
from __future__ import annotations

from rdf2mm.config import TrainConfig
from rdf2mm.errors import UsageError
from rdf2mm.modalities.registry import MODALITY_NAMES

#: per task: the headline metric (node classification: accuracy; link prediction: filtered
#: MRR) and the secondary one
METRICS: dict[str, tuple[str, str]] = {
    "node-classification": ("test_accuracy", "test_macro_f1"),
    "link-prediction": ("test_mrr", "test_hits@10"),
}
LITERAL_MODES = ("split", "merged")
#: the grid row of structure only (``--modalities none``; a literal KGE model: its plain KGE counterpart)
STRUCTURE = "none"
#: the grid row of the shuffled-literal control: every modality, literals shuffled
SHUFFLED = "shuffled"
#: the row that reads every modality
ALL = "all"
_ALIASES = {"structure": STRUCTURE, "structure-only": STRUCTURE, "shuffle": SHUFFLED,
            "shuffled-literals": SHUFFLED, "shuffle-literals": SHUFFLED}


def row_label(row: str) -> str:
    """How a table shows grid row ``row`` (``none`` is "structure only")."""
    return "structure only" if row == STRUCTURE else row


def present_modalities(cfg: TrainConfig) -> list[str]:
    """Modalities that have at least one literal in ``cfg``'s graph, in canonical order."""
    import numpy as np

    from rdf2mm.graph.ingest import read_graph
    from rdf2mm.modalities.preprocess import MODALITY_CODES, infer_modalities
    from rdf2mm.modalities.registry import ModalityMap

    modality_map = ModalityMap.from_toml(cfg.modality_map) if cfg.modality_map else ModalityMap()
    kg, _ = read_graph(cfg.graph, format=cfg.format, cache=cfg.cache)
    _, lit_mod = infer_modalities(kg, modality_map)
    if len(kg.literal_edges) == 0:
        return []
    counts = np.bincount(lit_mod[kg.literal_edges[:, 2]], minlength=len(MODALITY_CODES))
    return [m for m in MODALITY_NAMES if counts[MODALITY_CODES.index(m)] > 0]


def grid_of(present: list[str]) -> list[str]:
    """The paper's grid for a graph with modalities ``present``: structure only, each of
    them, all (when there are several), and the shuffled control (when there are any)."""
    return [STRUCTURE, *present, *([ALL] if len(present) > 1 else []), *([SHUFFLED] if present else [])]


def default_grid(cfg: TrainConfig) -> list[str]:
    """:func:`grid_of` the modalities present in ``cfg``'s graph."""
    return grid_of(present_modalities(cfg))


def check_grid(rows: list[str], literal_modes: list[str]) -> list[str]:
    """The grid rows ``rows`` as canonical names, deduplicated, structure only first when
    missing (every row is tested against it); a bad row or literal mode is a UsageError."""
    grid: list[str] = []
    for name in rows:
        name = name.strip().lower()
        name = _ALIASES.get(name, name)
        if name not in (STRUCTURE, ALL, SHUFFLED, *MODALITY_NAMES):
            raise UsageError(f"unknown grid entry {name!r}: use none, all, shuffled or one of {', '.join(MODALITY_NAMES)}")
        if name not in grid:
            grid.append(name)
    if STRUCTURE not in grid:
        grid.insert(0, STRUCTURE)  # the baseline every row is tested against
    if not literal_modes:
        raise UsageError("give at least one literal mode: split, merged")
    for mode in literal_modes:
        if mode not in LITERAL_MODES:
            raise UsageError(f"literal mode must be split or merged, not {mode!r}")
    return grid
