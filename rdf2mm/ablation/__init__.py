"""The MR-GCN paper's ablation grid, for one model or several side by side.

Grid rows (:mod:`rdf2mm.ablation.grid`): structure only, each modality alone, all
modalities, and the shuffled-literal control (all modalities, values permuted among the
entities of their predicate: :mod:`rdf2mm.encoding.shuffle`). Each model runs the rows it
reads, in the literal modes that mean something for it (:mod:`rdf2mm.ablation.plan`);
:func:`run_ablation` (:mod:`rdf2mm.ablation.run`) trains each distinct cell once over the
same seeds and compares every cell with its model's structure only and shuffled control by
Welch's t-test over the seeds (:mod:`rdf2mm.ablation.welch`, no SciPy); the result and its
flat form are :mod:`rdf2mm.ablation.result`.
"""
from __future__ import annotations

from rdf2mm.ablation.grid import (
    ALL, LITERAL_MODES, METRICS, SHUFFLED, STRUCTURE, check_grid, default_grid, grid_of, present_modalities, row_label,
)
from rdf2mm.ablation.plan import (
    ENTITY, NO_LITERALS, PlannedCell, cell_config, config_label, literals_label, model_rows, parse_models, plan_cells,
)
from rdf2mm.ablation.result import AblationCell, AblationResult
from rdf2mm.ablation.run import ABLATION_FILE, run_ablation
from rdf2mm.ablation.welch import betainc, t_cdf, welch_t_test

__all__ = [
    "ABLATION_FILE", "ALL", "ENTITY", "LITERAL_MODES", "METRICS", "NO_LITERALS", "SHUFFLED", "STRUCTURE",
    "AblationCell", "AblationResult", "PlannedCell", "betainc", "cell_config", "check_grid", "config_label", "default_grid",
    "grid_of", "literals_label", "model_rows", "parse_models", "plan_cells", "present_modalities", "row_label", "run_ablation",
    "t_cdf", "welch_t_test",
]
