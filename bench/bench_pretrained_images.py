"""Frozen pretrained image features against the from-scratch CNN, with few labels.

The graph: ``rdf2mm generate --triples 11100 --classes 4 --modalities visual
--image-style shapes --image-size 16`` (about 1,800 items whose only literal is a 16 x 16
image of a disk, square, triangle or cross; colour, position, size and area do not
depend on the class, and the structure carries no label), as in ``bench_images.py``.

1. ``few-labels``: 50 training labels (drawn stratified from the generated training
   split, 12-13 per class; validation and test stay the generated 360 each), MR-GCN
   with ``--image-encoder mobilenet`` and with ``--image-encoder pretrained``, the same
   seeds (``--seeds N``, default 3).
2. ``all-labels`` (issue 19's "about 1,800 small images ... 2 seeds, under 120 s"): every
   generated training label, ``--image-encoder pretrained``, 2 seeds.

Each training is one whole ``rdf2mm train`` process, timed from start to exit; the
pretrained runs start with an empty feature cache (a fresh ``RDF2MM_CACHE``), so their
time includes computing every image's features once. Printed: test accuracy mean ± std
over the seeds, per-seed accuracies, wall and CPU seconds.

    flock /work/wt/train.lock .venv/bin/python bench/bench_pretrained_images.py
    .venv/bin/python bench/bench_pretrained_images.py --only few-labels --seeds 2
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATE = ["--triples", "11100", "--classes", "4", "--modalities", "visual", "--image-style", "shapes",
            "--image-size", "16", "--seed", "1"]


def rdf2mm(args: list[str], cache: Path) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run one rdf2mm process; returns it, its wall seconds and its CPU seconds (user + system)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore",
           "RDF2MM_CACHE": str(cache)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "rdf2mm", *args], capture_output=True, text=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode:
        raise SystemExit(f"rdf2mm {' '.join(args[:2])} failed: {done.stderr[-2000:]}")
    return done, wall, cpu


def few_labels(train_file: Path, out: Path, count: int, seed: int = 0) -> None:
    """Write ``count`` labels of ``train_file``, stratified by class, to ``out``."""
    by_class: dict[str, list[str]] = defaultdict(list)
    for line in train_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            by_class[line.split()[2]].append(line)
    rng = random.Random(seed)
    classes = sorted(by_class)
    kept: list[str] = []
    for i, c in enumerate(classes):
        kept += rng.sample(by_class[c], count // len(classes) + (1 if i < count % len(classes) else 0))
    out.write_text("\n".join(kept) + "\n", encoding="utf-8")


def train(data: Path, train_file: Path, encoder: str, seeds: int, work: Path, tag: str) -> dict:
    cache = work / f"cache-{tag}"  # fresh: the pretrained features are computed in the timed run
    run = work / f"run-{tag}"
    args = ["train", str(data / "graph.nt"), "--train", str(train_file), "--valid", str(data / "labels/valid.nt"),
            "--test", str(data / "labels/test.nt"), "--image-encoder", encoder, "--seeds", str(seeds),
            "--json", "--out", str(run)]
    done, wall, cpu = rdf2mm(args, cache)
    metrics = json.loads(done.stdout)
    per_seed = json.loads((run / "metrics.json").read_text())["per_seed"]
    return {"encoder": encoder, "accuracy": metrics["test_accuracy"], "std": metrics["test_accuracy_std"],
            "per_seed": [round(s["test_accuracy"], 3) for s in per_seed],
            "epochs": [s["epochs_run"] for s in per_seed], "wall": wall, "cpu": cpu}


def show(name: str, r: dict) -> None:
    print(f"  {name:<28} test accuracy {r['accuracy']:.3f} ± {r['std']:.3f}  (per seed {r['per_seed']}, "
          f"epochs {r['epochs']})  {r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="few-labels,all-labels", help="comma list: few-labels, all-labels")
    ap.add_argument("--seeds", type=int, default=3, help="seeds of the few-labels comparison (default 3)")
    ap.add_argument("--labels", type=int, default=50, help="training labels of the few-labels comparison")
    args = ap.parse_args()
    cases = [c.strip() for c in args.only.split(",") if c.strip()]
    print(f"# bench_pretrained_images: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-pretrained-") as tmp:
        work = Path(tmp)
        data = work / "shapes"
        _, wall, _ = rdf2mm(["--quiet", "generate", str(data), *GENERATE], work / "cache-generate")
        counts = json.loads((data / "manifest.json").read_text())["counts"]
        print(f"graph: rdf2mm generate {' '.join(GENERATE)}: {counts['triples']:,} triples, "
              f"{counts['images']:,} images, labels train {counts['labels']['train']} / valid "
              f"{counts['labels']['valid']} / test {counts['labels']['test']} ({wall:.1f} s)")
        if "few-labels" in cases:
            subset = data / "labels" / f"train-{args.labels}.nt"
            few_labels(data / "labels/train.nt", subset, args.labels)
            print(f"few-labels: {args.labels} training labels, --seeds {args.seeds}, defaults otherwise")
            for encoder in ("mobilenet", "pretrained"):
                show(f"--image-encoder {encoder}", train(data, subset, encoder, args.seeds, work, f"few-{encoder}"))
        if "all-labels" in cases:
            print("all-labels: every training label, --seeds 2, cold feature cache")
            show("--image-encoder pretrained", train(data, data / "labels/train.nt", "pretrained", 2, work, "all"))


if __name__ == "__main__":
    main()
