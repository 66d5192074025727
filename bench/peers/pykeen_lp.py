"""PyKEEN's side of the link-prediction benchmarks: sLCWA training on given files, timed,
and (with ``--test``) PyKEEN's own filtered evaluation.

Runs in PyKEEN's own virtualenv (never a dependency of rdf2mm):

    python3 -m venv /work/pykeen-venv
    /work/pykeen-venv/bin/pip install -c constraints/torch-cpu.txt "pykeen==1.11.1"
    /work/pykeen-venv/bin/python bench/peers/pykeen_lp.py train.nt --model DistMult --dim 64 \
        --negatives 16 --batch-size 4096 --epochs 3 --threads 2
    # with a loss, gradient clipping and a filtered test MRR (bench/peers/pykeen_kge.py):
    /work/pykeen-venv/bin/python bench/peers/pykeen_lp.py train.nt.gz --valid valid.nt.gz --test test.nt.gz \
        --model ComplEx --dim 32 --loss BCEWithLogits --clip 1.0 --epochs 100 --one-call

Reads N-Triples of IRIs only (plain or .gz: what bench/kg_shapes.py writes and the
shared umls/kinships ``.nt.gz``), prints one JSON line. ``--dim`` is PyKEEN's
``embedding_dim`` (complex numbers for ComplEx and RotatE).
"""
from __future__ import annotations

import argparse
import gzip
import json
import resource
import time

import numpy as np
import torch


def read_ntriples(path: str) -> np.ndarray:
    rows = []
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 3:
                rows.append((parts[0].strip("<>"), parts[1].strip("<>"), parts[2].strip("<>")))
    return np.asarray(rows, dtype=str)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("train")
    ap.add_argument("--valid", help="valid triples: filtered out of the test ranking")
    ap.add_argument("--test", help="test triples: report PyKEEN's filtered (realistic) MRR on them")
    ap.add_argument("--model", default="DistMult")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--negatives", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=4096)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--loss", help="PyKEEN loss name (e.g. BCEWithLogits); default: the model's own")
    ap.add_argument("--clip", type=float, help="gradient clipping max norm (rdf2mm clips at 1.0)")
    ap.add_argument("--no-regularizer", action="store_true",
                    help="drop the model's default regulariser (rdf2mm's plain KGE models have none)")
    ap.add_argument("--one-call", action="store_true",
                    help="train all epochs in one train() call (seconds per epoch = total / epochs) "
                         "instead of one timed call per epoch")
    args = ap.parse_args()

    from pykeen.evaluation import RankBasedEvaluator
    from pykeen.models import model_resolver
    from pykeen.training import SLCWATrainingLoop
    from pykeen.triples import TriplesFactory
    from pykeen.version import get_version

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    tf = TriplesFactory.from_labeled_triples(read_ntriples(args.train))
    load_s = time.perf_counter() - t0
    kwargs: dict = {"embedding_dim": args.dim, "random_seed": args.seed}
    if args.loss:
        kwargs["loss"] = args.loss
    if args.no_regularizer:
        kwargs["regularizer"] = None
    model = model_resolver.make(args.model, triples_factory=tf, **kwargs)
    loop = SLCWATrainingLoop(
        model=model, triples_factory=tf, optimizer=torch.optim.Adam(model.parameters(), lr=args.lr),
        negative_sampler="basic", negative_sampler_kwargs={"num_negs_per_pos": args.negatives},
    )
    train_kw: dict = {"batch_size": args.batch_size, "use_tqdm": False}
    if args.clip:
        # PyKEEN 1.11's own ``gradient_clipping_max_norm`` fails ("Callback was never
        # initialized"): the same clipping (total norm, before every optimiser step) as a callback
        from pykeen.training.callbacks import TrainingCallback

        class ClipGradients(TrainingCallback):
            def pre_step(self, **kwargs: object) -> None:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm=args.clip)

        train_kw["callbacks"] = [ClipGradients()]
    epochs: list[float] = []
    if args.one_call:
        t = time.perf_counter()
        losses = loop.train(triples_factory=tf, num_epochs=args.epochs, **train_kw)
        epochs = [(time.perf_counter() - t) / max(args.epochs, 1)] * args.epochs
    else:
        for _ in range(args.epochs):
            t = time.perf_counter()
            # num_epochs counts from the start when continuing
            losses = loop.train(triples_factory=tf, num_epochs=len(epochs) + 1, continue_training=bool(epochs),
                                **train_kw)  # one epoch per call, timed
            epochs.append(time.perf_counter() - t)
    out = {
        "peer": f"pykeen {get_version()}", "model": args.model, "training_loop": "sLCWA",
        "loss": type(model.loss).__name__, "regularizer": type(getattr(model, "regularizer", None)).__name__,
        "entities": tf.num_entities, "relations": tf.num_relations, "triples": tf.num_triples,
        "dim": args.dim, "negatives": args.negatives, "batch_size": args.batch_size, "threads": args.threads,
        "lr": args.lr, "clip": args.clip, "epochs": args.epochs,
        "load_seconds": round(load_s, 2), "epoch_seconds": [round(e, 3) for e in epochs],
        "seconds_per_epoch": float(np.median(epochs)) if epochs else None,
        "last_loss": float(losses[-1]) if losses else None,
    }
    if args.test:
        def mapped(path: str) -> torch.Tensor:
            return TriplesFactory.from_labeled_triples(
                read_ntriples(path), entity_to_id=tf.entity_to_id, relation_to_id=tf.relation_to_id).mapped_triples

        test = mapped(args.test)
        extra = [tf.mapped_triples] + ([mapped(args.valid)] if args.valid else [])
        t = time.perf_counter()
        result = RankBasedEvaluator(filtered=True).evaluate(
            model, test, additional_filter_triples=extra, batch_size=256, use_tqdm=False)
        out["eval_seconds"] = round(time.perf_counter() - t, 2)
        out["test_triples"] = int(test.shape[0])
        out["test_mrr"] = float(result.get_metric("both.realistic.inverse_harmonic_mean_rank"))
        out["test_hits@10"] = float(result.get_metric("both.realistic.hits_at_10"))
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
