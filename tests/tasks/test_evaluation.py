"""Ranking metrics: ranks computed by hand, ties, filtering, batching, random baseline."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from rdf2mm.models.decoders import make_decoder
from rdf2mm.tasks.evaluation import (
    TrueIndex,
    expected_hits,
    filtered_candidate_counts,
    random_mrr,
    rank_from_scores,
    rank_queries,
    rank_triples,
    ranking_metrics,
)


def test_rank_ties_are_realistic_not_optimistic():
    # true = index 0 (0.5): one better (0.9), two equal others (indices 2, 4).
    scores = torch.tensor([[0.5, 0.9, 0.5, 0.1, 0.5]])
    rank = rank_from_scores(scores, torch.tensor([0]))
    # optimistic 2, pessimistic 4 -> realistic 3
    assert rank.tolist() == [3.0]


def test_rank_all_equal_scores_get_middle_rank():
    scores = torch.zeros(2, 4)
    assert rank_from_scores(scores, torch.tensor([0, 3])).tolist() == [2.5, 2.5]


def test_filter_removes_other_true_answers_but_never_the_ranked_one():
    scores = torch.tensor([[0.5, 0.9, 0.5, 0.1, 0.5]])
    mask = torch.tensor([[True, True, True, False, False]])  # index 0 is the ranked one: ignored
    # left: 0 (true), 3 (lower), 4 (tie) -> optimistic 1, pessimistic 2
    assert rank_from_scores(scores, torch.tensor([0]), mask).tolist() == [1.5]


def test_nan_score_is_ranked_last():
    scores = torch.tensor([[float("nan"), 0.1, -5.0]])
    assert rank_from_scores(scores, torch.tensor([0])).tolist() == [3.0]


def test_true_index_csr_lookup():
    triples = np.array([[0, 0, 1], [0, 0, 2], [0, 1, 3], [4, 0, 1], [0, 0, 2]])
    tails = TrueIndex.build(triples, "tail", num_relations=2)
    heads = TrueIndex.build(triples, "head", num_relations=2)
    assert tails.answers_of(0, 0).tolist() == [1, 2]  # duplicate (0,0,2) stored once
    assert tails.answers_of(0, 1).tolist() == [3]
    assert tails.answers_of(3, 0).tolist() == []
    assert heads.answers_of(1, 0).tolist() == [0, 4]
    rows, ans = tails.lookup(np.array([4, 0, 9]), np.array([0, 0, 1]))
    assert rows.tolist() == [0, 1, 1] and ans.tolist() == [1, 1, 2]


def _table_scorer(table: torch.Tensor):
    def scorer(anchor, rel, s, e):
        return table[anchor, s:e]
    return scorer


def test_rank_triples_by_hand_with_ties_and_filtering():
    # 5 entities, 1 relation. Tail scores of (h, r, ?) are row h; head scores of (?, r, t) row t.
    tail_table = torch.tensor([
        [0.0, 0.5, 0.9, 0.5, 0.2],
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [0.1, 0.2, 0.3, 0.4, 0.5],
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0],
    ])
    head_table = torch.tensor([
        [0.0] * 5,
        [0.7, 0.1, 0.7, 0.7, 0.0],  # heads of (?, r, 1)
        [0.0] * 5,
        [0.0] * 5,
        [0.0] * 5,
    ])
    test = np.array([[0, 0, 1]])
    known = np.array([[0, 0, 2], [2, 0, 1], [0, 0, 1]])  # train triples plus the test triple
    ranks = rank_triples(
        test, 5, _table_scorer(tail_table), _table_scorer(head_table),
        TrueIndex.build(known, "tail", 1), TrueIndex.build(known, "head", 1),
    )
    # tail: 1 scores 0.5; raw: 2 above (0.9), 3 ties -> 1 + (2 + 1) / 2 = 2.5; filtered: drop 2 -> 1.5
    assert ranks.tail_raw.tolist() == [2.5]
    assert ranks.tail.tolist() == [1.5]
    # head: 0 scores 0.7, ties with 2 and 3 -> raw 2; filtered drops 2 (true (2, r, 1)) -> 1.5
    assert ranks.head_raw.tolist() == [2.0]
    assert ranks.head.tolist() == [1.5]
    m = ranks.metrics()
    assert m["mrr"] == pytest.approx((1 / 1.5 + 1 / 1.5) / 2)
    assert m["mrr_raw"] == pytest.approx((1 / 2.5 + 1 / 2.0) / 2)
    assert m["hits@1"] == 0.0 and m["hits@3"] == 1.0


def test_candidate_chunking_gives_the_same_ranks():
    rng = np.random.default_rng(0)
    E, R, n = 57, 3, 40
    # Integer scores: many ties, so chunk boundaries must not change tie handling.
    table = torch.as_tensor(rng.integers(0, 4, size=(E, R, E)).astype(np.float32))

    def scorer(a, r, s, e):
        return table[a, r, s:e]

    known = np.stack([rng.integers(0, E, 300), rng.integers(0, R, 300), rng.integers(0, E, 300)], 1)
    q = known[:n]
    index = TrueIndex.build(known, "tail", R)
    full_f, full_r = rank_queries(scorer, q[:, 0], q[:, 1], q[:, 2], E, index, memory_budget=2**30)
    small_f, small_r = rank_queries(scorer, q[:, 0], q[:, 1], q[:, 2], E, index, memory_budget=16 * 10)
    assert np.array_equal(full_f, small_f) and np.array_equal(full_r, small_r)
    # and both agree with the dense reference implementation
    scores = table[torch.as_tensor(q[:, 0]), torch.as_tensor(q[:, 1])]
    mask = torch.zeros(n, E, dtype=torch.bool)
    rows, ans = index.lookup(q[:, 0], q[:, 1])
    mask[torch.as_tensor(rows), torch.as_tensor(ans)] = True
    ref = rank_from_scores(scores, torch.as_tensor(q[:, 2]), mask).numpy()
    assert np.array_equal(full_f, ref)
    assert (full_f <= full_r).all()


def test_metrics_are_fractions():
    m = ranking_metrics(np.array([1.0, 2.0, 4.0, 20.0]), np.array([1.0, 2.0, 4.0, 20.0]))
    assert m["mrr"] == pytest.approx((1 + 0.5 + 0.25 + 0.05) / 4)
    assert m["hits@1"] == 0.25 and m["hits@3"] == 0.5 and m["hits@10"] == 0.75
    assert 0 <= m["mrr"] <= 1


def test_random_baseline_matches_simulation():
    assert random_mrr(np.array([1])) == 1.0
    assert random_mrr(np.array([2])) == pytest.approx(0.75)
    counts = np.array([5, 10, 50])
    rng = np.random.default_rng(1)
    sims = []
    for n in counts:
        scores = torch.as_tensor(rng.random((20000, n)))
        sims.append((1.0 / rank_from_scores(scores, torch.zeros(20000, dtype=torch.long))).mean().item())
    assert random_mrr(counts) == pytest.approx(np.mean(sims), abs=0.01)
    assert expected_hits(np.array([5, 20]), 10) == pytest.approx((1.0 + 0.5) / 2)


def test_filtered_candidate_counts():
    known = np.array([[0, 0, 1], [0, 0, 2], [0, 0, 3]])
    idx = TrueIndex.build(known, "tail", 1)
    assert filtered_candidate_counts(np.array([0]), np.array([0]), np.array([1]), 10, idx).tolist() == [8]


@pytest.mark.parametrize("name", ["distmult", "complex", "tucker", "transe", "rotate"])
def test_decoder_batched_scores_match_single_scores(name):
    torch.manual_seed(0)
    dec = make_decoder(name, num_relations=3, dim=8)
    emb = torch.randn(6, 8)
    h = torch.tensor([0, 1, 5])
    r = torch.tensor([2, 0, 1])
    t = torch.tensor([3, 3, 4])
    single = dec.score(emb[h], r, emb[t])
    all_tails = dec.score_all_tails(emb[h], r, emb)
    all_heads = dec.score_all_heads(emb[t], r, emb)
    assert torch.allclose(all_tails[torch.arange(3), t], single, atol=1e-5)
    assert torch.allclose(all_heads[torch.arange(3), h], single, atol=1e-5)
    if name != "distmult":  # DistMult is symmetric; the others must not be
        assert not torch.allclose(dec.score(emb[t], r, emb[h]), single)
