"""Pairwise agreement of judge scores with human ranks, on hand-computed cases."""

from __future__ import annotations

from self_rewarding.core.metrics import pairwise_agreement, total_agreement


def test_agreeing_disagreeing_tied_and_missing_pairs():
    # ranks 0 < 1 < 2 (0 best); scores 5, 5, 1 -> (0,1) tie, (0,2) agree, (1,2) agree
    result = pairwise_agreement([0, 1, 2], [5.0, 5.0, 1.0])
    assert (result.pairs, result.agree, result.ties, result.missing) == (3, 2, 1, 0)
    assert result.accuracy == 2.5 / 3
    assert result.strict_accuracy == 2 / 3


def test_reversed_order_and_unparseable_scores():
    result = pairwise_agreement([0, 1, 2], [1.0, None, 4.0])
    # (0,1) missing, (0,2) wrong, (1,2) missing
    assert (result.pairs, result.agree, result.ties, result.missing) == (3, 0, 0, 2)
    assert result.accuracy == 0.0


def test_equal_human_ranks_and_single_replies_give_no_pairs():
    assert pairwise_agreement([1, 1], [2.0, 3.0]).pairs == 0
    assert pairwise_agreement([0], [2.0]).accuracy == 0.0


def test_totals_pool_the_pairs_of_every_prompt():
    total = total_agreement(
        [pairwise_agreement([0, 1], [3.0, 1.0]), pairwise_agreement([0, 1], [2.0, 2.0])]
    )
    assert (total.pairs, total.agree, total.ties) == (2, 1, 1)
    assert total.accuracy == 0.75
