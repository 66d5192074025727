"""Generated link-prediction graphs with the shape of the field's benchmarks.

WN18RR, FB15k-237 and YAGO3-10 cannot be downloaded here, so this writes graphs with
their size (entities, training triples, relations, held-out triples) and the features
that make them costly or easy: power-law entity degrees (a few hubs, a long tail),
skewed relation frequencies, and a learnable signal (every entity sits in a latent
cluster; each relation sends a cluster to a few target clusters), so a model trains to
early stopping instead of memorising noise. Valid and test triples only use entities
and relations seen in training, as in the originals.

    .venv/bin/python bench/kg_shapes.py wn18rr OUT_DIR     # 40,943 entities, 86,835 train triples, 11 relations
    .venv/bin/python bench/kg_shapes.py fb15k237 OUT_DIR   # 14,541 entities, 272,115 triples, 237 relations
    .venv/bin/python bench/kg_shapes.py custom OUT_DIR --entities 1000000 --triples 3000000 --relations 50

Writes ``train.nt``, ``valid.nt``, ``test.nt`` and ``shape.json`` (the figures).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Shape:
    """The size of one benchmark graph."""

    entities: int
    train: int
    relations: int
    valid: int
    test: int


SHAPES = {
    "wn18rr": Shape(40_943, 86_835, 11, 3_034, 3_134),
    "fb15k237": Shape(14_541, 272_115, 237, 17_535, 20_466),
    "yago3-10": Shape(123_182, 1_079_040, 37, 5_000, 5_000),
}

BASE = "http://example.org/kg/"


def generate(shape: Shape, seed: int = 0, clusters: int | None = None, alpha: float = 1.1,
             symmetric: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (h, r, t) id triples for train, valid and test.

    Entity popularity follows a Zipf law with exponent ``alpha`` (power-law degrees);
    relation frequencies a Zipf law too. Each relation maps every source cluster to one of
    two target clusters, so the tail of (h, r, ?) is predictable up to the cluster. A
    ``symmetric`` share of the relations holds both directions of each fact (as WN18RR's
    derivationally-related-form, similar-to and verb-group do): the split then often
    puts one direction in training and the other in test, which a model can learn.
    """
    rng = np.random.default_rng(seed)
    E, R = shape.entities, shape.relations
    k = clusters or max(8, int(np.sqrt(E) / 4))
    cluster = rng.integers(0, k, E)
    popularity = 1.0 / np.arange(1, E + 1) ** (alpha - 0.5)
    rng.shuffle(popularity)
    members = [np.flatnonzero(cluster == c) for c in range(k)]
    member_p = [popularity[m] / popularity[m].sum() for m in members]
    head_p = popularity / popularity.sum()
    rel_p = 1.0 / np.arange(1, R + 1) ** 0.8
    rel_p /= rel_p.sum()
    targets = rng.integers(0, k, (R, k, 2))
    is_symmetric = np.zeros(R, dtype=bool)
    is_symmetric[rng.choice(R, max(1, round(symmetric * R)), replace=False)] = True
    # A symmetric relation maps a cluster to itself, so both directions agree.
    targets[is_symmetric] = np.arange(k)[None, :, None]
    # Extra held-out triples: some are dropped below for naming entities training lacks.
    total = shape.train + 2 * (shape.valid + shape.test)
    seen: set[int] = set()
    out = np.empty((0, 3), dtype=np.int64)
    while len(out) < total:
        n = int((total - len(out)) * 1.3) + 1000
        h = rng.choice(E, n, p=head_p)
        r = rng.choice(R, n, p=rel_p)
        target_cluster = targets[r, cluster[h], rng.integers(0, 2, n)]
        t = np.empty(n, dtype=np.int64)
        for c in np.unique(target_cluster):
            sel = np.flatnonzero(target_cluster == c)
            t[sel] = rng.choice(members[c], len(sel), p=member_p[c]) if len(members[c]) else rng.integers(0, E, len(sel))
        mirrored = is_symmetric[r]
        # The symmetric facts' second direction (kept next to the first).
        h, r, t = (np.concatenate([a, b[mirrored]]) for a, b in ((h, t), (r, r), (t, h)))
        # Mixed in before the cut below, which would otherwise drop the mirrored half.
        order = rng.permutation(len(h))
        h, r, t = h[order], r[order], t[order]
        keys = (h * R + r) * E + t
        fresh = []
        for i, key in enumerate(keys.tolist()):
            if h[i] != t[i] and key not in seen:
                seen.add(key)
                fresh.append(i)
        out = np.concatenate([out, np.stack([h[fresh], r[fresh], t[fresh]], 1)])[:total]
    rng.shuffle(out)
    train = out[: shape.train]
    held = out[shape.train:]
    # Held-out triples must use entities and relations that training has.
    known_e = np.zeros(E, dtype=bool)
    known_e[train[:, 0]] = known_e[train[:, 2]] = True
    known_r = np.zeros(R, dtype=bool)
    known_r[train[:, 1]] = True
    held = held[known_e[held[:, 0]] & known_e[held[:, 2]] & known_r[held[:, 1]]]
    return train, held[: shape.valid], held[shape.valid: shape.valid + shape.test]


def write_ntriples(path: Path, triples: np.ndarray) -> None:
    """``triples`` as N-Triples with IRIs ``BASE e<i>`` and ``BASE r<j>``."""
    with open(path, "w", encoding="ascii") as fh:
        for chunk in np.array_split(triples, max(1, len(triples) // 100_000)):
            fh.write("".join(f"<{BASE}e{h}> <{BASE}r{r}> <{BASE}e{t}> .\n" for h, r, t in chunk.tolist()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shape", choices=[*SHAPES, "custom"])
    ap.add_argument("out", type=Path)
    ap.add_argument("--entities", type=int)
    ap.add_argument("--triples", type=int, help="training triples")
    ap.add_argument("--relations", type=int)
    ap.add_argument("--held-out", type=int, default=5000, help="valid and test triples each (custom)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.shape == "custom":
        if not (args.entities and args.triples and args.relations):
            ap.error("custom needs --entities, --triples and --relations")
        shape = Shape(args.entities, args.triples, args.relations, args.held_out, args.held_out)
    else:
        shape = SHAPES[args.shape]
    t0 = time.perf_counter()
    train, valid, test = generate(shape, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", train), ("valid", valid), ("test", test)):
        write_ntriples(args.out / f"{name}.nt", part)
    degree = np.bincount(np.concatenate([train[:, 0], train[:, 2]]), minlength=shape.entities)
    facts = {"shape": args.shape, **asdict(shape), "seed": args.seed,
             "train_written": len(train), "valid_written": len(valid), "test_written": len(test),
             "entities_in_train": int((degree > 0).sum()), "max_degree": int(degree.max()),
             "median_degree": float(np.median(degree[degree > 0])), "seconds": round(time.perf_counter() - t0, 1)}
    (args.out / "shape.json").write_text(json.dumps(facts, indent=2) + "\n")
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
