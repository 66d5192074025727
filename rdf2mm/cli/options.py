"""The options ``train``, ``ablate`` and ``tune`` share, declared once.

Each option is one :class:`OptionSpec` in :data:`OPTIONS`, keyed by the ``TrainConfig``
field it sets: its flags and its one help text, whose defaults and choices are read from
where they are defined (:mod:`rdf2mm.tasks.settings`, :class:`rdf2mm.config.TrainConfig`,
:mod:`rdf2mm.models.registry`). A command declares ``lr: Optional[float] = option("lr")``;
``rdf2mm config --example`` writes the same text as the comment of each setting.

Options default to None so that a ``--config`` file's value survives unless the flag is
given; the resolved value then comes from the config (and the task's defaults).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import typer

from rdf2mm.config import DEVICES, PREDICTION_FORMATS, TASKS, TrainConfig
from rdf2mm.models.registry import (
    DECODERS, IMAGE_ENCODERS, LITERAL_KGE_MODELS, MODELS, PLAIN_KGE_MODELS, TEXT_ENCODERS, choices_text,
)
from rdf2mm.tasks.settings import (
    AUTO_NEGATIVES, AUTO_REFRESH, MIN_REFRESH, MINI_BATCH_NEGATIVES, ONE_TO_N_MAX_CELLS, LPSettings, ModelSettings,
    NCSettings,
)

#: a TrainConfig of defaults, for the help texts
DEFAULTS = TrainConfig()


def show(value: Any) -> str:
    """A default as help texts write it: ``32``, ``0.2``, ``5e-4``, ``0`` (not ``0.0``), ``25,10``."""
    if isinstance(value, (list, tuple)):
        return ",".join(show(v) for v in value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        if abs(value) < 1e-3:
            mantissa, exponent = f"{value:e}".split("e")
            return f"{float(mantissa):g}e{int(exponent)}"
        return repr(value)
    return str(value)


def _by_task(name: str) -> str:
    """``default: 32; link prediction 64`` (``default: X`` when both tasks agree)."""
    nc, lp = getattr(NCSettings, name), getattr(LPSettings, name)
    return f"default: {show(nc)}" if nc == lp else f"default: {show(nc)}; link prediction {show(lp)}"


@dataclass(frozen=True)
class OptionSpec:
    """One shared option: its flags (long name first) and its help text."""

    flags: tuple[str, ...]
    help: str


def _spec(*flags: str, help: str) -> OptionSpec:  # noqa: A002 - typer's own keyword
    return OptionSpec(tuple(flags), help)


#: every shared option by the TrainConfig field it sets
OPTIONS: dict[str, OptionSpec] = {
    "task": _spec("--task", "-t", help=f"{choices_text(TASKS, DEFAULTS.task)}."),
    "target": _spec("--target", help="Predicate holding the class labels in the graph: an IRI or a prefixed name such as ex:movement, with the graph's prefixes (its triples are removed before training)."),
    "train": _spec("--train", help="Training labels (N-Triples or TSV/CSV) or, for link prediction, training triples."),
    "valid": _spec("--valid", help="Validation labels or triples."),
    "test": _spec("--test", help="Test labels or triples."),
    "out": _spec("--out", "-o", help="Run directory to write (default: runs/<time>-<task>)."),
    "format": _spec("--format", "-f", help="Input format when it cannot be told from the extension."),
    # the names are checked against rdf2mm.modalities.registry.MODALITY_NAMES by the tests
    # (importing the modalities here would import torch for --help)
    "modalities": _spec("--modalities", "-m", help=f"{DEFAULTS.modalities} (default), none, or a list: numeric,temporal,textual,visual,spatial,boolean."),
    "literals": _spec("--literals", help=f"{NCSettings.literals} (default for node classification): a node per distinct literal; {LPSettings.literals} (default for link prediction): a node per literal occurrence; none."),
    "text_encoder": _spec("--text-encoder", help=f"{TEXT_ENCODERS.choices(DEFAULTS.text_encoder)} (frozen all-MiniLM-L6-v2 features, offline)."),
    "image_encoder": _spec("--image-encoder", help=f"{IMAGE_ENCODERS.choices(DEFAULTS.image_encoder)}: a small CNN trained from scratch on 64 x 64 images, or an MLP on frozen ImageNet EfficientNet-Lite0 features of 224 x 224 images (offline, computed once and cached on disk; for photographs and scans, and few labels)."),
    "modality_map": _spec("--modality-map", help="TOML file adding or overriding datatype -> modality rules."),
    "model": _spec("--model", help=f"{MODELS.choices(ModelSettings.model)}. mrgcn: the multimodal R-GCN, for both tasks; {choices_text(PLAIN_KGE_MODELS)}: plain KGE baselines, an entity table of --embed-dim columns scored by the decoder of that name (no literals, no graph encoder; --decoder, --hidden, --layers and the literal options are not read); {choices_text(LITERAL_KGE_MODELS)}: literal KGE models, an entity table of --embed-dim columns fused with each entity's frozen literal features of --modalities and scored by --decoder (literale: LiteralE's gate over a literal vector of one column per numeric predicate and --literal-dim columns per text or image predicate; vlkge: VL-KGE-style, each feature projected into the entity space and averaged over the ones the entity has; no graph encoder, --hidden and --layers are not read). For node classification the KGE models train in two stages: their link-prediction objective on the graph without the label predicate's triples (every setting applies to this stage, with link prediction's defaults), then a classifier on the frozen entity embeddings (--classifier-hidden; node classification's lr {show(NCSettings.lr)}, weight decay {show(NCSettings.weight_decay)}, up to {NCSettings.epochs} epochs, patience {NCSettings.patience})."),
    "embed_dim": _spec("--embed-dim", help=f"Size of node input vectors ({_by_task('embed_dim')})."),
    "hidden": _spec("--hidden", help=f"Hidden size of the R-GCN layers ({_by_task('hidden')})."),
    "layers": _spec("--layers", help=f"R-GCN layers ({_by_task('layers')})."),
    "bases": _spec("--bases", help="Basis decomposition with this many bases (default: 30 when there are more than 40 relations)."),
    "blocks": _spec("--blocks", help="Block-diagonal decomposition with this many blocks."),
    "aggregation": _spec("--aggregation", help=f"How a node combines its messages per relation: sum (keeps how many neighbours there are), {LPSettings.aggregation} (R-GCN's; default for link prediction) or {NCSettings.aggregation} (default for node classification: trains with both and keeps the better on validation; twice the training time)."),
    "dropout": _spec("--dropout", help=f"Dropout between layers (default: {show(ModelSettings.dropout)})."),
    "entity_dropout": _spec("--entity-dropout", help=f"Probability of dropping an entity's whole input vector in a training step (default: {show(NCSettings.entity_dropout)} for node classification, {show(LPSettings.entity_dropout)} for link prediction)."),
    "lr": _spec("--lr", help=f"Adam learning rate (default: {show(ModelSettings.lr)})."),
    "weight_decay": _spec("--weight-decay", help=f"L2 weight decay ({_by_task('weight_decay')})."),
    "epochs": _spec("--epochs", help=f"Maximum epochs (default: {show(ModelSettings.epochs)})."),
    "patience": _spec("--patience", help=f"Early-stopping patience on validation ({_by_task('patience')})."),
    "patience_steps": _spec("--patience-steps", help=f"Early stopping also waits this many optimiser steps since the best validation figure, so that a graph whose training triples fit one batch is not stopped after --patience steps; with none, the patience counts epochs alone ({_by_task('patience_steps')})."),
    "device": _spec("--device", help=f"{choices_text(DEVICES, DEFAULTS.device)}."),
    "threads": _spec("--threads", help=f"Intra-op CPU threads of training: a count, or {DEFAULTS.threads} (default: one thread for small graphs, for large ones up to the cores other processes leave free; RDF2MM_THREADS or OMP_NUM_THREADS decide when set). The run's config records the count used."),
    "seed": _spec("--seed", help=f"Random seed (default: {DEFAULTS.seed}); fixes results on CPU at a given thread count (--deterministic: at any)."),
    "seeds": _spec("--seeds", help="Train N times with seeds seed..seed+N-1 and report mean and std."),
    "predictions_format": _spec("--predictions-format", help=f"{choices_text(PREDICTION_FORMATS, DEFAULTS.predictions_format)}."),
    "output": _spec("--output", help="Also export the run: comma list of parquet, nt, ttl, trig, nq (into RUN_DIR/export)."),
    "store": _spec("--store", help="Also load the run's vectors and predictions into this embedded pyoxigraph store folder."),
    "target_relations": _spec("--target-relations", help="Link prediction: comma-separated predicate IRIs or prefixed names to predict (default: every entity-entity relation)."),
    "decoder": _spec("--decoder", help=f"Link prediction: {DECODERS.choices(LPSettings.decoder)}."),
    "negatives": _spec("--negatives", help=f"Link prediction: corrupted triples per positive; 0 scores every entity (1-N). Default: 1-N while it costs at most {ONE_TO_N_MAX_CELLS:.0e} scores per epoch (2 x training triples x entities), else {AUTO_NEGATIVES} ({MINI_BATCH_NEGATIVES} with --batching mini)."),
    "batch_size": _spec("--batch-size", help=f"Positive triples (link prediction, default {LPSettings.batch_size}) or labelled nodes (node classification, mini-batch, default {NCSettings.batch_size}) per step."),
    "batching": _spec("--batching", help="full (whole graph each step), mini (sampled neighbourhoods) or auto (default: mini when full batch would not fit in memory, or under torchrun)."),
    "fanout": _spec("--fanout", help=f"Mini-batch: in-edges sampled per node at each hop, e.g. 20 or 25,10 (default: {show(DEFAULTS.fanout)}; 0: all, exact)."),
    "literal_dim": _spec("--literal-dim", help=f"Link prediction, --model literale: columns each predicate's wide frozen feature (MiniLM text, 384; EfficientNet-Lite0 images, 1280) is projected to by a learned linear layer in the literal vector, so it does not swamp the numeric columns (one per predicate) (default: {LPSettings.literal_dim})."),
    "eval_every": _spec("--eval-every", help=f"Evaluate on valid every N epochs (link prediction; node classification with mini-batches). (default: {LPSettings.eval_every})."),
    "checkpoint_every": _spec("--checkpoint-every", help=f"Save a checkpoint every N epochs next to the run directory (default: {DEFAULTS.checkpoint_every}; 0: never)."),
    "encoder_refresh": _spec("--encoder-refresh", help=f"Share of each convolutional encoder's distinct values (images, character-CNN text, polygons) re-encoded with gradients per full-batch training step; the others take their current encodings from a no-gradient pass (validation's). auto (a share of {show(AUTO_REFRESH)}, at least {MIN_REFRESH} values) or a fraction; 1: all, every step ({_by_task('encoder_refresh')})."),
    "shuffle_literals": _spec("--shuffle-literals", help="The shuffled-literal control: permute each modality's literal values among the entities (literal nodes) of the same predicate, seeded by --seed, so the values' distribution is kept and their link to the entity destroyed (a model that reads the literals should lose its edge; stored in the config)."),
    "ensemble": _spec("--ensemble", help=f"Link prediction, --model mose: how the per-modality scores combine at inference: {LPSettings.ensemble} (default: equal weights) or fitted (weights per relation fitted on the validation split when training ends)."),
    "experts": _spec("--experts", help=f"Link prediction, --model momok: relation-guided experts per modality (default: {LPSettings.experts})."),
    "club_weight": _spec("--club-weight", help=f"Link prediction, --model momok: weight of the CLUB mutual-information loss between a modality's experts (default: {show(LPSettings.club_weight)})."),
    "view_dropout": _spec("--view-dropout", help=f"Link prediction, --model vlkge: probability that an entity's projected literal views are left out of its fused embedding in a training step, so the projections cannot memorise the training entities through their features (default: {show(LPSettings.view_dropout)}; 0: never)."),
    "classifier_hidden": _spec("--classifier-hidden", help=f"Node classification with a KGE --model: hidden ReLU units of the classifier on the frozen entity embeddings; 0 is softmax regression (default: {DEFAULTS.classifier_hidden})."),
    "deterministic": _spec("--deterministic", help="Bit-exact results on CPU at any thread count: deterministic torch algorithms and one intra-op thread (slower; stored in the config)."),
}

#: options that are not TrainConfig fields but shared all the same
NO_CACHE_HELP = "Do not read or write the parsed-graph cache."
CPU_THREADS_HELP = ("Intra-op CPU threads: a count, or auto (default: the cores other processes leave free; "
                    "RDF2MM_THREADS or OMP_NUM_THREADS decide when set).")


def option(name: str, default: Any = None, *, help: str | None = None) -> Any:  # noqa: A002
    """The typer option declaring shared setting ``name`` (``help`` replaces the shared
    text where a command gives the option a different meaning, e.g. ablate's ``--seed``)."""
    spec = OPTIONS[name]
    return typer.Option(default, *spec.flags, help=spec.help if help is None else help)


def config_option(help: str) -> Any:  # noqa: A002 - what the file holds differs by command
    """``--config/-c``: a TOML file of settings, which flags override."""
    return typer.Option(None, "--config", "-c", help=help)


def no_cache_option() -> Any:
    """``--no-cache``: skip the parsed-graph cache."""
    return typer.Option(False, "--no-cache", help=NO_CACHE_HELP)


def cpu_threads_option() -> Any:
    """``--threads`` of the commands that run a model without training it (predict, encode)."""
    return typer.Option("auto", "--threads", help=CPU_THREADS_HELP)


def describe_option(name: str) -> str | None:
    """The shared help text of setting ``name`` as a sentence fragment (no final period),
    or None when no option sets it."""
    spec = OPTIONS.get(name)
    return spec.help.removesuffix(".") if spec else None
