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

PyKEEN's setups (``--pykeen-setups``, each a row): ``default`` keeps PyKEEN 1.11's model
defaults; ``matched`` also drops DistMult's unit-norm ``entity_constrainer`` and draws the
entity and relation tables as rdf2mm does (``pykeen_lp.py --entity-constrainer none
--init rdf2mm``), the two settings that explain the DistMult/ComplEx gap (RESULTS.md);
``unconstrained`` (constrainer only) and ``rdf2mm-init`` (initialisation only) separate
the two, for DistMult only (the others have no entity constrainer, so there they would
repeat ``default`` and ``matched`` and are skipped).

``--cross-check`` also ranks the same scores with both evaluators: the rdf2mm model's
test score rows (recomputed from its run directory) by rdf2mm's ``rank_triples`` and by
PyKEEN's ``RankBasedEvaluator`` (``pykeen_lp.py --rank-scores``), once as they are and once
rounded to 1 decimal (many ties), and each PyKEEN model's score rows
(``pykeen_lp.py --dump-scores``) by rdf2mm's ranking beside PyKEEN's own ranks. The
largest per-triple rank difference is reported (0: the evaluators agree), with the
number of test triples each side ranked and whether they are the same triples.

Reported: filtered test MRR of both and the difference, seconds per training epoch of
both (rdf2mm's ``train_seconds / epochs``, evaluation excluded; PyKEEN's total training
time of one ``train()`` call / epochs) and the ratio PyKEEN / rdf2mm (> 1: rdf2mm faster).
The issue's bar: rdf2mm's MRR at least PyKEEN's - 0.02, and its seconds per epoch no more
than PyKEEN's. Timings only mean something on an otherwise idle machine.

    .venv/bin/python bench/peers/pykeen_kge.py --datasets umls,kinships --models distmult,complex,rotate \\
        --epochs 200 [--dim 64 --negatives 16 --batch-size 4096 --lr 0.01 --threads 2]
        [--pykeen-setups default,unconstrained,rdf2mm-init,matched] [--cross-check]
        [--pykeen-python /work/pykeen-venv/bin/python] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.bench_lp_scale import rdf2mm_train, run  # noqa: E402 - after the path is set
from bench.peers.pykeen_lp import read_ntriples  # noqa: E402 - after the path is set

DATA = Path("/work/shared/data")
#: rdf2mm model name -> PyKEEN model name, and whether PyKEEN's embedding_dim counts complex numbers
PYKEEN_MODELS = {"distmult": ("DistMult", False), "complex": ("ComplEx", True), "rotate": ("RotatE", True)}
#: PyKEEN setup name -> pykeen_lp.py flags (see the docstring)
PYKEEN_SETUPS = {"default": [], "unconstrained": ["--entity-constrainer", "none"], "rdf2mm-init": ["--init", "rdf2mm"],
                 "matched": ["--entity-constrainer", "none", "--init", "rdf2mm"]}
#: the setups that differ from "default" / "matched" only for a model with an entity
#: constrainer (PyKEEN 1.11's DistMult; ComplEx and RotatE have none)
CONSTRAINER_SETUPS, CONSTRAINED_MODELS = {"unconstrained", "rdf2mm-init"}, {"distmult"}


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


def peer(files: tuple[Path, Path, Path], model: str, args: argparse.Namespace, setup: str = "default",
         dump: Path | None = None) -> dict[str, Any]:
    name, complex_dim = PYKEEN_MODELS[model]
    flags = PYKEEN_SETUPS[setup]
    cmd = [args.pykeen_python, str(ROOT / "bench" / "peers" / "pykeen_lp.py"), str(files[0]),
           "--valid", str(files[1]), "--test", str(files[2]), "--model", name,
           "--dim", str(args.dim // 2 if complex_dim else args.dim), "--negatives", str(args.negatives),
           "--batch-size", str(args.batch_size), "--lr", str(args.lr), "--epochs", str(args.epochs),
           "--threads", str(args.threads), "--seed", str(args.seed), "--loss", "BCEWithLogits",
           "--clip", "1.0", "--one-call", *([] if args.pykeen_regularizer else ["--no-regularizer"]), *flags,
           *(["--dump-scores", str(dump)] if dump else [])]
    res = run(cmd, timeout=args.timeout)
    if res["rc"] != 0:
        return {"rc": res["rc"], "error": res["stderr"][-800:], "command": " ".join(cmd)}
    out = json.loads(res["stdout"].strip().splitlines()[-1])
    out["command"] = " ".join(cmd)
    return out


def labelled(path: Path) -> list[tuple[str, str, str]]:
    return [tuple(t) for t in read_ntriples(str(path)).tolist()]


def rdf2mm_ranks(entities: list[str], relations: list[str], files: tuple[Path, Path, Path], triples: np.ndarray,
                 tail_scores: np.ndarray, head_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """rdf2mm's filtered realistic ranks (head, tail) of ``triples`` (ids into ``entities``)
    from their given full score rows (row i: the scores of ``(h_i, r_i, ?)`` / ``(?, r_i, t_i)``),
    by the code rdf2mm evaluates with (:func:`rdf2mm.tasks.evaluation.rank_triples`),
    filtered by the labelled triples of ``files`` (those of entities the id space lacks
    are left out, as PyKEEN drops them)."""
    from rdf2mm.tasks.evaluation import FilterIndex, rank_triples

    e_id, r_id = {e: i for i, e in enumerate(entities)}, {r: i for i, r in enumerate(relations)}
    known = np.asarray([(e_id[h], r_id[r], e_id[t]) for f in files for h, r, t in labelled(f)
                        if h in e_id and t in e_id and r in r_id], dtype=np.int64)
    index = FilterIndex.build(known, len(relations))

    def rows(table: np.ndarray, anchor_col: int) -> Callable[[torch.Tensor, torch.Tensor, int, int], torch.Tensor]:
        # With the default memory budget every query of a direction is one batch (these
        # graphs have a few hundred entities): the scorer hands back the rows as given.
        def score(a: torch.Tensor, r: torch.Tensor, s: int, e: int) -> torch.Tensor:
            assert np.array_equal(a.numpy(), triples[:, anchor_col]) and np.array_equal(r.numpy(), triples[:, 1]), \
                "rank_triples split the queries: raise memory_budget"
            return torch.as_tensor(table[:, s:e])
        return score

    ranks = rank_triples(triples, len(entities), rows(tail_scores, 0), rows(head_scores, 2), index.tails, index.heads)
    return ranks.head, ranks.tail


def rdf2mm_run_scores(run_dir: Path, test: Path) -> dict[str, Any]:
    """The trained rdf2mm model of ``run_dir``: its test triples' full tail and head score
    rows (the decoder's ``score_all_*``, what rdf2mm ranks), the id spaces, and the ranks
    its run wrote (``ranks.tsv``) in the same triple order."""
    from rdf2mm.models.registry import MODELS
    from rdf2mm.runs.read import RunFiles
    from rdf2mm.runs.weights import load_model_state

    state, meta = load_model_state(run_dir)
    model = MODELS.make(meta["model"], meta["num_entities"], meta["num_relations"], state["entity.weight"].shape[1])
    model.load_state_dict(state)
    model.eval()
    run = RunFiles(run_dir)
    entities = [e.strip("<>") for e in run.entities()]
    relations = list(meta["relation_names"])
    e_id, r_id = {e: i for i, e in enumerate(entities)}, {r: i for i, r in enumerate(relations)}
    triples = np.asarray([(e_id[h], r_id[r], e_id[t]) for h, r, t in labelled(test)], dtype=np.int64)
    with torch.no_grad():
        emb, dec = model(), model.decoder
        h, r, t = (torch.as_tensor(triples[:, i]) for i in range(3))
        tail_scores = dec.score_all_tails(emb[h], r, emb).float().numpy()
        head_scores = dec.score_all_heads(emb[t], r, emb).float().numpy()
    written = {(x["head"], x["relation"], x["tail"]): (float(x["head_rank"]), float(x["tail_rank"]))
               for x in run.rows("ranks")}
    run_ranks = np.asarray([written[(entities[a], relations[b], entities[c])] for a, b, c in triples.tolist()])
    return {"entities": entities, "relations": relations, "triples": triples, "tail_scores": tail_scores,
            "head_scores": head_scores, "run_head": run_ranks[:, 0], "run_tail": run_ranks[:, 1],
            "written_triples": len(written)}


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if len(a) else 0.0


def _mrr(head: np.ndarray, tail: np.ndarray) -> float:
    return float(np.mean(1.0 / np.concatenate([head, tail])))


def cross_check_rdf2mm(run_dir: Path, files: tuple[Path, Path, Path], args: argparse.Namespace) -> dict[str, Any]:
    """The rdf2mm model's score rows ranked by rdf2mm and by PyKEEN's evaluator, as they
    are and rounded to 1 decimal (ties everywhere: realistic ranks must still agree)."""
    sc = rdf2mm_run_scores(run_dir, files[2])
    out: dict[str, Any] = {"test_triples_in_file": len(labelled(files[2])), "ranked": len(sc["triples"]),
                           "ranks_tsv_triples": sc["written_triples"]}
    with tempfile.TemporaryDirectory() as tmp:
        for variant, rnd in (("exact", None), ("rounded", 1)):
            tails = sc["tail_scores"] if rnd is None else np.round(sc["tail_scores"], rnd)
            heads = sc["head_scores"] if rnd is None else np.round(sc["head_scores"], rnd)
            ours_h, ours_t = rdf2mm_ranks(sc["entities"], sc["relations"], files, sc["triples"], tails, heads)
            src, dst = Path(tmp) / f"{variant}.npz", Path(tmp) / f"{variant}-ranks.npz"
            np.savez(src, entities=np.asarray(sc["entities"]), relations=np.asarray(sc["relations"]),
                     triples=sc["triples"], tail_scores=tails, head_scores=heads)
            res = run([args.pykeen_python, str(ROOT / "bench" / "peers" / "pykeen_lp.py"), str(files[0]),
                       "--valid", str(files[1]), "--rank-scores", str(src), "--ranks-out", str(dst)],
                      timeout=args.timeout)
            if res["rc"] != 0:
                out[variant] = {"error": res["stderr"][-800:]}
                continue
            pk = np.load(dst)
            same_order = bool(np.array_equal(pk["triples"], sc["triples"]))
            out[variant] = {"rdf2mm_mrr": _mrr(ours_h, ours_t), "pykeen_mrr": float(pk["mrr"]),
                            "max_rank_diff": max(_max_diff(ours_h, pk["head_ranks"]),
                                                 _max_diff(ours_t, pk["tail_ranks"])),
                            "same_triples": same_order,
                            "tied_fraction": float(np.mean([(row == row[i]).sum() > 1 for row, i in
                                                            zip(tails, sc["triples"][:, 2])]))}
            if rnd is None:
                # the ranks the run itself wrote (trained process) against the same recomputed scores
                out[variant]["max_diff_vs_ranks_tsv"] = max(_max_diff(ours_h, sc["run_head"]),
                                                            _max_diff(ours_t, sc["run_tail"]))
    return out


def cross_check_pykeen(dump: Path, files: tuple[Path, Path, Path]) -> dict[str, Any]:
    """A PyKEEN model's score rows (``--dump-scores``) ranked by rdf2mm beside PyKEEN's own ranks."""
    d = np.load(dump)
    triples = d["triples"]
    entities, relations = [str(e) for e in d["entities"]], [str(r) for r in d["relations"]]
    ours_h, ours_t = rdf2mm_ranks(entities, relations, files, triples, d["tail_scores"], d["head_scores"])
    pos = {tuple(t): i for i, t in enumerate(triples.tolist())}
    theirs = {}
    for side in ("head", "tail"):
        ranks = np.empty(len(triples))
        ranks[[pos[tuple(t)] for t in d[f"{side}_triples"].tolist()]] = d[f"{side}_ranks"]
        theirs[side] = ranks
    test = labelled(files[2])
    ranked = {(entities[a], relations[b], entities[c]) for a, b, c in triples.tolist()}
    return {"test_triples_in_file": len(test), "ranked": len(triples), "same_triples_as_file": ranked == set(test),
            "rdf2mm_mrr": _mrr(ours_h, ours_t), "pykeen_mrr": _mrr(theirs["head"], theirs["tail"]),
            "max_rank_diff": max(_max_diff(ours_h, theirs["head"]), _max_diff(ours_t, theirs["tail"]))}


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
    lines = [("| dataset | model | PyKEEN setup | rdf2mm MRR | PyKEEN MRR | diff | rdf2mm s/epoch | PyKEEN s/epoch "
              "| ratio | bar |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        o, p = r["rdf2mm"], r["pykeen"]
        ok = "yes" if r.get("mrr_ok") and r.get("time_ok") else ("no" if "mrr_ok" in r else "n/a")
        lines.append(
            f"| {r['dataset']} | {r['model']} | {r['setup']} | {o.get('test_mrr') or nan:.4f} | "
            f"{p.get('test_mrr') or nan:.4f} | {r.get('mrr_diff', nan):+.4f} | "
            f"{o.get('seconds_per_epoch') or nan:.3f} | "
            f"{p.get('seconds_per_epoch') or nan:.3f} | {r.get('epoch_ratio_pykeen_over_rdf2mm', '')} | {ok} |")
    return "\n".join(lines)


def cross_table(rows: list[dict[str, Any]]) -> str:
    """The evaluator cross-check: the largest per-triple rank difference on the same scores."""
    lines = [("| dataset | model | scores of | test triples (file / ranked) | rdf2mm-eval MRR | PyKEEN-eval MRR "
              "| max rank diff | vs the run's ranks.tsv | rounded scores: max rank diff (tied tail rows) |"),
             "|---|---|---|---|---|---|---|---|---|"]
    seen = set()
    for r in rows:
        c = r.get("cross_check") or {}
        ours, pk = c.get("rdf2mm_model", {}), c.get("pykeen_model", {})
        ex, rd = ours.get("exact", {}), ours.get("rounded", {})
        if (r["dataset"], r["model"]) not in seen and "rdf2mm_mrr" in ex:
            seen.add((r["dataset"], r["model"]))
            lines.append(f"| {r['dataset']} | {r['model']} | rdf2mm | {ours['test_triples_in_file']} / "
                         f"{ours['ranked']} | {ex['rdf2mm_mrr']:.4f} | {ex['pykeen_mrr']:.4f} | "
                         f"{ex['max_rank_diff']:g} | {ex.get('max_diff_vs_ranks_tsv', float('nan')):g} | "
                         f"{rd.get('max_rank_diff', float('nan')):g} "
                         f"({rd.get('tied_fraction', float('nan')):.0%}) |")
        if "rdf2mm_mrr" in pk:
            lines.append(f"| {r['dataset']} | {r['model']} | PyKEEN {r['setup']} | {pk['test_triples_in_file']} / "
                         f"{pk['ranked']} | {pk['rdf2mm_mrr']:.4f} | {pk['pykeen_mrr']:.4f} | "
                         f"{pk['max_rank_diff']:g} | | |")
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
    ap.add_argument("--pykeen-setups", default="default,unconstrained,rdf2mm-init,matched",
                    help=f"PyKEEN setups to run, each a row: {', '.join(PYKEEN_SETUPS)} (see the docstring)")
    ap.add_argument("--cross-check", action="store_true",
                    help="also rank the same scores with both evaluators (rdf2mm's and PyKEEN's)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    ap.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = ap.parse_args()
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in PYKEEN_MODELS]
    if unknown:
        ap.error(f"unknown model {', '.join(unknown)}; choose from {', '.join(PYKEEN_MODELS)}")
    setups = [x for x in args.pykeen_setups.split(",") if x]
    if not setups or any(x not in PYKEEN_SETUPS for x in setups):
        ap.error(f"--pykeen-setups: choose from {', '.join(PYKEEN_SETUPS)}")
    if args.dim % 2:
        ap.error("--dim must be even (ComplEx and RotatE split it into real and imaginary halves)")
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in [d for d in args.datasets.split(",") if d]:
        files = dataset_files(args.data, name)
        for model in models:
            run_dir = args.work / f"run-{name}-{model}"
            o = ours(files, model, args, run_dir)
            ours_check = cross_check_rdf2mm(run_dir, files, args) if args.cross_check and o["rc"] == 0 else None
            for setup in setups:
                if setup in CONSTRAINER_SETUPS and model not in CONSTRAINED_MODELS:
                    continue
                dump = args.work / f"pykeen-{name}-{model}-{setup}.npz" if args.cross_check else None
                p = peer(files, model, args, setup, dump)
                row = {"dataset": name, "model": model, "setup": setup, "epochs": args.epochs, "dim": args.dim,
                       "negatives": args.negatives, "batch_size": args.batch_size, "lr": args.lr,
                       "threads": args.threads, "rdf2mm": o, "pykeen": p, **compare(o, p)}
                if args.cross_check:
                    row["cross_check"] = {"rdf2mm_model": ours_check or {},
                                          "pykeen_model": cross_check_pykeen(dump, files) if dump and dump.exists()
                                          else {}}
                rows.append(row)
                print(json.dumps({k: row.get(k) for k in ("dataset", "model", "setup", "mrr_diff")}
                                 | {"rdf2mm_mrr": o.get("test_mrr"), "pykeen_mrr": p.get("test_mrr"),
                                    "pykeen_error": p.get("error")}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    print()
    print(table(rows))
    if args.cross_check:
        print()
        print(cross_table(rows))


if __name__ == "__main__":
    main()
