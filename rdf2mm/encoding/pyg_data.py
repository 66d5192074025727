"""Encoded graphs as torch-geometric objects, and their pickle-free file format.

The layout of ``Data`` and ``HeteroData`` is described in :mod:`rdf2mm.pyg`, the public
face of this module. Saving writes plain tensors to one safetensors file and the
structure (which tensor is which attribute of which store, plus small JSON values) to
its header, so :func:`load_pyg` rebuilds the object without unpickling anything: a file
carrying a pickle payload is refused as malformed, never run.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from rdf2mm.encoding.options import NODE_TYPES, Encoded
from rdf2mm.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from torch_geometric.data import Data, HeteroData

HEADER_KEY = "rdf2mm.pyg"
PYG_FORMAT_VERSION = 1


def to_data(enc: Encoded, *, hetero: bool = False) -> Data | HeteroData:
    """``enc`` as a torch-geometric ``Data`` (``edge_type`` per edge) or ``HeteroData``."""
    return _hetero(enc) if hetero else _homogeneous(enc)


def _modality_meta(enc: Encoded) -> dict[str, Any]:
    meta = {m: dict(enc.prepared.data[m].parsed.meta) for m in enc.encoded_modalities}
    if "textual" in meta:
        meta["textual"].setdefault("encoder", enc.options.text_encoder)
    if "visual" in meta:
        meta["visual"].setdefault("encoder", enc.options.image_encoder)
    return meta


def _homogeneous(enc: Encoded) -> Data:
    from torch_geometric.data import Data

    node_type = enc.node_type()
    E, N = enc.num_entities, enc.num_nodes
    node_literal = np.full(N, -1, dtype=np.int64)
    node_literal[E:] = enc.mg.node_literal
    data = Data(
        edge_index=torch.from_numpy(np.ascontiguousarray(enc.edge_index, dtype=np.int64)),
        edge_type=torch.from_numpy(np.ascontiguousarray(enc.edge_type, dtype=np.int64)),
        num_nodes=N,
    )
    data.node_type = torch.from_numpy(node_type.astype(np.int64))
    data.node_literal = torch.from_numpy(node_literal)
    data.num_entities = E
    data.relation_names = list(enc.relation_names)
    data.node_type_names = list(NODE_TYPES)
    for name in enc.encoded_modalities:
        nodes, rows = enc.modality_nodes(name, node_type)
        data[f"{name}_x"] = torch.from_numpy(np.ascontiguousarray(enc.prepared.data[name].parsed.data[rows]))
        # "index" in the name makes PyG offset it by num_nodes when batching graphs
        data[f"{name}_index"] = torch.from_numpy(nodes)
    data.modality_meta = _modality_meta(enc)
    return data


def _hetero(enc: Encoded) -> HeteroData:
    from torch_geometric.data import HeteroData

    node_type = enc.node_type().astype(np.int64)
    E, N = enc.num_entities, enc.num_nodes
    local = np.zeros(N, dtype=np.int64)
    data = HeteroData()
    for k, name in enumerate(NODE_TYPES):
        nodes = np.flatnonzero(node_type == k)
        if len(nodes) == 0 and k != 0:
            continue
        local[nodes] = np.arange(len(nodes), dtype=np.int64)
        store = data[name]
        store.num_nodes = int(len(nodes))
        if k == 0:
            continue
        store.node_literal = torch.from_numpy(enc.mg.node_literal[nodes - E])
        if name in enc.prepared.data:
            _, rows = enc.modality_nodes(name, node_type)  # same node order as ``nodes``
            store.x = torch.from_numpy(np.ascontiguousarray(enc.prepared.data[name].parsed.data[rows]))
        else:
            store.datatype = torch.from_numpy(enc.kg.literal_datatype[store.node_literal.numpy()].astype(np.int64))
    src, dst = enc.edge_index
    T, K = len(enc.relation_names), len(NODE_TYPES)
    key = (node_type[src] * T + enc.edge_type) * K + node_type[dst]
    order = np.argsort(key, kind="stable")
    uniq, starts = np.unique(key[order], return_index=True)
    bounds = [*starts[1:], len(order)]
    for u, lo, hi in zip(uniq.tolist(), starts.tolist(), bounds):
        sel = order[lo:hi]
        st, rest = divmod(u, T * K)
        t, dt = divmod(rest, K)
        data[NODE_TYPES[st], f"r{t}", NODE_TYPES[dt]].edge_index = torch.from_numpy(
            np.stack([local[src[sel]], local[dst[sel]]])
        )
    data.relation_names = list(enc.relation_names)
    data.modality_meta = _modality_meta(enc)
    return data


# -------------------------------------------------------------------- saving


def _json_value(value: Any, where: str) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise TypeError(f"cannot save {where}: {type(value).__name__} is neither a tensor nor JSON data") from None
    return value


def save_pyg(data: Data | HeteroData, path: str | Path) -> None:
    """Save ``data`` as one safetensors file (tensors + a JSON header; no pickle)."""
    from safetensors.torch import save_file
    from torch_geometric.data import HeteroData

    tensors: dict[str, torch.Tensor] = {}
    entries: list[dict[str, Any]] = []
    seen: set[int] = set()
    for store in data.stores:
        key = getattr(store, "_key", None)
        store_key = list(key) if isinstance(key, tuple) else key
        for attr, value in store.items():
            entry: dict[str, Any] = {"store": store_key, "attr": attr}
            if isinstance(value, torch.Tensor):
                name = str(len(tensors))
                t = value.detach().cpu().contiguous()
                # safetensors refuses tensors sharing memory; copy only those (a copy of
                # every tensor would double peak memory on large graphs)
                ptr = t.untyped_storage().data_ptr()
                if ptr in seen or t.untyped_storage().nbytes() != t.numel() * t.element_size():
                    t = t.clone()
                seen.add(t.untyped_storage().data_ptr())
                tensors[name] = t
                entry["tensor"] = name
            else:
                entry["value"] = _json_value(value, f"attribute {attr!r}")
            entries.append(entry)
    header = {"version": PYG_FORMAT_VERSION, "class": "HeteroData" if isinstance(data, HeteroData) else "Data",
              "entries": entries}
    save_file(tensors, str(path), metadata={HEADER_KEY: json.dumps(header)})


def load_pyg(path: str | Path) -> Data | HeteroData:
    """Load what :func:`save_pyg` (or ``rdf2mm encode --as pyg``) wrote: a file or its folder.

    Reads tensors with safetensors and rebuilds the object from the JSON header; refuses
    (:class:`~rdf2mm.errors.InputError`) anything else, pickles included.
    """
    from safetensors import safe_open
    from torch_geometric.data import Data, HeteroData

    path = Path(path)
    if path.is_dir():
        path = path / "data.safetensors"
    try:
        with safe_open(str(path), framework="pt") as fh:
            header = json.loads((fh.metadata() or {})[HEADER_KEY])
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own types; all mean "refuse"
        raise InputError(f"{path}: not an rdf2mm PyG file ({type(exc).__name__}: {exc})") from None
    try:
        cls = {"Data": Data, "HeteroData": HeteroData}[header["class"]]
        data = cls()
        for entry in header["entries"]:
            store, attr = entry["store"], entry["attr"]
            if not isinstance(attr, str):
                raise ValueError("attribute name is not a string")
            value = tensors[entry["tensor"]] if "tensor" in entry else entry["value"]
            if store is None:
                data[attr] = value
            elif isinstance(store, str) and cls is HeteroData:
                data[store][attr] = value
            elif isinstance(store, list) and len(store) == 3 and all(isinstance(s, str) for s in store) and cls is HeteroData:
                data[tuple(store)][attr] = value
            else:
                raise ValueError(f"bad store key {store!r}")
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: damaged rdf2mm PyG header ({type(exc).__name__}: {exc})") from None
    return data
