"""HTML reports of run directories and ``rdf2mm ablate`` folders (inline SVG, no scripts).

:func:`build_report` returns the page of a run directory (read through
:mod:`rdf2mm.runs`) or an ablation folder; :func:`write_report` writes it atomically.
"""
from __future__ import annotations

from rdf2mm.report.analysis import RANK_BUCKETS, confusion, pca_2d, rank_histogram, split_accuracy
from rdf2mm.report.html import display
from rdf2mm.report.pages import build_ablation_report, build_report, summary_section, write_report

__all__ = ["RANK_BUCKETS", "build_ablation_report", "build_report", "confusion", "display", "pca_2d",
           "rank_histogram", "split_accuracy", "summary_section", "write_report"]
