"""Labels and entity structure of the synthetic graph: classes, splits, groups, tags, links."""
from __future__ import annotations

import numpy as np

from rdf2mm.synthetic.params import _S_LABELS, _S_LP, _S_STRUCT, GeneratorState


class StructureMixin(GeneratorState):
    """Labels, entity-entity relations and their link-prediction split (a part of the generator)."""

    def make_labels(self) -> dict[str, np.ndarray]:
        """Balanced classes and a stratified train/valid/test split (0/1/2 per item)."""
        rng = self.rng(_S_LABELS)
        y = rng.permutation(np.arange(self.n) % self.k)
        split = np.zeros(self.n, dtype=np.int8)
        fv, ft = self.p["split"][1], self.p["split"][2]
        for cls in range(self.k):
            idx = rng.permutation(np.flatnonzero(y == cls))
            nv, nt = round(len(idx) * fv), round(len(idx) * ft)
            # every split asked for gets at least one item of every class
            nv = max(nv, 1) if fv > 0 else 0
            nt = max(nt, 1) if ft > 0 else 0
            split[idx[:nv]] = 1
            split[idx[nv:nv + nt]] = 2
        return {"y": y, "split": split}

    def make_structure(self, labels: dict[str, np.ndarray]) -> list[tuple[str, str, str, np.ndarray, np.ndarray]]:
        """Entity-entity relations: (name, head kind, tail kind, heads, tails)."""
        rng = self.rng(_S_STRUCT)
        n, k, c, m, t_count = self.n, self.k, self.c, self.m, self.t
        y = labels["y"]
        # latent cluster: drawn independently of the label, drives the LP structure
        cluster = rng.permutation(np.arange(n) % c)
        ls = self.p["link_strength"]

        def pick_cluster(size: int, own: np.ndarray) -> np.ndarray:
            return np.where(rng.random(size) < ls, own, rng.integers(0, c, size))

        # group id = class part + k * (cluster part + c * j)
        class_part = np.where(rng.random(n) < self.p["structure_signal"], y, rng.integers(0, k, n))
        group = class_part + k * (pick_cluster(n, cluster) + c * rng.integers(0, m, n))

        # 1-3 tags per item from its cluster (tag id = cluster part + c * j); duplicates dropped
        per = t_count // c
        n_tags = rng.integers(1, 4, n)
        cand_h = np.repeat(np.arange(n), 3)
        cand_t = pick_cluster(3 * n, np.repeat(cluster, 3)) + c * rng.integers(0, per, 3 * n)
        keep = (np.arange(3 * n) % 3) < np.repeat(n_tags, 3)
        key = np.unique(cand_h[keep].astype(np.int64) * t_count + cand_t[keep])
        tag_h, tag_t = key // t_count, key % t_count

        # one related item per item, from its cluster; never itself
        order = np.argsort(cluster, kind="stable")
        starts = np.searchsorted(cluster[order], np.arange(c))
        sizes = np.bincount(cluster, minlength=c)
        target_cluster = pick_cluster(n, cluster)
        rel = order[starts[target_cluster] + (rng.random(n) * sizes[target_cluster]).astype(np.int64)]
        clash = rel == np.arange(n)
        rel[clash] = (rel[clash] + 1) % n

        # every group is a sub-group of another group of the same cluster part
        g_ids = np.arange(self.g)
        g_cluster = (g_ids // k) % c
        parent = rng.integers(0, k, self.g) + k * (g_cluster + c * rng.integers(0, m, self.g))
        clash = parent == g_ids
        parent[clash] = k * (parent[clash] // k) + (parent[clash] + 1) % k  # other class part, same cluster

        return [
            ("inGroup", "item", "group", np.arange(n), group),
            ("hasTag", "item", "tag", tag_h, tag_t),
            ("relatedTo", "item", "item", np.arange(n), rel),
            ("subGroupOf", "group", "group", g_ids, parent),
        ]

    def split_links(self, rels: list[tuple[str, str, str, np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """Assign every entity-entity triple to train/valid/test (0/1/2).

        Held-out triples whose head, tail or relation would be missing from train are
        moved back to train (one per such entity); moving back only adds train
        occurrences, so a single pass suffices.
        """
        rng = self.rng(_S_LP)
        offset = {"item": 0, "group": self.n, "tag": self.n + self.g}
        heads = np.concatenate([h + offset[hk] for _, hk, _, h, _ in rels])
        tails = np.concatenate([t + offset[tk] for _, _, tk, _, t in rels])
        rel_id = np.concatenate([np.full(len(h), r) for r, (_, _, _, h, _) in enumerate(rels)])
        total = len(heads)
        fv, ft = self.p["lp_split"][1], self.p["lp_split"][2]
        u = rng.random(total)
        split = np.where(u < fv, 1, np.where(u < fv + ft, 2, 0)).astype(np.int8)
        n_ent = self.n + self.g + self.t
        train = split == 0
        deg = np.bincount(heads[train], minlength=n_ent) + np.bincount(tails[train], minlength=n_ent)
        held = np.flatnonzero(~train)
        ents = np.concatenate([heads[held], tails[held]])
        rows = np.concatenate([held, held])
        orphan = deg[ents] == 0
        _, first = np.unique(ents[orphan], return_index=True)
        split[rows[orphan][first]] = 0
        rel_train = np.bincount(rel_id[split == 0], minlength=len(rels))
        for r in np.flatnonzero(rel_train == 0):
            split[np.flatnonzero(rel_id == r)[0]] = 0
        bounds = np.cumsum([0] + [len(h) for _, _, _, h, _ in rels])
        return [split[bounds[r]:bounds[r + 1]] for r in range(len(rels))]
