"""Benchmark: filtered link-prediction evaluation on a graph with 10^5 entities.

Random embeddings are enough here: ranking cost does not depend on what was learned.
Ranks 10^4 test triples both ways (2 x 10^4 queries) against every entity with a
DistMult decoder, filtering against 10^6 known triples, at a few memory budgets, and
prints time, queries per second and peak memory (process RSS high-water mark, and
its growth during evaluation).

    .venv/bin/python bench/bench_lp_eval.py [--entities 100000] [--relations 50]
        [--test 10000] [--known 1000000] [--dim 200] [--budgets 128,512] [--device cpu]
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rdf2mm.models.decoders import make_decoder  # noqa: E402
from rdf2mm.tasks.link_prediction import FilterIndex, rank_with_embeddings  # noqa: E402


def rss_mib() -> float:
    """Current resident set size, MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entities", type=int, default=100_000)
    ap.add_argument("--relations", type=int, default=50)
    ap.add_argument("--test", type=int, default=10_000)
    ap.add_argument("--known", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=200)
    ap.add_argument("--budgets", default="128,512", help="score-block memory budgets, MiB")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    device = torch.device(args.device)
    rng = np.random.default_rng(args.seed)
    E, R = args.entities, args.relations
    t0 = time.perf_counter()
    known = np.stack([rng.integers(0, E, args.known), rng.integers(0, R, args.known), rng.integers(0, E, args.known)], 1)
    test = known[rng.choice(len(known), args.test, replace=False)]
    index = FilterIndex.build(known, R)
    build_s = time.perf_counter() - t0
    torch.manual_seed(args.seed)
    emb = torch.randn(E, args.dim, device=device)
    decoder = make_decoder("distmult", R, args.dim).to(device)
    print(f"entities={E:,} relations={R} test triples={args.test:,} (queries={2 * args.test:,}) "
          f"known triples={args.known:,} dim={args.dim} device={device} threads={torch.get_num_threads()}")
    print(f"filter index build: {build_s:.2f} s; RSS before evaluation {rss_mib():.0f} MiB")
    print()
    header = f"{'budget MiB':>10} | {'eval s':>8} | {'queries/s':>10} | {'peak RSS MiB':>12} | {'RSS growth MiB':>14} | {'filtered MRR':>12}"
    print(header)
    print("-" * len(header))
    for budget in [int(b) for b in args.budgets.split(",")]:
        base = rss_mib()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        t = time.perf_counter()
        with torch.no_grad():
            ranks = rank_with_embeddings(emb, decoder, test, index, budget * 2**20)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        secs = time.perf_counter() - t
        peak = peak_rss_mib()
        extra = f" (GPU peak {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB)" if device.type == "cuda" else ""
        m = ranks.metrics()
        print(f"{budget:>10} | {secs:>8.2f} | {2 * args.test / secs:>10.0f} | {peak:>12.0f} | "
              f"{max(peak - base, 0):>14.0f} | {m['mrr']:>12.5f}{extra}")
    # Random scores: the filtered MRR must sit near the random baseline H_n / n.
    print(f"\nexpected MRR of random scores ~ {np.log(E) / E:.5f} (H_n/n, n={E:,})")


if __name__ == "__main__":
    main()
