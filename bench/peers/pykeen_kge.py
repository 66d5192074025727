"""Benchmark: rdf2mm's plain KGE baselines beside PyKEEN 1.11 on UMLS and Kinships.

For every dataset (the shared ``umls/`` and ``kinships/`` ``{train,valid,test}.nt.gz``)
and model (DistMult, ComplEx, RotatE), back to back on the same files:

1. ``rdf2mm train train.nt.gz --task link-prediction --model M --train/--valid/--test
   ... --embed-dim D --negatives K --batch-size B --lr LR --epochs N --patience N
   --eval-every N --seeds 1 --json``: validation only at the last epoch, so the test MRR
   is the last weights' as PyKEEN's is (no best-epoch selection on either side);
2. PyKEEN's sLCWA (bench/peers/pykeen_lp.py, in PyKEEN's own virtualenv) with the same
   setup: ``BCEWithLogitsLoss`` on ``K`` uniform head-or-tail corruptions per positive
   (rdf2mm's sampled-negatives loss, :mod:`rdf2mm.tasks.lp_losses`), Adam at the same
   learning rate, the same batch size and epochs, gradient clipping at rdf2mm's 1.0,
   the same threads; the same number of real parameters per entity (PyKEEN's ComplEx
   and RotatE ``embedding_dim`` counts complex numbers: ``D / 2``); ``--no-regularizer``
   by default (rdf2mm's plain models have none; ``--pykeen-regularizer`` keeps PyKEEN's
   model defaults); PyKEEN's own filtered evaluation (realistic rank, both sides,
   filtered by train, valid and test, as rdf2mm's).

Reported: filtered test MRR of both and the difference, seconds per training epoch of
both (rdf2mm's ``train_seconds / epochs``, evaluation excluded; PyKEEN's total training
time of one ``train()`` call / epochs) and the ratio PyKEEN / rdf2mm (> 1: rdf2mm faster).
The issue's bar: rdf2mm's MRR at least PyKEEN's - 0.02, and its seconds per epoch no more
than PyKEEN's. Timings only mean something on an otherwise idle machine.

    .venv/bin/python bench/peers/pykeen_kge.py --datasets umls,kinships --models distmult,complex,rotate \\
        --epochs 200 [--dim 64 --negatives 16 --batch-size 4096 --lr 0.01 --threads 2]
        [--pykeen-python /work/pykeen-venv/bin/python] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.bench_lp_scale import rdf2mm_train, run  # noqa: E402 - after the path is set

DATA = Path("/work/shared/data")
#: rdf2mm model name -> PyKEEN model name, and whether PyKEEN's embedding_dim counts complex numbers
PYKEEN_MODELS = {"distmult": ("DistMult", False), "complex": ("ComplEx", True), "rotate": ("RotatE", True)}


def dataset_files(data: Path, name: str) -> tuple[Path, Path, Path]:
    folder = data / name
    files = tuple(folder / f"{s}.nt.gz" for s in ("train", "valid", "test"))
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise SystemExit(f"missing dataset files: {', '.join(missing)}")
    return files  # type: ignore[return-value]


def ours(files: tuple[Path, Path, Path], model: str, args: argparse.Namespace, run_dir: Path) -> dict[str, Any]:
    extra = ["--model", model, "--embed-dim", str(args.dim), "--negatives", str(args.negatives),
             "--batch-size", str(args.batch_size), "--lr", str(args.lr), "--epochs", str(args.epochs),
             "--patience", str(args.epochs), "--eval-every", str(args.epochs), "--seeds", "1",
             "--seed", str(args.seed)]
    return rdf2mm_train(files[0].parent, args.threads, extra, args.timeout, files=files, run_dir=run_dir)


def peer(files: tuple[Path, Path, Path], model: str, args: argparse.Namespace) -> dict[str, Any]:
    name, complex_dim = PYKEEN_MODELS[model]
    cmd = [args.pykeen_python, str(ROOT / "bench" / "peers" / "pykeen_lp.py"), str(files[0]),
           "--valid", str(files[1]), "--test", str(files[2]), "--model", name,
           "--dim", str(args.dim // 2 if complex_dim else args.dim), "--negatives", str(args.negatives),
           "--batch-size", str(args.batch_size), "--lr", str(args.lr), "--epochs", str(args.epochs),
           "--threads", str(args.threads), "--seed", str(args.seed), "--loss", "BCEWithLogits",
           "--clip", "1.0", "--one-call", *([] if args.pykeen_regularizer else ["--no-regularizer"])]
    res = run(cmd, timeout=args.timeout)
    if res["rc"] != 0:
        return {"rc": res["rc"], "error": res["stderr"][-800:], "command": " ".join(cmd)}
    out = json.loads(res["stdout"].strip().splitlines()[-1])
    out["command"] = " ".join(cmd)
    return out


def compare(o: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    """The differences the issue's bar reads: MRR (ours - PyKEEN's) and epoch time ratio."""
    row: dict[str, Any] = {}
    if o.get("test_mrr") is not None and p.get("test_mrr") is not None:
        row["mrr_diff"] = round(o["test_mrr"] - p["test_mrr"], 4)
        row["mrr_ok"] = row["mrr_diff"] >= -0.02
    if o.get("seconds_per_epoch") and p.get("seconds_per_epoch"):
        row["epoch_ratio_pykeen_over_rdf2mm"] = round(p["seconds_per_epoch"] / o["seconds_per_epoch"], 2)
        row["time_ok"] = o["seconds_per_epoch"] <= p["seconds_per_epoch"]
    return row


def table(rows: list[dict[str, Any]]) -> str:
    nan = float("nan")
    lines = ["| dataset | model | rdf2mm MRR | PyKEEN MRR | diff | rdf2mm s/epoch | PyKEEN s/epoch | ratio | bar |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        o, p = r["rdf2mm"], r["pykeen"]
        ok = "yes" if r.get("mrr_ok") and r.get("time_ok") else ("no" if "mrr_ok" in r else "n/a")
        lines.append(
            f"| {r['dataset']} | {r['model']} | {o.get('test_mrr') or nan:.4f} | {p.get('test_mrr') or nan:.4f} | "
            f"{r.get('mrr_diff', nan):+.4f} | {o.get('seconds_per_epoch') or nan:.3f} | "
            f"{p.get('seconds_per_epoch') or nan:.3f} | {r.get('epoch_ratio_pykeen_over_rdf2mm', '')} | {ok} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="umls,kinships")
    ap.add_argument("--models", default="distmult,complex,rotate")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--dim", type=int, default=64, help="real numbers per entity embedding (both tools)")
    ap.add_argument("--negatives", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=4096)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--work", type=Path, default=Path("/tmp/rdf2mm-pykeen-kge"))
    ap.add_argument("--pykeen-python", default="/work/pykeen-venv/bin/python")
    ap.add_argument("--pykeen-regularizer", action="store_true", help="keep PyKEEN's default model regularisers")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    ap.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = ap.parse_args()
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in PYKEEN_MODELS]
    if unknown:
        ap.error(f"unknown model {', '.join(unknown)}; choose from {', '.join(PYKEEN_MODELS)}")
    if args.dim % 2:
        ap.error("--dim must be even (ComplEx and RotatE split it into real and imaginary halves)")
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in [d for d in args.datasets.split(",") if d]:
        files = dataset_files(args.data, name)
        for model in models:
            o = ours(files, model, args, args.work / f"run-{name}-{model}")
            p = peer(files, model, args)
            row = {"dataset": name, "model": model, "epochs": args.epochs, "dim": args.dim,
                   "negatives": args.negatives, "batch_size": args.batch_size, "lr": args.lr,
                   "threads": args.threads, "rdf2mm": o, "pykeen": p, **compare(o, p)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
