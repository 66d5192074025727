"""Components chosen by name from one table each (rdf2mm.models.registry)."""
from __future__ import annotations

import inspect

import pytest

from rdf2mm.config import TASK_DEFAULTS, TrainConfig
from rdf2mm.errors import UsageError
from rdf2mm.models.decoders import Decoder, make_decoder
from rdf2mm.models.registry import DECODERS, IMAGE_ENCODERS, MODELS, TEXT_ENCODERS, Registry, choices_text
from rdf2mm.tasks.settings import LPSettings, NCSettings


def test_tables_hold_todays_names():
    assert MODELS.names() == ("mrgcn", "transe", "distmult", "complex", "rotate", "tucker", "literale", "vlkge",
                              "ikrl", "mose", "momok")
    assert DECODERS.names() == ("distmult", "complex", "tucker", "transe", "rotate")
    assert TEXT_ENCODERS.names() == ("charcnn", "minilm")
    assert IMAGE_ENCODERS.names() == ("mobilenet", "pretrained")


@pytest.mark.parametrize("table", [MODELS, DECODERS, TEXT_ENCODERS, IMAGE_ENCODERS])
def test_every_entry_loads_a_class(table):
    for name in table.names():
        assert inspect.isclass(table.get(name)), name


def test_make_decoder_reads_the_table():
    for name in DECODERS.names():
        dec = make_decoder(name, num_relations=3, dim=8)
        assert isinstance(dec, Decoder) and dec.name == name
    assert make_decoder("ComplEx", 3, 8).name == "complex"  # case and dashes do not matter, as before
    assert make_decoder("dist-mult", 3, 8).name == "distmult"
    with pytest.raises(ValueError, match="unknown decoder 'nope'; choose one of distmult, complex, tucker, transe, rotate"):
        make_decoder("nope", 3, 8)


def test_a_new_component_is_one_registration():
    table = Registry("decoder", "--decoder")
    table.register("distmult", "rdf2mm.models.decoders:DistMult")
    table.register("mine", "rdf2mm.models.decoders:TuckER")
    assert table.names() == ("distmult", "mine") and "Mine" in table
    assert table.make("mine", 3, 8).name == "tucker"
    assert table.choices("distmult") == "distmult (default) or mine"
    with pytest.raises(ValueError, match="registered twice"):
        table.register("MINE", "rdf2mm.models.decoders:DistMult")
    with pytest.raises(ValueError, match="module:attribute"):
        table.register("other", "DistMult")


def test_validate_names_the_registered_choices():
    for field, option, message in (("decoder", "--decoder", "distmult, complex, tucker, transe or rotate"),
                                   ("text_encoder", "--text-encoder", "charcnn or minilm"),
                                   ("image_encoder", "--image-encoder", "mobilenet or pretrained")):
        cfg = TrainConfig(graph=["g.nt"], **{field: "nope"}).resolve()
        with pytest.raises(UsageError, match=f"^{option} must be {message}, not 'nope'$"):
            cfg.validate()


def test_choices_text():
    assert choices_text(("a",)) == "a"
    assert choices_text(("a", "b", "c"), "b") == "a, b (default) or c"


def test_task_defaults_come_from_the_settings_classes():
    # today's values, pinned: a run resolves exactly these
    assert TASK_DEFAULTS == {
        "node-classification": {"embed_dim": 32, "hidden": 32, "layers": 2, "weight_decay": 5e-4, "patience": 30,
                                "patience_steps": 0, "batch_size": 512, "aggregation": "auto", "literals": "merged",
                                "entity_dropout": 0.5, "encoder_refresh": "auto"},
        "link-prediction": {"embed_dim": 64, "hidden": 64, "layers": 1, "weight_decay": 0.0, "patience": 10,
                            "patience_steps": 100, "batch_size": 4096, "aggregation": "mean", "literals": "split", "entity_dropout": 0.0,
                            "encoder_refresh": "1"},
    }
    for task, cls in (("node-classification", NCSettings), ("link-prediction", LPSettings)):
        cfg = TrainConfig(graph=["g.nt"], task=task).resolve()
        settings = cls.from_config(cfg)
        # an unresolved config builds the same settings: the classes hold the same defaults
        assert cls.from_config(TrainConfig(graph=["g.nt"], task=task)) == settings
        for name in cls.__dataclass_fields__:
            assert getattr(settings, name) == getattr(cfg, name), (task, name)


def test_old_import_places_still_work():
    from rdf2mm.tasks.link_prediction import LPSettings as lp
    from rdf2mm.tasks.node_classification import NCSettings as nc

    assert lp is LPSettings and nc is NCSettings
