"""Estimate a full-batch training run's peak memory before it starts.

A run that would not fit should stop with advice, not be killed by the operating
system halfway. The estimate is deliberately rough and on the high side: it adds the
parsed literal arrays, the sparse adjacency, parameters with their gradients and Adam
moments, and the activations kept for the backward pass (node features, every R-GCN
layer's gathered messages and outputs, and each literal encoder's feature maps), times
a safety factor. ``RDF2MM_MEMORY_LIMIT`` (e.g. ``8G``, ``512M``) overrides the memory
the machine reports as available.
"""
from __future__ import annotations

import os
import re
from typing import Any

from rdf2mm.errors import ResourceError, UsageError

GIB = 1 << 30
#: activations are kept for backward and the allocator fragments: be generous
SAFETY = 1.5
#: bytes of activations per encoded literal and per unit of its input size, per modality
_ACTIVATION_PER_INPUT = {
    "visual": 4 * 12,  # conv stack: ~12 floats of feature maps per input pixel value
    "textual": 4 * 10,  # embedding + three conv layers of 64 channels over the characters
    "spatial": 4 * 8,
    "temporal": 4 * 8,
    "numeric": 4 * 64,
    "boolean": 4 * 64,
}


def parse_size(text: str) -> int:
    """``"8G"``, ``"512M"``, ``"100000"`` to bytes."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([kKmMgGtT]?)[iI]?[bB]?\s*", text)
    if not m:
        raise ValueError(f"not a size: {text!r}")
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def current_rss() -> int:
    """This process's resident memory now, in bytes (0 when unknown)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def available_memory() -> int | None:
    """Bytes this run may still take: what is left of ``RDF2MM_MEMORY_LIMIT`` (a limit on
    the whole process), else the machine's MemAvailable, else None when unknown."""
    limit = os.environ.get("RDF2MM_MEMORY_LIMIT")
    if limit:
        try:
            size = parse_size(limit)
        except ValueError:
            raise UsageError(f"RDF2MM_MEMORY_LIMIT must be a size such as 8G or 512M, not {limit!r}") from None
        return max(size - current_rss(), 0)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def estimate_training_memory(inputs: Any, embed_dim: int, hidden: int, layers: int, out_dim: int) -> dict[str, int]:
    """Estimated extra bytes, by component, that full-batch training on ``inputs`` will take
    on top of what the process holds already."""
    mg = inputs.mg
    n, e = mg.num_nodes, int(mg.edge_index.shape[1])
    dims = [embed_dim] + [hidden] * (layers - 1) + [out_dim]
    parsed = {m: d.parsed for m, d in inputs.prepared.data.items() if m in inputs.modalities}
    literal_data = sum(p.data.nbytes for p in parsed.values())
    adjacency = e * 100  # indices, values and transposes of the CSR matrices (measured ~100 B/edge)
    # forward activations kept for backward: node features, per-layer messages and outputs
    activations = 4 * n * sum(dims) * 2 + 4 * e * sum(dims[i] + dims[i + 1] for i in range(layers))
    encoders = 0
    for name, p in parsed.items():
        per_row = int(p.data[0].size) if len(p.data) else 0
        encoders += int(p.valid.sum()) * per_row * _ACTIVATION_PER_INPUT.get(name, 32)
    parameters = 4 * 4 * (mg.num_entities * embed_dim + mg.num_relations * sum(dims) * max(dims))
    parts = {
        "literal_data": literal_data,
        "adjacency": adjacency,
        "activations": activations,
        "encoders": encoders,
        "parameters": parameters,
    }
    parts["total"] = int(SAFETY * sum(parts.values()))
    return parts


def estimate_minibatch_memory(inputs: Any, embed_dim: int, hidden: int, layers: int, out_dim: int,
                              batch_size: int, fanout: tuple[int | None, ...]) -> dict[str, int]:
    """Estimated extra bytes of mini-batch training: what stays whole (literal arrays, the
    sampler's edge arrays, parameters with Adam state, layer-wise inference's node states)
    plus one batch's neighbourhood, bounded by the fanouts (or the graph)."""
    full = estimate_training_memory(inputs, embed_dim, hidden, layers, out_dim)
    mg = inputs.mg
    n, e = mg.num_nodes, int(mg.edge_index.shape[1])
    reach = batch_size
    for f in fanout:
        reach = min(n, reach * (1 + (f if f is not None else n)))
    share = reach / max(n, 1)
    dims = [embed_dim] + [hidden] * (layers - 1) + [out_dim]
    parts = {
        # the parsed arrays are held already and shared with the encoders (not copied)
        "literal_data": 0,
        "adjacency": e * 24 + n * 24,  # sampler CSR (sources, relations, offsets) and scratch
        "activations": int(share * (full["activations"] + full["adjacency"])) + 4 * n * max(dims) * 2,
        "encoders": int(share * full["encoders"]),
        "parameters": full["parameters"],
    }
    parts["total"] = int(SAFETY * sum(parts.values()))
    return parts


def check_fits(estimate: dict[str, int], available: int | None = None, minibatch: bool = False) -> None:
    """Raise :class:`ResourceError` with advice when the estimate exceeds available memory."""
    available = available_memory() if available is None else available
    if available is None or estimate["total"] <= available:
        return
    biggest = max((k for k in estimate if k != "total"), key=lambda k: estimate[k])
    advice = {
        "encoders": "leave out the heavy modalities (e.g. --modalities numeric,temporal,textual without visual), "
                    "or use --text-encoder minilm",
        "activations": ("use a smaller --batch-size or --fanout, " if minibatch else "")
                       + "use --literals merged (fewer literal nodes) or a smaller --embed-dim/--hidden",
        "adjacency": "use --literals merged or --literals none (fewer edges)",
        "literal_data": "leave out modalities with large literals (visual, spatial)",
        "parameters": "use a smaller --embed-dim",
    }[biggest]
    if not minibatch:
        advice = "use --batching mini (sampled neighbourhoods), or " + advice
    raise ResourceError(
        f"{'mini-batch ' if minibatch else ''}training needs about {estimate['total'] / GIB:.1f} GiB more but {available / GIB:.1f} GiB is available "
        f"(largest part: {biggest.replace('_', ' ')}, {estimate[biggest] / GIB:.1f} GiB); {advice}"
    )
