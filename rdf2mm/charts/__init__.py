"""Charts drawn from data as inline SVG (no scripts, nothing fetched): see :mod:`rdf2mm.charts.svg`."""
