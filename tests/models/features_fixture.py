"""Entity features given directly, for the tests of the literal KGE models: the real
dataclasses of :mod:`rdf2mm.encoding.entity_features` filled from arrays, and a way to
plant them in place of what ``entity_features(inputs, ...)`` computes, so the training
pipeline (``build_model``) receives them.

The real function computes the features from a graph's literals; these tests give each
entity its features directly, so they test the models on a signal they control.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from rdf2mm.encoding import entity_features as entity_features_module
from rdf2mm.encoding.entity_features import EntityFeatures, ModalityFeatures


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

    monkeypatch.setattr(entity_features_module, "entity_features", entity_features)
    return calls
