"""Images at the cost they need: the README quick tour and a 1,800-small-image graph, as
whole ``rdf2mm train`` processes.

1. The README quick tour: ``rdf2mm generate out/synth --triples 5000 --signal
   temporal,visual --seed 1`` then ``rdf2mm train ... --seeds 3 --json`` with the default
   epochs and aggregation.
2. A generated graph of about 1,800 16x16 images whose class (4 kinds of shape) is only
   in the image content (``--modalities visual --image-style shapes``), 2 seeds.

Each is timed as one process from start to exit (Python and torch start-up, reading,
encoding, training every seed and candidate, writing the run). Printed per case: wall
seconds, then per seed the epochs run, why it stopped and the test accuracy.

    python bench/bench_images.py                        # both cases
    python bench/bench_images.py --only shapes --set "--encoder-refresh 1"   # the plain scheme
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    "quick-tour": (["--triples", "5000", "--signal", "temporal,visual", "--seed", "1"], ["--seeds", "3"]),
    "shapes": (["--triples", "11100", "--classes", "4", "--modalities", "visual", "--image-style", "shapes",
                "--image-size", "16", "--seed", "1"], ["--seeds", "2"]),
}


def rdf2mm(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "rdf2mm", *args], capture_output=True, text=True, cwd=ROOT, env=env)


def run_case(name: str, work: Path, extra: list[str]) -> None:
    gen, train = CASES[name]
    data = work / name
    done = rdf2mm("--quiet", "generate", str(data), *gen)
    if done.returncode:
        raise SystemExit(f"{name}: generate failed: {done.stderr[-2000:]}")
    manifest = json.loads((data / "manifest.json").read_text())
    out = work / f"run-{name}"
    cmd = ["train", str(data / "graph.nt"), "--train", str(data / "labels/train.nt"), "--valid",
           str(data / "labels/valid.nt"), "--test", str(data / "labels/test.nt"), *train, "--json",
           "--out", str(out), *extra]
    t = time.perf_counter()
    done = rdf2mm(*cmd)
    wall = time.perf_counter() - t
    if done.returncode:
        raise SystemExit(f"{name}: train failed: {done.stderr[-2000:]}")
    metrics = json.loads(done.stdout)
    per_seed = json.loads((out / "metrics.json").read_text())["per_seed"]
    print(f"{name}: {manifest['counts']['triples']:,} triples, {manifest['counts']['images']:,} images; "
          f"rdf2mm generate {' '.join(gen)}; rdf2mm train (labels) {' '.join(train + extra)} --json")
    print(f"  wall {wall:.1f} s; test accuracy {metrics['test_accuracy']:.3f} ± {metrics['test_accuracy_std']:.3f}; "
          f"aggregation {metrics.get('aggregation')}; {metrics['seconds_per_epoch']:.3f} s/epoch")
    for i, s in enumerate(per_seed):
        print(f"  seed {s.get('seed', i)}: {s['epochs_run']} epochs (best {s['best_epoch']}), stopped: "
              f"{s.get('stopped', '?')}, test accuracy {s['test_accuracy']:.3f}, train {s['train_seconds']:.1f} s, "
              f"eval {s['eval_seconds']:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=None, help=f"comma list of cases: {', '.join(CASES)}")
    ap.add_argument("--set", default="", help="extra rdf2mm train options, e.g. \"--encoder-refresh 1\"")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(CASES)
    print(f"# bench_images: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        for name in names:
            run_case(name, Path(tmp), shlex.split(args.set))


if __name__ == "__main__":
    main()
