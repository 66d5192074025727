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

PyKEEN's model defaults differ from rdf2mm's plain KGE models in ways that matter with a
BCE loss (bench/RESULTS.md, "Plain KGE beside PyKEEN 1.11"); two flags align them:

- ``--entity-constrainer none``: DistMult without PyKEEN's default ``entity_constrainer``
  (``functional.normalize``: every entity row rescaled to unit L2 norm after each step,
  so scores stay bounded by the relation vector's norm);
- ``--init rdf2mm``: entity and relation tables (RotatE: entities; its relation phases
  are uniform on both sides) drawn as rdf2mm draws them, ``torch.nn.init.xavier_uniform_``
  over the ``[rows, real numbers]`` table, instead of PyKEEN's defaults (DistMult: its own
  Xavier variant, bound ``sqrt(6 / dim)``, relations rescaled to unit norm; ComplEx:
  ``normal_``, standard deviation 1 per real number).

Cross-checking the evaluators (``bench/peers/pykeen_kge.py --cross-check``):
``--dump-scores F.npz`` writes the test triples' full tail and head score rows of the
trained model (``model.predict``, what PyKEEN's evaluator ranks) with PyKEEN's own
per-triple realistic ranks; ``--rank-scores F.npz --ranks-out G.npz`` trains nothing
and ranks the score rows of ``F`` (an rdf2mm model's) with PyKEEN's
``RankBasedEvaluator`` (filtered by the train, valid and test files given).
"""
from __future__ import annotations

import argparse
import gzip
import inspect
import json
import resource
import time

import numpy as np
import torch

#: the models whose tables ``--init rdf2mm`` redraws: which of entity / relation
RDF2MM_INIT = {"DistMult": ("entity", "relation"), "ComplEx": ("entity", "relation"), "RotatE": ("entity",)}


def rdf2mm_xavier_(x: torch.Tensor) -> torch.Tensor:
    """rdf2mm's initialisation of a table: ``torch.nn.init.xavier_uniform_`` over
    ``[rows, real numbers per row]`` (PyKEEN hands complex tables as ``[rows, dim, 2]``)."""
    torch.nn.init.xavier_uniform_(x.view(x.shape[0], -1))
    return x


def recording_evaluator():  # PyKEEN is imported late (its own virtualenv): no annotation
    """PyKEEN's filtered ``RankBasedEvaluator``, keeping each direction's realistic ranks
    per evaluated triple (``.triples[target]``, ``.realistic[target]``) in evaluation order."""
    from pykeen.evaluation import RankBasedEvaluator
    from pykeen.evaluation.ranks import Ranks

    class Recording(RankBasedEvaluator):
        def __init__(self) -> None:
            super().__init__(filtered=True, clear_on_finalize=False)  # keep the ranks for the caller
            self.triples: dict[str, list[np.ndarray]] = {"head": [], "tail": []}
            self.realistic: dict[str, list[np.ndarray]] = {"head": [], "tail": []}

        def process_scores_(self, hrt_batch, target, scores, true_scores=None, dense_positive_mask=None):
            super().process_scores_(hrt_batch, target, scores, true_scores, dense_positive_mask)
            ranks = Ranks.from_scores(true_score=true_scores, all_scores=scores)
            self.triples[target].append(hrt_batch.cpu().numpy())
            self.realistic[target].append(ranks.realistic.cpu().numpy().reshape(-1))

        def clear(self) -> None:
            super().clear()
            for d in (self.triples, self.realistic):
                d["head"], d["tail"] = [], []

    return Recording()


def rank_scores(args: argparse.Namespace) -> None:
    """``--rank-scores``: PyKEEN's filtered evaluation of given score rows, no training."""
    from pykeen.models import model_resolver
    from pykeen.triples import TriplesFactory

    data = np.load(args.rank_scores)
    entity_to_id = {str(e): i for i, e in enumerate(data["entities"])}
    relation_to_id = {str(r): i for i, r in enumerate(data["relations"])}

    def mapped(path: str) -> torch.Tensor:
        return TriplesFactory.from_labeled_triples(
            read_ntriples(path), entity_to_id=entity_to_id, relation_to_id=relation_to_id).mapped_triples

    tf = TriplesFactory(mapped(args.train), entity_to_id=entity_to_id, relation_to_id=relation_to_id)
    triples = torch.as_tensor(data["triples"], dtype=torch.long)
    rows = {tuple(t): i for i, t in enumerate(data["triples"].tolist())}
    scores = {"tail": torch.as_tensor(data["tail_scores"]), "head": torch.as_tensor(data["head_scores"])}
    # Any PyKEEN model whose ``predict`` (what its evaluator calls) returns the given rows:
    # the evaluation path, filtering included, is PyKEEN's own.
    model = model_resolver.make("DistMult", triples_factory=tf, embedding_dim=2)

    def predict(hrt_batch: torch.Tensor, target: str, **_: object) -> torch.Tensor:
        return scores[target][[rows[tuple(t)] for t in hrt_batch.tolist()]]

    model.predict = predict  # type: ignore[method-assign]
    evaluator = recording_evaluator()
    extra = [tf.mapped_triples] + ([mapped(args.valid)] if args.valid else [])
    result = evaluator.evaluate(model, triples, additional_filter_triples=extra, batch_size=256, use_tqdm=False)
    out = {"triples": triples.numpy(), "mrr": float(result.get_metric("both.realistic.inverse_harmonic_mean_rank"))}
    for target in ("head", "tail"):
        order = [rows[tuple(t)] for t in np.concatenate(evaluator.triples[target]).tolist()]
        ranks = np.empty(len(triples))
        ranks[order] = np.concatenate(evaluator.realistic[target])
        out[f"{target}_ranks"] = ranks
    np.savez(args.ranks_out, **out)
    print(json.dumps({"ranked": len(triples), "pykeen_mrr": out["mrr"], "ranks_out": args.ranks_out}))


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
    ap.add_argument("--entity-constrainer", choices=("default", "none"), default="default",
                    help="'none': no entity constrainer (DistMult's default normalises every entity to unit L2 "
                         "norm after each step; rdf2mm constrains nothing)")
    ap.add_argument("--init", choices=("default", "rdf2mm"), default="default",
                    help="'rdf2mm': Xavier-uniform entity and relation tables as rdf2mm draws them "
                         "(RotatE: entities only)")
    ap.add_argument("--dump-scores", help="write the test triples' score rows and PyKEEN's per-triple ranks (.npz)")
    ap.add_argument("--rank-scores", help="rank the score rows of this .npz with PyKEEN's evaluator; no training")
    ap.add_argument("--ranks-out", help="with --rank-scores: where the per-triple ranks go (.npz)")
    ap.add_argument("--one-call", action="store_true",
                    help="train all epochs in one train() call (seconds per epoch = total / epochs) "
                         "instead of one timed call per epoch")
    args = ap.parse_args()

    if args.rank_scores:
        if not args.ranks_out:
            ap.error("--rank-scores needs --ranks-out")
        rank_scores(args)
        return

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
    if args.entity_constrainer == "none" and "entity_constrainer" in inspect.signature(
            model_resolver.lookup(args.model).__init__).parameters:
        kwargs["entity_constrainer"] = None  # (a model without the option constrains no entity)
    if args.init == "rdf2mm":
        if args.model not in RDF2MM_INIT:
            ap.error(f"--init rdf2mm knows {', '.join(RDF2MM_INIT)}, not {args.model}")
        for table in RDF2MM_INIT[args.model]:
            kwargs[f"{table}_initializer"] = rdf2mm_xavier_
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
    with torch.no_grad():
        # the logits before any step (the training triples'): how saturated BCE starts
        init_logits = model.score_hrt(tf.mapped_triples).flatten()
    epochs: list[float] = []
    if args.epochs == 0:
        losses = []
    elif args.one_call:
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
        "entity_constrainer": args.entity_constrainer, "init": args.init,
        "init_logit_std": float(init_logits.std()), "init_logit_absmax": float(init_logits.abs().max()),
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
        evaluator = recording_evaluator()
        result = evaluator.evaluate(model, test, additional_filter_triples=extra, batch_size=256, use_tqdm=False)
        out["eval_seconds"] = round(time.perf_counter() - t, 2)
        out["test_triples"] = int(test.shape[0])
        if args.dump_scores:
            model.eval()
            with torch.no_grad():
                dump = {f"{target}_scores": model.predict(hrt_batch=test, target=target).cpu().numpy()
                        for target in ("tail", "head")}
            for target in ("head", "tail"):
                dump[f"{target}_triples"] = np.concatenate(evaluator.triples[target])
                dump[f"{target}_ranks"] = np.concatenate(evaluator.realistic[target])
            np.savez(args.dump_scores, entities=np.asarray([tf.entity_id_to_label[i] for i in range(tf.num_entities)]),
                     relations=np.asarray([tf.relation_id_to_label[i] for i in range(tf.num_relations)]),
                     triples=test.numpy(), **dump)
            out["dump_scores"] = args.dump_scores
        out["test_mrr"] = float(result.get_metric("both.realistic.inverse_harmonic_mean_rank"))
        out["test_hits@10"] = float(result.get_metric("both.realistic.hits_at_10"))
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
