"""PyKEEN's side of bench/bench_lp_scale.py: seconds per epoch of sLCWA training on given files.

Runs in PyKEEN's own virtualenv (never a dependency of rdf2mm):

    python3.11 -m venv /tmp/pykeen-venv
    /tmp/pykeen-venv/bin/pip install -c constraints/torch-cpu.txt "pykeen==1.11.*"
    /tmp/pykeen-venv/bin/python bench/peers/pykeen_lp.py train.nt --model DistMult --dim 64 \
        --negatives 16 --batch-size 4096 --epochs 3 --threads 2

Reads N-Triples of IRIs only (what bench/kg_shapes.py writes), prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import torch


def read_ntriples(path: str) -> np.ndarray:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 3:
                rows.append((parts[0].strip("<>"), parts[1].strip("<>"), parts[2].strip("<>")))
    return np.asarray(rows, dtype=str)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("train")
    ap.add_argument("--model", default="DistMult")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--negatives", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=4096)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from pykeen.models import model_resolver
    from pykeen.training import SLCWATrainingLoop
    from pykeen.triples import TriplesFactory
    from pykeen.version import get_version

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    tf = TriplesFactory.from_labeled_triples(read_ntriples(args.train))
    load_s = time.perf_counter() - t0
    model = model_resolver.make(args.model, triples_factory=tf, embedding_dim=args.dim, random_seed=args.seed)
    loop = SLCWATrainingLoop(
        model=model, triples_factory=tf, optimizer=torch.optim.Adam(model.parameters(), lr=args.lr),
        negative_sampler="basic", negative_sampler_kwargs={"num_negs_per_pos": args.negatives},
    )
    epochs = []
    for _ in range(args.epochs):
        t = time.perf_counter()
        # num_epochs counts from the start when continuing
        losses = loop.train(triples_factory=tf, num_epochs=len(epochs) + 1, batch_size=args.batch_size, use_tqdm=False,
                            continue_training=bool(epochs))  # one epoch per call, timed
        epochs.append(time.perf_counter() - t)
    print(json.dumps({
        "peer": f"pykeen {get_version()}", "model": args.model, "training_loop": "sLCWA",
        "entities": tf.num_entities, "relations": tf.num_relations, "triples": tf.num_triples,
        "dim": args.dim, "negatives": args.negatives, "batch_size": args.batch_size, "threads": args.threads,
        "load_seconds": round(load_s, 2), "epoch_seconds": [round(e, 3) for e in epochs],
        "seconds_per_epoch": float(np.median(epochs)), "last_loss": float(losses[-1]) if losses else None,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
