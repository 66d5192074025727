"""The resolved settings of a training run, and their TOML form.

Every ``rdf2mm train`` option is a field of :class:`TrainConfig`. A run saves its
resolved config as ``config.toml`` (and JSON), so ``rdf2mm train --config
RUN_DIR/config.toml`` reproduces it.
"""
from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdf2mm.errors import InputError, UsageError
from rdf2mm.models.registry import (
    DECODERS, IMAGE_ENCODERS, KGE_MODELS, LITERAL_KGE_MODELS, MODELS, PLAIN_KGE_MODELS, TEXT_ENCODERS, choices_text,
)
from rdf2mm.tasks.settings import ENSEMBLES, TASK_SETTINGS, LPSettings, ModelSettings, refresh_fraction, task_defaults
from rdf2mm.training.threads import environment_threads, parse_threads

#: the tasks, each with its settings class (and so its defaults) in rdf2mm.tasks.settings
TASKS = tuple(TASK_SETTINGS)

#: the largest learning rate accepted (far beyond any useful one)
MAX_LR = 1e6

#: How a node may combine its messages per relation; "auto" (node classification only)
#: trains with each and keeps the one that scores best on validation.
AGGREGATIONS = ("mean", "sum")
#: a node per literal occurrence, a node per distinct literal, or no literal nodes
LITERAL_MODES = ("split", "merged", "none")
#: whole graph every step, sampled neighbourhoods, or mini when full would not fit
BATCHING_MODES = ("auto", "full", "mini")
DEVICES = ("auto", "cpu", "cuda")
PREDICTION_FORMATS = ("tsv", "parquet")

#: Defaults that differ by task, derived from the tasks' settings classes
#: (:class:`~rdf2mm.tasks.settings.NCSettings`, :class:`~rdf2mm.tasks.settings.LPSettings`),
#: where each is set and explained once.
TASK_DEFAULTS: dict[str, dict[str, Any]] = {task: task_defaults(task) for task in TASKS}


@dataclass
class TrainConfig:
    """All settings of a training run (defaults follow the MR-GCN paper where it gives them).

    A default the tasks' settings classes also hold is read from them
    (:mod:`rdf2mm.tasks.settings`), so each default is written once.
    """

    # data
    graph: list[str] = field(default_factory=list)
    format: str | None = None
    task: str = "node-classification"
    target: str | None = None
    train: str | None = None
    valid: str | None = None
    test: str | None = None
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)
    modality_map: str | None = None
    # literals
    modalities: str = "all"
    #: split, merged or none (None: the task's default, see rdf2mm.tasks.settings)
    literals: str | None = None
    text_encoder: str = "charcnn"
    #: mobilenet (a CNN trained from scratch) or pretrained (frozen EfficientNet-Lite0 features)
    image_encoder: str = "mobilenet"
    inverse: bool = True
    self_loops: bool = ModelSettings.self_loops
    #: share of a costly (convolutional) encoder's values re-encoded with gradients per
    #: full-batch step: "auto" or a fraction in (0, 1] as text ("1": all, every step);
    #: None: the task's default
    encoder_refresh: str | None = None
    #: the shuffled-literal control: each modality's literal values permuted among the
    #: entities (literal nodes) of the same predicate, seeded by --seed
    shuffle_literals: bool = ModelSettings.shuffle_literals
    # model (None: the task's default, see rdf2mm.tasks.settings; the saved config holds the value used)
    #: mrgcn, or a plain KGE baseline (transe, distmult, complex, rotate, tucker: no literals, no
    #: graph encoder), or a literal KGE model (literale, vlkge, ikrl, mose, momok: an entity table
    #: fused with entity literal features); see rdf2mm.models.registry. The KGE models classify
    #: nodes in two stages (rdf2mm.tasks.kge_classification)
    model: str = ModelSettings.model
    embed_dim: int | None = None
    hidden: int | None = None
    layers: int | None = None
    bases: int | None = None
    blocks: int | None = None
    #: how a node combines its messages per relation: mean (R-GCN's 1/c_{i,r}), sum (keeps
    #: how many neighbours there are) or auto (node classification: train with both, keep
    #: the better on validation)
    aggregation: str | None = None
    dropout: float = ModelSettings.dropout
    #: probability of dropping an entity's whole input embedding in a training step
    entity_dropout: float | None = None
    # training
    lr: float = ModelSettings.lr
    weight_decay: float | None = None
    epochs: int = ModelSettings.epochs
    patience: int | None = None
    #: early stopping also waits this many optimiser steps since the best (None: the
    #: task's default: 0 for node classification, 100 for link prediction)
    patience_steps: int | None = None
    clip: float = ModelSettings.clip
    device: str = "auto"
    #: intra-op CPU threads: a count, or auto (one for small graphs, up to the free cores for
    #: large ones; RDF2MM_THREADS or OMP_NUM_THREADS decide when set), see rdf2mm.training.threads
    threads: str = "auto"
    amp: bool = ModelSettings.amp
    seed: int = 0
    seeds: int = 1
    # batching and scale
    #: full (whole graph every step), mini (sampled neighbourhoods) or auto (mini when full would not fit)
    batching: str = "auto"
    #: mini-batch: in-edges kept per node at each hop, nearest hop first; 0 keeps all (exact);
    #: a shorter list repeats its last value
    fanout: list[int] = field(default_factory=lambda: [20])
    #: mini-batch: the memory full-batch training may take before auto switches to mini, as a
    #: fraction of what is available
    full_batch_fraction: float = 0.5
    # link prediction (ignored by node classification)
    #: predicate IRIs whose triples are the prediction targets (empty: every entity relation)
    target_relations: list[str] = field(default_factory=list)
    #: triple scorer (see rdf2mm.models.registry.DECODERS): distmult (the paper's), complex or tucker
    decoder: str = LPSettings.decoder
    #: corrupted triples per positive (head or tail, uniformly); 0 scores every entity (1-N);
    #: unset: 1-N on graphs where it pays off, else sampled (rdf2mm.tasks.lp_training.resolve_negatives)
    negatives: int | None = LPSettings.negatives
    #: positive triples (link prediction) or labelled nodes (node classification, mini-batch)
    #: per optimisation step
    batch_size: int | None = None
    #: automatic train/valid/test fractions of the entity-entity triples (no split files)
    lp_split: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    #: evaluate on valid every N epochs (early stopping on filtered MRR)
    eval_every: int = LPSettings.eval_every
    #: memory for one block of ranking scores, MiB
    eval_memory_mb: int = LPSettings.eval_memory_mb
    #: LiteralE: columns per predicate of a wide frozen feature (text, images) in the literal vector
    literal_dim: int = LPSettings.literal_dim
    #: mose: mean, or fitted (per-relation weights fitted on the validation split after training)
    ensemble: str = LPSettings.ensemble
    #: momok: experts per modality
    experts: int = LPSettings.experts
    #: momok: weight of the CLUB mutual-information loss between a modality's experts
    club_weight: float = LPSettings.club_weight
    #: vlkge: probability that an entity's literal views are dropped in a training step
    view_dropout: float = LPSettings.view_dropout
    #: node classification with an entity-table model: hidden ReLU units of the classifier
    #: on the frozen embeddings (0: softmax regression)
    classifier_hidden: int = 0
    # output
    out: str | None = None
    #: save a checkpoint every N epochs next to the run directory (0: never); see --resume
    checkpoint_every: int = 10
    predictions_format: str = "tsv"
    #: also export the run as these formats (parquet, nt, ttl, trig, nq) into RUN_DIR/export
    output: list[str] = field(default_factory=list)
    #: also load the run's vectors and predictions into this embedded pyoxigraph store
    store: str | None = None
    cache: bool = True
    #: bit-exact CPU results at any thread count: deterministic torch algorithms and one
    #: intra-op thread (see the README's "Reproducibility")
    deterministic: bool = False

    def resolve(self) -> TrainConfig:
        """Fill settings left as None with the task's defaults (in place); returns self."""
        # An entity-table model trains its link-prediction objective for either task (node
        # classification then fits a classifier on its embeddings): link prediction's defaults.
        for key, value in task_defaults("link-prediction" if self.model in KGE_MODELS else self.task).items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        if self.model in PLAIN_KGE_MODELS:
            # An entity table reads no literals and passes no messages: none are prepared,
            # and the whole table is one full batch (the saved config says so).
            self.modalities, self.literals = "none", "none"
            if self.batching == "auto":
                self.batching = "full"
        elif self.model in LITERAL_KGE_MODELS and self.batching == "auto":
            self.batching = "full"  # an entity table, with its literal features beside it
        if self.deterministic and str(self.threads).strip().lower() == "auto":
            self.threads = "1"  # bit-exact runs take one thread (see rdf2mm.training.seeding)
        self.expand_names()
        return self

    def expand_names(self) -> TrainConfig:
        """Expand prefixed names (``ex:movement``) in ``target`` and ``target_relations``
        with the graph's declared prefixes and the common ones (in place); returns self."""
        if not (self.target or self.target_relations):
            return self
        from rdf2mm.io.prefixes import prefixes_for

        prefixes = prefixes_for(self.graph, self.format)
        if self.target:
            self.target = prefixes.expand(self.target, "--target")
        if self.target_relations:
            self.target_relations = prefixes.expand_all(self.target_relations, "--target-relations")
        return self

    def validate(self) -> None:
        """Raise :class:`UsageError` for values no run can use (call after :meth:`resolve`)."""
        if self.task not in TASKS:
            raise UsageError(f"--task must be one of {', '.join(TASKS)}, not {self.task!r}")
        MODELS.check(self.model)
        if self.model in KGE_MODELS:
            if self.batching == "mini":
                raise UsageError(f"--model {self.model} trains its entity table in full batches: "
                                 "--batching mini samples neighbourhoods for a graph encoder it does not have")
        if self.model in LITERAL_KGE_MODELS:
            if self.modalities.strip().lower() == "none" or self.literals == "none":
                raise UsageError(f"--model {self.model} reads the entities' literals: --modalities none and "
                                 "--literals none leave it none (a plain KGE model, e.g. --model distmult, reads none)")
            if self.literal_dim < 1:
                raise UsageError("--literal-dim must be at least 1")
        if self.literals not in LITERAL_MODES:
            raise UsageError(f"--literals must be {choices_text(LITERAL_MODES)}, not {self.literals!r}")
        if self.aggregation not in ("auto", *AGGREGATIONS):
            raise UsageError(f"--aggregation must be {choices_text(('auto', *AGGREGATIONS))}, not {self.aggregation!r}")
        if self.aggregation == "auto" and self.task != "node-classification":
            raise UsageError("--aggregation auto chooses on node-classification validation accuracy; "
                             "link prediction takes mean or sum")
        TEXT_ENCODERS.check(self.text_encoder)
        IMAGE_ENCODERS.check(self.image_encoder)
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise UsageError(f"--device must be {choices_text(DEVICES)}, not {self.device!r}")
        threads = parse_threads(self.threads)
        if threads is None:
            environment_threads()  # a bad RDF2MM_THREADS / OMP_NUM_THREADS fails now, not after reading
        if self.deterministic and threads != 1:
            raise UsageError(f"--deterministic runs on one thread: leave --threads out or give 1, not {self.threads!r}")
        if self.predictions_format not in PREDICTION_FORMATS:
            raise UsageError(f"--predictions-format must be {choices_text(PREDICTION_FORMATS)}")
        for name in ("embed_dim", "hidden", "layers", "epochs", "seeds", "patience"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
        if self.patience_steps < 0:
            raise UsageError("--patience-steps must be non-negative (0: the patience in epochs alone)")
        if self.bases is not None and self.bases < 0:
            raise UsageError("--bases must be non-negative (0: no basis decomposition)")
        if self.blocks is not None and self.blocks < 1:
            raise UsageError("--blocks must be at least 1 (leave it out for no block decomposition)")
        if self.seed < 0 or self.checkpoint_every < 0:
            raise UsageError("--seed and --checkpoint-every must be non-negative")
        if not 0 <= self.dropout < 1:
            raise UsageError("--dropout must be in [0, 1)")
        if not 0 <= self.entity_dropout < 1:
            raise UsageError("--entity-dropout must be in [0, 1)")
        # The bound keeps Adam's step size within float32 (above ~1e37 it overflows).
        if not (math.isfinite(self.lr) and 0 < self.lr <= MAX_LR):
            raise UsageError(f"--lr must be a positive finite number no larger than {MAX_LR:g}, not {self.lr!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise UsageError(f"--weight-decay must be a non-negative finite number, not {self.weight_decay!r}")
        if not (math.isfinite(self.clip) and self.clip >= 0):
            raise UsageError(f"clip must be a non-negative finite number (0: no clipping), not {self.clip!r}")
        DECODERS.check(self.decoder)
        if self.task == "link-prediction" or self.model in KGE_MODELS:
            # complex-valued scorers split each embedding into real and imaginary halves
            scorer = self.model if self.model in PLAIN_KGE_MODELS else self.decoder
            option, width = ("--hidden", self.hidden) if self.model not in (*PLAIN_KGE_MODELS, *LITERAL_KGE_MODELS) \
                else ("--embed-dim", self.embed_dim)
            if scorer in ("complex", "rotate") and width % 2:
                raise UsageError(f"{scorer} scores complex embeddings: {option} must be even, not {width}")
        if (self.negatives is not None and self.negatives < 0) or self.batch_size < 1 or self.eval_every < 1 or self.eval_memory_mb < 1:
            raise UsageError("--negatives must be >= 0; --batch-size, --eval-every, --eval-memory-mb >= 1")
        if self.ensemble not in ENSEMBLES:
            raise UsageError(f"--ensemble must be {choices_text(ENSEMBLES)}, not {self.ensemble!r}")
        if self.classifier_hidden < 0:
            raise UsageError("--classifier-hidden must be non-negative (0: softmax regression on the embeddings)")
        if self.experts < 1:
            raise UsageError("--experts must be at least 1")
        if not (math.isfinite(self.club_weight) and self.club_weight >= 0):
            raise UsageError(f"--club-weight must be a non-negative finite number, not {self.club_weight!r}")
        if not (math.isfinite(self.view_dropout) and 0.0 <= self.view_dropout < 1.0):
            raise UsageError(f"--view-dropout must be at least 0 and below 1, not {self.view_dropout!r}")
        if self.batching not in BATCHING_MODES:
            raise UsageError(f"--batching must be {choices_text(BATCHING_MODES)}, not {self.batching!r}")
        if not self.fanout or any(int(f) < 0 for f in self.fanout):
            raise UsageError("--fanout needs non-negative integers (0: every neighbour), e.g. 20 or 25,10")
        if not 0 < self.full_batch_fraction <= 1:
            raise UsageError("full_batch_fraction must be in (0, 1]")
        if (len(self.lp_split) != 3 or any(not x >= 0 or math.isinf(x) for x in self.lp_split)
                or sum(self.lp_split) <= 0):
            raise UsageError("--lp-split needs three non-negative fractions, e.g. 0.8,0.1,0.1")
        if (len(self.split) != 3 or any(not x >= 0 or math.isinf(x) for x in self.split)
                or sum(self.split) <= 0):
            raise UsageError("--split needs three non-negative fractions, e.g. 0.6,0.2,0.2")
        try:
            refresh_fraction(self.encoder_refresh or "")
        except ValueError:
            raise UsageError(f"--encoder-refresh must be auto or a fraction in (0, 1], not {self.encoder_refresh!r}") from None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["split"] = list(self.split)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"{source}: unknown setting(s) {', '.join(unknown)}")
        data = dict(data)
        if _is_number(data.get("encoder_refresh")):  # a TOML number is as good as its text
            data["encoder_refresh"] = repr(data["encoder_refresh"])
        if isinstance(data.get("fanout"), (int, str)) and not isinstance(data.get("fanout"), bool):
            data["fanout"] = parse_fanout(str(data["fanout"]))
        if isinstance(data.get("threads"), int) and not isinstance(data.get("threads"), bool):
            data["threads"] = str(data["threads"])  # threads = 4 in TOML, like --threads 4
        if isinstance(data.get("graph"), str):
            data["graph"] = [data["graph"]]
        types = {f.name: f.type for f in dataclasses.fields(cls)}
        for key, value in data.items():
            data[key] = _checked(value, str(types[key]), f"{source}: {key}")
        if "split" in data:
            data["split"] = tuple(data["split"])
        return cls(**data)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_SCALARS: dict[str, tuple[str, Any]] = {
    "str": ("a string", lambda v: isinstance(v, str)),
    "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "float": ("a number", _is_number),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
}


def _checked(value: Any, type_name: str, where: str) -> Any:
    """``value`` if it has the field's type (numbers as float for float fields), else a
    UsageError naming the setting: a config file is user input, not trusted code."""
    optional = type_name.endswith(" | None")
    base = type_name.removesuffix(" | None")
    if value is None and optional:
        return None
    if base in _SCALARS:
        what, ok = _SCALARS[base]
        if not ok(value):
            raise UsageError(f"{where} must be {what}{' or absent' if optional else ''}, not {value!r}")
        return float(value) if base == "float" else value
    item = base[base.index("[") + 1:].split(",")[0].rstrip("]").strip()  # list[int] / tuple[float, ...]
    what, ok = _SCALARS[item]
    if not isinstance(value, (list, tuple)) or not all(ok(v) for v in value):
        raise UsageError(f"{where} must be a list of {what.split(' ', 1)[1]}s, not {value!r}")
    return [float(v) if item == "float" else v for v in value]


def parse_fanout(text: str) -> list[int]:
    """``"20"`` or ``"25,10"`` to a list of ints (0: every neighbour)."""
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--fanout must be integers such as 20 or 25,10, not {text!r}") from None


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """Parse the TOML file ``path``; a missing or malformed file is an :class:`InputError`."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))  # -sig: tolerate a byte-order mark
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML config (top-level keys, or a ``[train]`` table); returns plain settings."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.toml"
    data = read_toml(path, "config file")
    if "train" in data and isinstance(data["train"], dict):
        data = {**{k: v for k, v in data.items() if k != "train"}, **data["train"]}
    return {k.replace("-", "_"): v for k, v in data.items()}


def to_toml(settings: dict[str, Any]) -> str:
    """Serialise flat settings (scalars and lists) as TOML; ``None`` values are omitted."""
    lines = []
    for key, value in settings.items():
        if value is None:
            lines.append(f"# {key} = (not set)")
            continue
        lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
