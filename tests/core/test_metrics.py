"""Agreement of judge scores with human rankings (Table 4), head-to-head outcomes and
win rates, on hand-computed cases and against scipy."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats

from self_rewarding.core.metrics import (
    average_ranks,
    combine_orders,
    judge_alignment,
    kendall_tau_b,
    length_bucket,
    pairwise_agreement,
    spearman,
    total_agreement,
    win_rate,
)


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


def _rows(prompt_id, ranks, scores):
    return [
        {"prompt_id": prompt_id, "human_rank": r, "score": s}
        for r, s in zip(ranks, scores, strict=True)
    ]


def test_table4_metrics_on_a_hand_computed_case():
    replies = [
        # p1: judge agrees fully: pairs (0,1),(0,2),(1,2) all agree; exact match
        *_rows("p1", [0, 1, 2], [5.0, 3.0, 1.0]),
        # p2: one tie (1,2 scored 2 and 2) and one reversed pair (0 scored below 1)
        *_rows("p2", [0, 1, 2], [1.0, 2.0, 2.0]),
        # p3: a single reply: no pair, no correlation
        *_rows("p3", [0], [5.0]),
        # p4: all scores equal: every pair a tie, correlation undefined
        *_rows("p4", [0, 1], [3.0, 3.0]),
        # p5: an unparseable score: its pair is missing (wrong)
        *_rows("p5", [0, 1], [None, 4.0]),
    ]
    metrics = judge_alignment(replies, n_answers=30, n_parsed=27)

    # pairs: p1 3 agree; p2 (0,1) wrong, (0,2) wrong, (1,2) tie; p4 tie; p5 missing
    assert metrics["human_pairs"] == 8
    assert metrics["pairwise_accuracy"] == pytest.approx((3 + 0.5 * 2) / 8)
    assert metrics["pairwise_accuracy_strict"] == pytest.approx(3 / 8)
    assert metrics["tie_share"] == pytest.approx(2 / 8)
    assert metrics["missing_share"] == pytest.approx(1 / 8)
    # scored 5: p1's first (rank 0) and p3's only reply (rank 0)
    assert metrics["scored_five"] == 2 and metrics["five_best"] == 1.0
    # exact match over prompts with pairs (p1, p2, p4, p5): only p1
    assert metrics["exact_match"] == pytest.approx(1 / 4)
    # correlations over p1 (rho 1, tau 1) and p2; p4 constant, p5 has one score
    rho_p2 = stats.spearmanr([0, -1, -2], [1.0, 2.0, 2.0]).statistic
    tau_p2 = stats.kendalltau([0, -1, -2], [1.0, 2.0, 2.0]).statistic
    assert metrics["correlated_prompts"] == 2
    assert metrics["spearman"] == pytest.approx((1 + rho_p2) / 2)
    assert metrics["kendall_tau"] == pytest.approx((1 + tau_p2) / 2)
    assert metrics["parse_rate"] == pytest.approx(0.9)


def test_a_judge_that_gives_no_five_has_no_five_best():
    metrics = judge_alignment(_rows("p", [0, 1], [4.0, 2.0]))
    assert metrics["scored_five"] == 0 and metrics["five_best"] == 0.0
    assert metrics["exact_match"] == 1.0


def test_average_ranks_share_tied_positions():
    assert average_ranks([10, 20, 20, 5]) == [2.0, 3.5, 3.5, 1.0]


def test_correlations_match_scipy_on_random_data_with_ties():
    rng = random.Random(0)
    for _ in range(50):
        n = rng.randint(2, 8)
        xs = [rng.randint(0, 3) for _ in range(n)]
        ys = [rng.choice([0, 1, 2, 2.5, 5]) for _ in range(n)]
        expected_rho = stats.spearmanr(xs, ys).statistic
        expected_tau = stats.kendalltau(xs, ys).statistic
        if math.isnan(expected_rho):  # a constant side
            assert spearman(xs, ys) is None
        else:
            assert spearman(xs, ys) == pytest.approx(expected_rho)
        if math.isnan(expected_tau):
            assert kendall_tau_b(xs, ys) is None
        else:
            assert kendall_tau_b(xs, ys) == pytest.approx(expected_tau)


@pytest.mark.parametrize(
    ("first", "swapped", "outcome"),
    [
        ("A", "B", "win"),
        ("B", "A", "loss"),
        ("A", "A", "tie"),  # position bias: A wins in both orders
        ("tie", "tie", "tie"),
        ("A", "tie", "win"),
        (None, "B", "win"),
        (None, None, "tie"),
    ],
)
def test_both_orders_combine_into_one_outcome(first, swapped, outcome):
    assert combine_orders(first, swapped) == outcome


def test_win_rate_counts_ties_half():
    assert win_rate(["win", "tie", "loss", "win"]) == {
        "n": 4.0,
        "wins": 2.0,
        "ties": 1.0,
        "losses": 1.0,
        "win_rate": 0.625,
    }
    assert win_rate([])["win_rate"] == 0.0


@pytest.mark.parametrize(
    ("words", "bucket"),
    [(0, "0-50"), (49, "0-50"), (50, "50-100"), (199, "100-200"), (500, "200+")],
)
def test_length_buckets(words, bucket):
    assert length_bucket(words) == bucket


def test_nan_scores_count_as_missing_like_none():
    # pandas stores a missing mean score as NaN: it must not count as a score.
    with_none = judge_alignment(_rows("p", [0, 1, 2], [None, 3.0, None]))
    with_nan = judge_alignment(_rows("p", [0, 1, 2], [math.nan, 3.0, math.nan]))
    assert with_nan == with_none
    assert with_nan["missing_share"] == 1.0
    assert with_nan["correlated_prompts"] == 0.0
