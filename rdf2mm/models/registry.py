"""Components chosen by name: models, triple decoders, text and image encoders.

Each kind has one :class:`Registry` table below; the CLI's choices and help, the config's
``validate()``, ``rdf2mm config --example`` and the factories (``make_decoder``, the
modalities' ``make_encoder``) all read it, so a new component is one ``register`` line
here plus its class. Entries name their class as ``"module:attribute"`` and are imported
only when built: listing the choices (``rdf2mm train --help``) must not import torch.
(PyKEEN's class resolvers and PyG's ``nn/resolver.py`` do the same job for their classes.)

Light module: imports nothing but :mod:`rdf2mm.errors`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from rdf2mm.errors import UsageError


def normalise(name: str) -> str:
    """The lookup key of a component name: case, ``-`` and ``_`` do not matter (``ComplEx``, ``dist-mult``)."""
    return name.lower().replace("-", "").replace("_", "")


def choices_text(names: tuple[str, ...] | list[str], default: str | None = None) -> str:
    """``"a (default), b or c"``: choices as a sentence, the default marked when given."""
    shown = [f"{n} (default)" if n == default else n for n in names]
    if len(shown) < 2:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " or " + shown[-1]


@dataclass(frozen=True)
class Entry:
    """One registered component: its name, where its class lives, one line about it."""

    name: str
    target: str
    description: str = ""

    def load(self) -> Any:
        """The registered class (or factory), imported now."""
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)


class Registry:
    """Names of one kind of component, in registration order, each with a lazily imported class."""

    def __init__(self, kind: str, option: str | None = None) -> None:
        #: what the components are, for messages ("decoder", "text encoder")
        self.kind = kind
        #: the command-line option that chooses one, for messages ("--decoder")
        self.option = option
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, target: str, description: str = "") -> Entry:
        """Add component ``name``, built by ``target`` (``"package.module:Class"``)."""
        key = normalise(name)
        if key in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        if ":" not in target:
            raise ValueError(f"{self.kind} {name!r}: target must be 'module:attribute', not {target!r}")
        entry = Entry(name, target, description)
        self._entries[key] = entry
        return entry

    def names(self) -> tuple[str, ...]:
        """Every registered name, in registration order."""
        return tuple(e.name for e in self._entries.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and normalise(name) in self._entries

    def __iter__(self) -> Any:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, name: str) -> Entry:
        """The entry of ``name``; an unknown name is a ``ValueError`` listing the choices."""
        found = self._entries.get(normalise(name)) if isinstance(name, str) else None
        if found is None:
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names())}")
        return found

    def get(self, name: str) -> Any:
        """The class (or factory) registered as ``name``."""
        return self.entry(name).load()

    def make(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """An instance of component ``name`` built with ``args`` and ``kwargs``."""
        return self.get(name)(*args, **kwargs)

    def check(self, name: str) -> None:
        """Raise :class:`UsageError` naming the option when ``name`` is not registered
        (exact names only: this checks what a config file or flag says)."""
        if name not in self.names():
            option = self.option or self.kind
            raise UsageError(f"{option} must be {choices_text(self.names())}, not {name!r}")

    def choices(self, default: str | None = None) -> str:
        """The names as a sentence for help texts (``"distmult (default), complex or tucker"``)."""
        return choices_text(self.names(), default)


#: the models (``--model``): the MR-GCN of Wilcke et al., the plain KGE baselines and the
#: literal KGE models
MODELS = Registry("model", "--model")
MODELS.register("mrgcn", "rdf2mm.models.mrgcn:MRGCN", "multimodal R-GCN: literal encoders feeding R-GCN layers")
MODELS.register("transe", "rdf2mm.models.kge:TransEModel", "plain TransE: an entity table, no literals, no encoder")
MODELS.register("distmult", "rdf2mm.models.kge:DistMultModel", "plain DistMult: an entity table, no literals, no encoder")
MODELS.register("complex", "rdf2mm.models.kge:ComplExModel", "plain ComplEx: an entity table, no literals, no encoder")
MODELS.register("rotate", "rdf2mm.models.kge:RotatEModel", "plain RotatE: an entity table, no literals, no encoder")
MODELS.register("tucker", "rdf2mm.models.kge:TuckERModel", "plain TuckER: an entity table, no literals, no encoder")
MODELS.register("literale", "rdf2mm.models.literale:LiteralE",
                "LiteralE: an entity table gated with each entity's literal vector, on any --decoder")
MODELS.register("vlkge", "rdf2mm.models.vlkge:VLKGE",
                "VL-KGE-style: frozen image/text (and other) features projected and fused into an entity table")
MODELS.register("ikrl", "rdf2mm.models.ikrl:IKRL",
                "IKRL: attention over an entity's images beside a structure embedding, four TransE energies")
MODELS.register("mose", "rdf2mm.models.mose:MoSE",
                "MoSE: an embedding and a KGE score per modality, ensembled at inference (--ensemble)")
MODELS.register("momok", "rdf2mm.models.momok:MoMoK",
                "MoMoK: relation-guided experts per modality (--experts), a joint modality, TuckER scores, CLUB")

#: the models that are an entity table scored by the decoder of the same name: no
#: literals, no graph encoder
PLAIN_KGE_MODELS = ("transe", "distmult", "complex", "rotate", "tucker")

#: the models that read entity-level literal features (rdf2mm.encoding.entity_features):
#: an entity table fused with them (or one per modality), scored by KGE decoders; built by
#: their ``from_features`` classmethod
LITERAL_KGE_MODELS = ("literale", "vlkge", "ikrl", "mose", "momok")

#: every model that is an entity table (plain or fused with literal features) rather
#: than a graph encoder: full-batch training, no message passing; node classification in
#: two stages (link prediction for the embeddings, then a classifier on them:
#: rdf2mm.tasks.kge_classification)
KGE_MODELS = PLAIN_KGE_MODELS + LITERAL_KGE_MODELS

#: the plain KGE model each literal KGE model is measured against: its scorer on an entity
#: table alone (None: the model's ``--decoder``); IKRL scores TransE energies, MoMoK TuckER
PLAIN_COUNTERPARTS: dict[str, str | None] = {"literale": None, "vlkge": None, "mose": None,
                                             "ikrl": "transe", "momok": "tucker"}

#: the literal modalities of the models that read only some (IKRL attends over an entity's
#: images: ``rdf2mm.models.ikrl.IMAGE_MODALITY``); every other literal model and mrgcn read all
MODALITIES_READ: dict[str, tuple[str, ...]] = {"ikrl": ("visual",)}


def plain_counterpart(model: str, decoder: str) -> str | None:
    """The plain KGE model that is ``model`` without its literals (a literal KGE model's
    scorer, ``decoder`` where it takes one; a plain KGE model itself); None for mrgcn, whose
    structure-only form is itself with ``--modalities none``."""
    if model in PLAIN_KGE_MODELS:
        return model
    if model in LITERAL_KGE_MODELS:
        return PLAIN_COUNTERPARTS[model] or decoder
    return None


def reads_modality(model: str, modality: str) -> bool:
    """Whether ``model`` reads literals of ``modality`` (a plain KGE model reads none)."""
    if model in PLAIN_KGE_MODELS:
        return False
    return modality in MODALITIES_READ.get(model, (modality,))

#: triple scorers on top of the entity embeddings (link prediction)
DECODERS = Registry("decoder", "--decoder")
DECODERS.register("distmult", "rdf2mm.models.decoders:DistMult", "the MR-GCN paper's; symmetric in head and tail")
DECODERS.register("complex", "rdf2mm.models.decoders:ComplEx", "complex embeddings; asymmetric relations")
DECODERS.register("tucker", "rdf2mm.models.decoders:TuckER", "a shared core tensor")
DECODERS.register("transe", "rdf2mm.models.decoders:TransE", "translation, -||h + r - t||_1")
DECODERS.register("rotate", "rdf2mm.models.decoders:RotatE", "rotation in complex space, -||h o r - t||_2")

#: encoders of textual literals (``--text-encoder``)
TEXT_ENCODERS = Registry("text encoder", "--text-encoder")
TEXT_ENCODERS.register("charcnn", "rdf2mm.modalities.encoders.textual:CharCNN", "a character CNN trained end to end")
TEXT_ENCODERS.register("minilm", "rdf2mm.modalities.encoders.textual:FeatureMLP",
                       "an MLP on frozen all-MiniLM-L6-v2 sentence features (offline)")

#: encoders of visual literals (base64 images, ``--image-encoder``)
IMAGE_ENCODERS = Registry("image encoder", "--image-encoder")
IMAGE_ENCODERS.register("mobilenet", "rdf2mm.modalities.encoders.visual:MobileNetEncoder",
                        "a small MobileNet-style CNN trained from scratch")
IMAGE_ENCODERS.register("pretrained", "rdf2mm.modalities.encoders.textual:FeatureMLP",
                        "an MLP on frozen EfficientNet-Lite0 (ImageNet) features (offline)")
