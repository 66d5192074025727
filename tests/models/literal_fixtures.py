"""Shared by the multi-score literal model tests (IKRL, MoSE, MoMoK): entity features given
directly (the real dataclasses of rdf2mm.encoding.entity_features, filled from
arrays), a small planted link-prediction graph, and
a run of the real training loop (LinkPredictorTraining) on a model built by a factory.

The planted graph: ``items`` items in ``classes`` clusters; ``hasClass`` links each item
to its cluster's class node, ``linked`` links items at random (structure carries no
class). Each item's literal feature (several image vectors, or one number) is drawn from
its cluster, and a share of the items has none. Held-out triples are ``hasClass``
triples: a structure-only model can only guess, a model that reads the feature can tell.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from unittest import mock

import numpy as np
import torch

from rdf2mm.encoding.entity_features import EntityFeatures, ModalityFeatures

EX = "http://example.org/"


def modality_from_items(modality: str, num_entities: int, items: dict[int, list[np.ndarray]],
                        predicate: str = f"{EX}has") -> ModalityFeatures:
    """One predicate's features: each entity's items, their mean as its value."""
    D = len(next(iter(items.values()))[0]) if items else 1
    values = torch.zeros(num_entities, 1, D)
    mask = torch.zeros(num_entities, 1, dtype=torch.bool)
    rows, owners = [], []
    for e, vecs in sorted(items.items()):
        if not vecs:
            continue
        values[e, 0] = torch.as_tensor(np.mean(vecs, axis=0), dtype=torch.float32)
        mask[e, 0] = True
        rows.extend(vecs)
        owners.extend([e] * len(vecs))
    item_values = torch.as_tensor(np.array(rows, dtype=np.float32).reshape(-1, D))
    return ModalityFeatures(modality, (predicate,), values, mask, item_values,
                            torch.as_tensor(owners, dtype=torch.long), torch.zeros(len(owners), dtype=torch.long))


@dataclass
class Planted:
    """A planted graph's link-prediction data and its item structure."""

    data: Any  # rdf2mm.tasks.link_prediction.LPData
    items: list[int]  # entity id of each item
    cluster: list[int]  # cluster of each item
    classes: list[int]  # entity id of each class node

    @property
    def num_entities(self) -> int:
        return self.data.inputs.kg.num_entities

    @property
    def num_relations(self) -> int:
        return self.data.inputs.kg.num_relations


def planted(folder: Path, items: int = 80, classes: int = 4, seed: int = 0) -> Planted:
    """Write and read the planted graph (split files: a third of the ``hasClass`` triples held out)."""
    from rdf2mm.config import TrainConfig
    from rdf2mm.tasks.link_prediction import load_lp_data

    rng = np.random.default_rng(seed)
    cluster = [i % classes for i in range(items)]
    has_class = [f"<{EX}item{i}> <{EX}hasClass> <{EX}class{cluster[i]}> ." for i in range(items)]
    linked = {f"<{EX}item{i}> <{EX}linked> <{EX}item{j}> ."
              for i in range(items) for j in rng.choice(items, 2, replace=False) if j != i}
    order = rng.permutation(items)
    held = len(order) // 3
    test = [has_class[i] for i in order[:held // 2 + held % 2]]
    valid = [has_class[i] for i in order[held // 2 + held % 2:held]]
    train = [has_class[i] for i in order[held:]] + sorted(linked)
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in (("train", train), ("valid", valid), ("test", test)):
        (folder / f"{name}.nt").write_text("\n".join(lines) + "\n")
    cfg = TrainConfig(graph=[str(folder / "train.nt")], train=str(folder / "train.nt"),
                      valid=str(folder / "valid.nt"), test=str(folder / "test.nt"), task="link-prediction",
                      model="transe", cache=False, device="cpu")
    data = load_lp_data(cfg)
    kg = data.inputs.kg
    return Planted(data, [kg.find_entity(f"{EX}item{i}") for i in range(items)], cluster,
                   [kg.find_entity(f"{EX}class{c}") for c in range(classes)])


def image_features(p: Planted, missing: float = 0.2, dim: int = 8, seed: int = 1,
                   modality: str = "visual") -> ModalityFeatures:
    """1 to 3 "image" vectors per item near its cluster's centre; ``missing`` of the items have none."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2.0, (max(p.cluster) + 1, dim))
    got: dict[int, list[np.ndarray]] = {}
    for e, c in zip(p.items, p.cluster):
        if rng.random() < missing:
            continue
        got[e] = [centres[c] + rng.normal(0, 0.5, dim) for _ in range(int(rng.integers(1, 4)))]
    return modality_from_items(modality, p.num_entities, got, f"{EX}depicts")


def numeric_features(p: Planted, missing: float = 0.2, seed: int = 1) -> ModalityFeatures:
    """One number per item, its cluster plus noise; ``missing`` of the items have none."""
    rng = np.random.default_rng(seed)
    got = {e: [np.array([c + rng.normal(0, 0.1)])] for e, c in zip(p.items, p.cluster) if rng.random() >= missing}
    return modality_from_items("numeric", p.num_entities, got, f"{EX}size")


def noise_features(p: Planted, modality: str, present: float = 0.5, dim: int = 6, seed: int = 2) -> ModalityFeatures:
    """Random vectors unrelated to anything, on ``present`` of the entities."""
    rng = np.random.default_rng(seed)
    got = {e: [rng.normal(0, 1, dim)] for e in range(p.num_entities) if rng.random() < present}
    return modality_from_items(modality, p.num_entities, got, f"{EX}{modality}Noise")


def empty_features(p: Planted, modality: str, dim: int = 4) -> ModalityFeatures:
    """A modality no entity has (every literal of it was ill-typed, say)."""
    E = p.num_entities
    return ModalityFeatures(modality, (f"{EX}{modality}",), torch.zeros(E, 1, dim), torch.zeros(E, 1, dtype=torch.bool),
                            torch.zeros(0, dim), torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long))


def features(p: Planted, *modalities: ModalityFeatures) -> EntityFeatures:
    return EntityFeatures(p.num_entities, {m.modality: m for m in modalities})


def settings(**kw: Any) -> Any:
    """Small, fast LP settings (1-N, full batch, CPU)."""
    from rdf2mm.tasks.settings import LPSettings

    base = dict(embed_dim=32, lr=0.02, epochs=100, patience=100, batch_size=64, negatives=0, eval_every=10,
                amp=False, clip=1.0)
    base.update(kw)
    return LPSettings(**base)


def train(p: Planted, s: Any, make: Callable[[Any], torch.nn.Module] | None = None, seed: int = 0) -> Any:
    """An LPResult of the real training loop; ``make(settings)`` builds the model (else the
    loop's own ``build_model``: a plain KGE ``s.model``)."""
    from rdf2mm.tasks import lp_training

    def run() -> Any:
        return lp_training.LinkPredictorTraining(p.data.inputs, p.data.splits, s, seed, torch.device("cpu"),
                                                 p.data.filter_index).run()

    if make is None:
        return run()
    with mock.patch.object(lp_training, "build_model", lambda _inputs, settings_: make(settings_)):
        return run()


def assert_same_scores(a: torch.nn.Module, b: torch.nn.Module, num_relations: int) -> None:
    """Two models give identical scores of every entity pair under every relation."""
    a.eval()
    b.eval()
    with torch.no_grad():
        ea, eb = a(), b()
        torch.testing.assert_close(ea, eb, rtol=0, atol=0)
        E = ea.shape[0]
        r = torch.arange(num_relations).repeat_interleave(E)
        h = torch.arange(E).repeat(num_relations)
        torch.testing.assert_close(a.decoder.score_all_tails(ea[h], r, ea), b.decoder.score_all_tails(eb[h], r, eb),
                                   rtol=0, atol=0)
        torch.testing.assert_close(a.decoder.score_all_heads(ea[h], r, ea), b.decoder.score_all_heads(eb[h], r, eb),
                                   rtol=0, atol=0)


def assert_batched_scores_match(model: torch.nn.Module, num_relations: int, atol: float = 1e-4) -> None:
    """``score_all_tails`` / ``score_all_heads`` rows equal ``score`` of each triple."""
    model.eval()
    with torch.no_grad():
        emb = model()
        E = emb.shape[0]
        g = torch.Generator().manual_seed(0)
        h = torch.randint(0, E, (7,), generator=g)
        r = torch.randint(0, num_relations, (7,), generator=g)
        tails = model.decoder.score_all_tails(emb[h], r, emb)
        heads = model.decoder.score_all_heads(emb[h], r, emb)
        every = torch.arange(E)
        for b in range(len(h)):
            want_t = model.decoder.score(emb[h[b]].expand(E, -1), r[b].expand(E), emb[every])
            want_h = model.decoder.score(emb[every], r[b].expand(E), emb[h[b]].expand(E, -1))
            torch.testing.assert_close(tails[b], want_t, atol=atol, rtol=1e-4)
            torch.testing.assert_close(heads[b], want_h, atol=atol, rtol=1e-4)
