"""Benchmark: link prediction at the sizes of the field's benchmarks, beside PyKEEN.

For each shape (bench/kg_shapes.py writes the graphs: WN18RR's and FB15k-237's sizes,
power-law degrees) this runs, back to back on the same files:

1. ``rdf2mm train train.nt --task link-prediction --train/--valid/--test ... --json``
   with the defaults (DistMult decoder, negatives chosen by size) to early stopping, as
   a whole process: wall and CPU seconds, peak memory (the process's own high-water
   mark), epochs run, seconds per training epoch, filtered test MRR;
2. PyKEEN's sLCWA DistMult on the same training file (``--pykeen-python``: the python of
   a separate virtualenv with PyKEEN, see bench/peers/pykeen_lp.py) with the same
   embedding size, batch size, negatives and threads, for ``--peer-epochs`` epochs:
   seconds per epoch (the median after the first), and the ratio to rdf2mm's.

``--million`` adds MR-GCN link prediction on a generated graph of 10^6 entities and
1.5·10^6 training triples: one epoch in mini-batches (``--batching mini --fanout 5
--negatives 4 --batch-size 8192``), time and memory, evaluation included.

    .venv/bin/python bench/bench_lp_scale.py --work /tmp/lp-scale --pykeen-python /tmp/pykeen-venv/bin/python
        [--shapes wn18rr,fb15k237] [--million] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run(cmd: list[str], env: dict[str, str] | None = None, timeout: float | None = None) -> dict[str, Any]:
    """Run ``cmd`` as a child: its rc, stdout, stderr's end and wall seconds (CPU seconds and
    peak RSS come from GNU time, see :func:`rusage_wrapped`)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    wall = time.perf_counter() - t0
    return {"rc": proc.returncode, "stdout": out, "stderr": err[-2000:], "wall_s": round(wall, 1)}


def rusage_wrapped(cmd: list[str]) -> list[str]:
    """``cmd`` under GNU time, which prints the child's own peak RSS and CPU seconds."""
    return ["/usr/bin/time", "-f", "TIME %e %U %S %M", *cmd]


def parse_time(stderr: str) -> dict[str, float]:
    for line in reversed(stderr.splitlines()):
        if line.startswith("TIME "):
            wall, user, sys_, rss = line.split()[1:5]
            return {"wall_s": float(wall), "user_s": float(user), "sys_s": float(sys_),
                    "peak_rss_mib": round(int(rss) / 1024, 1)}
    return {}


def ensure_shape(name: str, work: Path, extra: list[str] | None = None) -> Path:
    folder = work / name
    if not (folder / "shape.json").exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "kg_shapes.py"),
                        "custom" if extra else name, str(folder), *(extra or [])], check=True)
    return folder


def rdf2mm_train(folder: Path, threads: int, extra: list[str], timeout: float,
                 files: tuple[Path, Path, Path] | None = None, run_dir: Path | None = None) -> dict[str, Any]:
    """One ``rdf2mm train --task link-prediction`` process on ``folder``'s train/valid/test.nt
    (or the given ``files``): its figures, time and memory."""
    run_dir = run_dir or folder.parent / f"run-{folder.name}"
    train, valid, test = files or (folder / "train.nt", folder / "valid.nt", folder / "test.nt")
    cmd = [sys.executable, "-m", "rdf2mm", "-q", "train", str(train), "--task", "link-prediction",
           "--train", str(train), "--valid", str(valid), "--test", str(test),
           "--device", "cpu", "--json", "--no-cache", "--threads", str(threads), "--out", str(run_dir), "--force",
           *extra]
    res = run(rusage_wrapped(cmd), env={"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}, timeout=timeout)
    figures: dict[str, Any] = {"command": " ".join(cmd[2:]), "rc": res["rc"], **parse_time(res["stderr"])}
    if res["rc"] == 0:
        metrics = json.loads(res["stdout"])
        per_seed = (json.loads((run_dir / "metrics.json").read_text()).get("per_seed") or [{}])[0]
        figures.update({k: metrics.get(k) for k in ("test_mrr", "test_hits@10", "valid_mrr", "seconds_per_epoch",
                                                     "batching", "threads")})
        figures.update({k: per_seed.get(k) for k in ("epochs_run", "best_epoch", "stopped", "train_seconds",
                                                     "eval_seconds", "negatives")})
    else:
        figures["error"] = res["stderr"][-600:]
    return figures


def pykeen_epochs(python: str, folder: Path, threads: int, epochs: int, timeout: float) -> dict[str, Any]:
    cmd = [python, str(ROOT / "bench" / "peers" / "pykeen_lp.py"), str(folder / "train.nt"), "--model", "DistMult",
           "--dim", "64", "--negatives", "16", "--batch-size", "4096", "--lr", "0.01", "--epochs", str(epochs),
           "--threads", str(threads)]
    res = run(cmd, timeout=timeout)
    if res["rc"] != 0:
        return {"rc": res["rc"], "error": res["stderr"][-600:]}
    out = json.loads(res["stdout"].strip().splitlines()[-1])
    later = out["epoch_seconds"][1:] or out["epoch_seconds"]
    out["seconds_per_epoch"] = sorted(later)[len(later) // 2]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/rdf2mm-lp-scale"))
    ap.add_argument("--shapes", default="wn18rr,fb15k237")
    ap.add_argument("--pykeen-python", help="python of a virtualenv with PyKEEN 1.11 (skipped when not given)")
    ap.add_argument("--peer-epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--million", action="store_true", help="also one mini-batch epoch on 10^6 entities")
    ap.add_argument("--epochs", type=int, help="cap rdf2mm's epochs (default: train to early stopping)")
    ap.add_argument("--timeout", type=float, default=1500, help="seconds per rdf2mm run")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in [s for s in args.shapes.split(",") if s]:
        folder = ensure_shape(name, args.work)
        shape = json.loads((folder / "shape.json").read_text())
        ours = rdf2mm_train(folder, args.threads, ["--epochs", str(args.epochs)] if args.epochs else [], args.timeout)
        row: dict[str, Any] = {"shape": name, "entities": shape["entities"], "train": shape["train"],
                               "relations": shape["relations"], "rdf2mm": ours}
        if args.pykeen_python:
            peer = pykeen_epochs(args.pykeen_python, folder, args.threads, args.peer_epochs, args.timeout)
            row["pykeen"] = peer
            if ours.get("seconds_per_epoch") and peer.get("seconds_per_epoch"):
                row["epoch_ratio_pykeen_over_rdf2mm"] = round(peer["seconds_per_epoch"] / ours["seconds_per_epoch"], 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.million:
        folder = ensure_shape("million", args.work, ["--entities", "1000000", "--triples", "1500000",
                                                     "--relations", "50", "--held-out", "1000"])
        ours = rdf2mm_train(folder, args.threads, ["--batching", "mini", "--epochs", "1", "--fanout", "5",
                                                   "--negatives", "4", "--batch-size", "8192"], args.timeout)
        row = {"shape": "million", "entities": 1_000_000, "train": 1_500_000, "relations": 50, "rdf2mm": ours}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| graph | entities | train triples | relations | negatives | epochs (stop) | s/epoch | PyKEEN s/epoch | ratio | wall s | peak MiB | test MRR |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        o, p = r["rdf2mm"], r.get("pykeen", {})
        print(f"| {r['shape']} | {r['entities']:,} | {r['train']:,} | {r['relations']} | {o.get('negatives')} | "
              f"{o.get('epochs_run')} ({o.get('stopped')}) | {o.get('seconds_per_epoch') or float('nan'):.2f} | "
              f"{p.get('seconds_per_epoch', float('nan')):.2f} | {r.get('epoch_ratio_pykeen_over_rdf2mm', '')} | "
              f"{o.get('wall_s')} | {o.get('peak_rss_mib')} | {o.get('test_mrr') or float('nan'):.4f} |")


if __name__ == "__main__":
    main()
