"""Model and optimiser settings shared by the tasks (light: no torch or modality imports)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rdf2mm.errors import DivergedError


@dataclass
class ModelSettings:
    """The MR-GCN encoder, optimiser and input settings both tasks share (from a resolved TrainConfig).

    This is the one home of every training default: :class:`NCSettings` keeps these values
    (node classification, the MR-GCN paper's two-layer R-GCN with weight decay) and
    :class:`LPSettings` overrides what link prediction changes; ``TrainConfig`` and the
    command-line help read them from here (see :data:`TASK_DEPENDENT` and :func:`task_defaults`).
    """

    #: ``mrgcn``, or a plain KGE baseline (``rdf2mm.models.registry.PLAIN_KGE_MODELS``): an
    #: entity table of ``embed_dim`` columns scored by the decoder of its name, or a literal
    #: KGE model (``LITERAL_KGE_MODELS``): such a table fused with entity literal features
    model: str = "mrgcn"
    embed_dim: int = 32
    hidden: int = 32
    layers: int = 2
    #: None: 30 bases when the graph has more than 40 relations (``tasks.inputs.default_bases``); 0: none
    bases: int | None = None
    blocks: int | None = None
    dropout: float = 0.2
    #: dropping entity vectors in training raised node-classification accuracy on both real
    #: graphs measured (see bench/RESULTS.md)
    entity_dropout: float = 0.5
    lr: float = 0.01
    weight_decay: float = 5e-4
    epochs: int = 200
    patience: int = 30
    #: early stopping also waits this many optimiser steps since the best validation
    #: figure (0: the patience in epochs alone; see rdf2mm.training.stopping)
    patience_steps: int = 0
    clip: float = 1.0
    amp: bool = True
    self_loops: bool = True
    #: labelled nodes per mini-batch step (node classification); positive triples per step (link prediction)
    batch_size: int = 512
    #: how the R-GCN layers combine a node's messages per relation: "mean" or "sum"
    aggregation: str = "mean"
    #: one node per distinct literal (merging equal literals raised accuracy, see bench/RESULTS.md)
    literals: str = "merged"
    #: share of a convolutional encoder's distinct values (images, character-CNN text,
    #: polygons) re-encoded with gradients per full-batch step, or "auto"; "1": all, every
    #: step (see rdf2mm.models.mrgcn)
    encoder_refresh: str = "auto"
    #: the shuffled-literal control: each modality's literals permuted among the entities
    #: (literal nodes) of their predicate, seeded by the run's seed (rdf2mm.encoding.shuffle)
    shuffle_literals: bool = False

    def check_loss(self, loss: float, seed: int, epoch: int) -> None:
        """Stop a seed whose training loss is no longer a number: its weights are garbage
        and must not be written as a result."""
        if not math.isfinite(loss):
            raise DivergedError(f"training diverged: seed {seed}, epoch {epoch}: the training loss is {loss}; "
                            f"nothing was written (try a lower --lr than {self.lr:g})")

    @classmethod
    def from_config(cls, cfg: Any) -> Any:
        # Unset (None) config values keep the settings' own defaults.
        return cls(**{k: getattr(cfg, k) for k in cls.__dataclass_fields__ if getattr(cfg, k, None) is not None})


@dataclass
class NCSettings(ModelSettings):
    """Node classification: the paper's two-layer R-GCN with weight decay (see ModelSettings)."""

    #: "auto" trains the seeds with the sum and with the mean and keeps the better on
    #: validation (the pipeline resolves it per candidate before a model is built), since
    #: whether a class depends on how many neighbours a node has (sum) or on their mix
    #: (mean) varies by graph
    aggregation: str = "auto"


@dataclass
class LPSettings(ModelSettings):
    """Link prediction: the paper's one-layer encoder with a wider embedding and no weight decay,
    plus the decoder, sampling and evaluation settings."""

    embed_dim: int = 64
    hidden: int = 64
    layers: int = 1
    entity_dropout: float = 0.0
    weight_decay: float = 0.0
    patience: int = 10
    #: an epoch is one step when the training triples fit one batch (4096): 10 epochs of
    #: patience would then be 10 Adam steps, too few for an entity table to leave its
    #: initialisation (plain DistMult, MoSE, VL-KGE stopped at their epoch-1 weights on
    #: small graphs), so patience also waits 100 steps since the best
    patience_steps: int = 100
    batch_size: int = 4096
    aggregation: str = "mean"
    literals: str = "split"
    decoder: str = "distmult"
    #: corrupted triples per positive; 0 scores every entity (1-N); None: 1-N where it pays
    #: off, else sampled (``tasks.lp_training.resolve_negatives``)
    negatives: int | None = None
    eval_every: int = 1
    eval_memory_mb: int = 512
    #: LiteralE: the columns each predicate's wide frozen feature (text, images) is
    #: projected to in the literal vector; numeric literals keep one column each
    literal_dim: int = 16
    #: every value, every step: a link-prediction epoch takes many steps, each of which
    #: would refill the cache, and the subsampled gradient cost synth-lp some MRR
    #: (0.295 -> 0.280, 2 seeds)
    encoder_refresh: str = "1"
    #: mose: how the per-modality scores combine at inference: "mean", or "fitted" (weights
    #: per relation fitted on the validation split when training ends; rdf2mm.models.ensemble)
    ensemble: str = "mean"
    #: momok: experts per modality (K; the paper's 3)
    experts: int = 3
    #: momok: weight of the CLUB bound on the mutual information between a modality's experts
    club_weight: float = 1e-4
    #: vlkge: in training, the probability that an entity's projected literal views are
    #: left out of its fused embedding (it keeps its structure row alone that step); 0.5
    #: kept the model at plain DistMult's level on a planted graph whose literals carry no
    #: signal (0.04 -> 0.13 filtered MRR, plain 0.10) and raised it where they do (numeric
    #: 0.26 -> 0.33, textual 0.54 -> 0.58, spatial 0.22 -> 0.25; visual 0.58 -> 0.45)
    view_dropout: float = 0.5


#: how a multi-score model (mose) combines its per-modality scores at inference
ENSEMBLES = ("mean", "fitted")

#: corruptions per positive in mini-batch mode when none were asked for (1-N needs every entity)
MINI_BATCH_NEGATIVES = 16
#: above this many scores per epoch (2 x training triples x entities) 1-N stops paying off
#: and the default is sampled negatives: the fused 1-N loss costs about 20 ns per score on
#: one CPU thread (forward and backward, d=64), so this is ~10 s per epoch; sampled
#: negatives cost the encoder per step instead (bench/RESULTS.md, "Link prediction at scale")
ONE_TO_N_MAX_CELLS = 5 * 10**8
#: corruptions per positive where the default is sampled negatives
AUTO_NEGATIVES = 16


def resolve_negatives(asked: int | None, num_train: int, num_entities: int, mini: bool) -> tuple[int, str]:
    """The corruptions per positive a run uses (0: 1-N) and why: what was asked, or
    (``None``) 1-N while its scores per epoch stay under :data:`ONE_TO_N_MAX_CELLS`."""
    if asked:
        return asked, "asked"
    if mini:
        return MINI_BATCH_NEGATIVES, "mini-batches embed only the entities a step uses; 1-N needs every entity"
    cells = 2 * num_train * num_entities
    if asked == 0:
        return 0, "asked"
    if cells <= ONE_TO_N_MAX_CELLS:
        return 0, f"1-N: {cells:.2g} scores per epoch (up to {ONE_TO_N_MAX_CELLS:.0e})"
    return AUTO_NEGATIVES, f"{cells:.2g} scores per epoch for 1-N (over {ONE_TO_N_MAX_CELLS:.0e}): sampled negatives"


#: each task's settings, and so its defaults
TASK_SETTINGS: dict[str, type[ModelSettings]] = {"node-classification": NCSettings, "link-prediction": LPSettings}

#: the settings whose default differs by task: a TrainConfig leaves them None until
#: ``resolve()`` fills in the task's value
TASK_DEPENDENT = ("embed_dim", "hidden", "layers", "weight_decay", "patience", "patience_steps", "batch_size",
                  "aggregation", "literals", "entity_dropout", "encoder_refresh")


#: the share of a costly encoder's distinct values re-encoded with gradients per
#: full-batch training step under ``encoder_refresh = "auto"`` (chosen by measurement:
#: see bench/bench_images.py)
AUTO_REFRESH = 0.1
#: the fewest values a subsampled step re-encodes with gradients (a small block: all)
MIN_REFRESH = 64


def refresh_fraction(setting: str | float) -> float:
    """``encoder_refresh`` as a fraction in (0, 1] (``auto``: :data:`AUTO_REFRESH`);
    ValueError for anything else."""
    if isinstance(setting, str) and setting.strip().lower() == "auto":
        return AUTO_REFRESH
    value = float(setting)
    if not 0 < value <= 1:  # also refuses NaN
        raise ValueError(f"encoder refresh must be auto or a fraction in (0, 1], not {setting!r}")
    return value


def task_defaults(task: str) -> dict[str, Any]:
    """The task-dependent defaults of ``task`` (empty for an unknown task), by setting name."""
    cls = TASK_SETTINGS.get(task)
    return {name: getattr(cls, name) for name in TASK_DEPENDENT} if cls else {}
