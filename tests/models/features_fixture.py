"""A minimal stand-in for :mod:`rdf2mm.encoding.entity_features` (INTERFACES.md section 1),
for the tests of the literal KGE models: the two dataclasses with the fields and methods
the models read, and a way to plant them in place of the real module so the training
pipeline (``build_model``'s ``entity_features(inputs, ...)`` call) receives them.

The real module computes the features from a graph's literals; these tests give each
entity its features directly, so they test the models on a signal they control.
"""
from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch


@dataclass
class ModalityFeatures:
    modality: str
    predicates: tuple[str, ...]
    values: torch.Tensor  # float32 [E, P, D]
    mask: torch.Tensor  # bool [E, P]
    item_values: torch.Tensor  # float32 [N, D]
    item_entity: torch.Tensor  # int64 [N]
    item_predicate: torch.Tensor  # int64 [N]

    @property
    def dim(self) -> int:
        return int(self.values.shape[2])

    def pooled(self) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.mask.unsqueeze(-1).float()
        total = (self.values * m).sum(1)
        count = m.sum(1)
        return total / count.clamp(min=1), self.mask.any(1)


@dataclass
class EntityFeatures:
    num_entities: int
    modalities: dict[str, ModalityFeatures]
    report: dict[str, Any] = field(default_factory=dict)

    def shuffled(self, seed: int) -> EntityFeatures:
        """Per modality and predicate, the rows of the entities that have it permuted among them."""
        rng = np.random.default_rng(seed)
        out = {}
        for name, mf in self.modalities.items():
            values = mf.values.clone()
            for p in range(values.shape[1]):
                have = np.flatnonzero(mf.mask[:, p].numpy())
                values[have, p] = mf.values[rng.permutation(have), p]
            out[name] = ModalityFeatures(name, mf.predicates, values, mf.mask.clone(), mf.item_values,
                                         mf.item_entity, mf.item_predicate)
        return EntityFeatures(self.num_entities, out, dict(self.report))


def modality(name: str, values: np.ndarray, mask: np.ndarray, predicates: tuple[str, ...] | None = None
             ) -> ModalityFeatures:
    """``values`` ``[E, P, D]`` and ``mask`` ``[E, P]`` as one modality's features (0 where absent)."""
    values = np.asarray(values, dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    values = values * mask[..., None]
    e, p = np.nonzero(mask)
    predicates = predicates or tuple(f"http://example.org/{name}{i}" for i in range(values.shape[1]))
    return ModalityFeatures(name, predicates, torch.from_numpy(values), torch.from_numpy(mask),
                            torch.from_numpy(values[e, p]), torch.from_numpy(e.astype(np.int64)),
                            torch.from_numpy(p.astype(np.int64)))


def plant(monkeypatch: Any, make: Callable[[Any], EntityFeatures]) -> list[dict[str, Any]]:
    """Put a module ``rdf2mm.encoding.entity_features`` whose ``entity_features(inputs, ...)``
    returns ``make(inputs)`` (shuffled when asked) in place of the real one; returns the
    list of the calls' keyword arguments."""
    calls: list[dict[str, Any]] = []

    def entity_features(inputs: Any, *, modalities: tuple[str, ...] | None = None, shuffle_seed: int | None = None,
                        cache_dir: Any = None) -> EntityFeatures:
        calls.append({"modalities": modalities, "shuffle_seed": shuffle_seed})
        features = make(inputs)
        return features if shuffle_seed is None else features.shuffled(shuffle_seed)

    module = types.ModuleType("rdf2mm.encoding.entity_features")
    module.entity_features = entity_features  # type: ignore[attr-defined]
    module.EntityFeatures = EntityFeatures  # type: ignore[attr-defined]
    module.ModalityFeatures = ModalityFeatures  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rdf2mm.encoding.entity_features", module)
    return calls
