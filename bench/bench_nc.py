"""Node classification: accuracy per modality, epoch time and peak memory.

Runs rdf2mm's MR-GCN on a labelled dataset with structure only, each single modality,
and all modalities, over N seeds, and prints one table: mean ± std test accuracy,
seconds per epoch and peak resident memory. Each configuration runs in its own
subprocess so that peak memory is its own.

    python bench/bench_nc.py                                   # synth-nc from ../shared/data
    python bench/bench_nc.py --data ../shared/data/aifbplus --graph aifbplus.nt.gz --seeds 5
    python bench/bench_nc.py --only all --seeds 1 --threads 2 --repeat 3  # epoch time, best of 3
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
MODALITIES = ["numeric", "temporal", "textual", "visual", "spatial", "boolean"]

CHILD = r"""
import json, resource, sys, time, torch
torch.set_num_threads(int(sys.argv[2]))
from rdf2mm.config import TrainConfig
from rdf2mm.pipeline import train
cfg = TrainConfig(**json.loads(sys.argv[1]))
t = time.perf_counter()
r = train(cfg)
wall = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps({"metrics": r.metrics, "per_seed": r.per_seed, "wall": wall, "peak_mb": rss}))
"""


def run(settings: dict, threads: int) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(settings), str(threads)],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"run failed: {proc.stderr[-2000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "synth-nc"))
    ap.add_argument("--graph", default="context.nt.gz")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", default=None, help="comma list of configs: none, all, or modality names")
    ap.add_argument("--set", default="{}", help="extra TrainConfig settings as JSON")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each config N times and report the fastest s/epoch (and every run's, on stderr)")
    args = ap.parse_args()
    data = Path(args.data)
    base = {
        "graph": [str(data / args.graph)],
        "train": str(data / "train.nt.gz"),
        "valid": str(data / "valid.nt.gz"),
        "test": str(data / "test.nt.gz"),
        "seeds": args.seeds,
        "device": "cpu",
        **json.loads(args.set),
    }
    configs = ["none", *MODALITIES, "all"] if not args.only else args.only.split(",")
    print(f"# {data.name}: torch {torch.__version__}, {args.threads} thread(s), {platform.processor() or platform.machine()}, "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"{'modalities':<10} {'test acc':>15} {'valid acc':>10} {'s/epoch':>8} {'epochs':>7} {'peak MB':>8}")
    for name in configs:
        runs = [run({**base, "modalities": name}, args.threads) for _ in range(max(1, args.repeat))]
        if len(runs) > 1:
            print(f"# {name}: s/epoch of each run: "
                  + ", ".join(f"{r['metrics']['seconds_per_epoch']:.3f}" for r in runs), file=sys.stderr)
        res = min(runs, key=lambda r: r["metrics"]["seconds_per_epoch"])
        m = res["metrics"]
        epochs = sum(p["epochs_run"] for p in res["per_seed"]) / len(res["per_seed"])
        print(f"{name:<10} {m['test_accuracy']:>8.3f} ± {m['test_accuracy_std']:.3f} {m['valid_accuracy']:>10.3f} "
              f"{m['seconds_per_epoch']:>8.3f} {epochs:>7.0f} {res['peak_mb']:>8.0f}", flush=True)


if __name__ == "__main__":
    main()
