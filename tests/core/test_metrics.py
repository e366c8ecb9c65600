"""Agreement of judge scores with human rankings (Table 4), head-to-head outcomes and
win rates, on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from self_rewarding.core.metrics import (
    AlignmentCounts,
    alignment_metrics,
    combine_orders,
    judge_alignment,
    kendall_tau_b,
    length_bucket,
    pairwise_agreement,
    prompt_alignment,
    spearman,
    total_agreement,
    win_rate,
)


def test_agreeing_disagreeing_tied_and_missing_pairs():
    # ranks 0 < 1 < 2 (0 best); scores 5, 5, 1 -> (0,1) tie, (0,2) agree, (1,2) agree
    result = pairwise_agreement([0, 1, 2], [5.0, 5.0, 1.0])
    assert (result.pairs, result.agree, result.ties, result.missing) == (3, 2, 1, 0)
    assert result.strict_accuracy == 2 / 3
    assert result.ties_half_accuracy == 2.5 / 3
    assert result.tie_share == 1 / 3 and result.missing_share == 0.0


def test_reversed_order_and_unparseable_scores():
    result = pairwise_agreement([0, 1, 2], [1.0, None, 4.0])
    # (0,1) missing, (0,2) wrong, (1,2) missing
    assert (result.pairs, result.agree, result.ties, result.missing) == (3, 0, 0, 2)
    assert result.strict_accuracy == 0.0 and result.ties_half_accuracy == 0.0
    assert result.missing_share == 2 / 3


def test_equal_human_ranks_and_single_replies_give_no_pairs_and_no_accuracy():
    assert pairwise_agreement([1, 1], [2.0, 3.0]).pairs == 0
    single = pairwise_agreement([0], [2.0])
    assert single.strict_accuracy is None and single.ties_half_accuracy is None
    assert single.tie_share is None and single.missing_share is None


def test_totals_pool_the_pairs_of_every_prompt():
    total = total_agreement(
        [pairwise_agreement([0, 1], [3.0, 1.0]), pairwise_agreement([0, 1], [2.0, 2.0])]
    )
    assert (total.pairs, total.agree, total.ties) == (2, 1, 1)
    assert total.strict_accuracy == 0.5
    assert total.ties_half_accuracy == 0.75


def _rows(prompt_id, ranks, scores, top_scores=None):
    rows = [
        {"prompt_id": prompt_id, "human_rank": r, "score": s}
        for r, s in zip(ranks, scores, strict=True)
    ]
    for row, top in zip(rows, top_scores or [], strict=False):
        row["top_score"] = top
    return rows


# Prompt p2 below: goodness (-rank) 0, -1, -2 against scores 1, 2, 2. By hand:
# Spearman: ranks 3, 2, 1 vs 1, 2.5, 2.5 -> deviations (1, 0, -1) and (-1, .5, .5):
#   rho = -1.5 / sqrt(2 * 1.5) = -sqrt(3) / 2.
# Kendall tau-b: pairs (0,1) and (0,2) discordant, (1,2) tied in the score only:
#   tau = (0 - 2) / sqrt((0 + 2 + 0) * (0 + 2 + 1)) = -2 / sqrt(6).
RHO_P2 = -math.sqrt(3) / 2
TAU_P2 = -2 / math.sqrt(6)


def test_scipy_rank_correlations_equal_the_hand_computed_values():
    assert spearman([0, -1, -2], [1.0, 2.0, 2.0]) == pytest.approx(RHO_P2)
    assert kendall_tau_b([0, -1, -2], [1.0, 2.0, 2.0]) == pytest.approx(TAU_P2)
    assert spearman([1, 2, 3], [10.0, 30.0, 20.0]) == pytest.approx(0.5)
    assert kendall_tau_b([1, 2, 3], [10.0, 30.0, 20.0]) == pytest.approx(1 / 3)


def test_rank_correlations_are_none_when_undefined():
    assert spearman([0, -1], [3.0, 3.0]) is None  # a constant side
    assert kendall_tau_b([1, 1, 1], [1.0, 2.0, 3.0]) is None
    assert spearman([0], [1.0]) is None and kendall_tau_b([], []) is None


def test_table4_metrics_on_a_hand_computed_case():
    replies = [
        # p1: judge agrees fully: pairs (0,1),(0,2),(1,2) all agree; exact match
        *_rows("p1", [0, 1, 2], [5.0, 3.0, 1.0]),
        # p2: one tie (1,2 scored 2 and 2) and two reversed pairs
        *_rows("p2", [0, 1, 2], [1.0, 2.0, 2.0]),
        # p3: a single reply: no pair, no correlation
        *_rows("p3", [0], [5.0]),
        # p4: all scores equal: every pair a tie, a constant judge (rank statistics 0)
        *_rows("p4", [0, 1], [3.0, 3.0]),
        # p5: an unparseable score: its pair is missing (wrong), one scored reply left
        *_rows("p5", [0, 1], [None, 4.0]),
    ]
    metrics = judge_alignment(replies, n_answers=30, n_parsed=27)

    assert (metrics["replies"], metrics["prompts"]) == (11, 5)
    # pairs: p1 3 agree; p2 (0,1) wrong, (0,2) wrong, (1,2) tie; p4 tie; p5 missing
    assert metrics["human_pairs"] == 8
    assert metrics["pairwise_accuracy"] == pytest.approx(3 / 8)  # ties count wrong
    assert metrics["pairwise_accuracy_ties_half"] == pytest.approx((3 + 0.5 * 2) / 8)
    assert metrics["tie_share"] == pytest.approx(2 / 8)
    assert metrics["missing_share"] == pytest.approx(1 / 8)
    # scored 5: p1's first (rank 0) and p3's only reply (rank 0)
    assert metrics["five_best_count"] == 2 and metrics["five_best"] == 1.0
    # exact match over prompts with pairs (p1, p2, p4, p5): only p1
    assert metrics["exact_match"] == pytest.approx(1 / 4)
    # rank statistics over p1 (1), p2 (hand-computed) and p4 (constant judge: 0);
    # p3 has one reply, p5 one scored reply
    assert metrics["rank_prompts"] == 3
    assert metrics["spearman"] == pytest.approx((1 + RHO_P2 + 0) / 3)
    assert metrics["kendall_tau"] == pytest.approx((1 + TAU_P2 + 0) / 3)
    assert metrics["constant_judge_share"] == pytest.approx(1 / 3)
    assert metrics["parse_rate"] == pytest.approx(0.9)


def test_five_best_uses_the_top_score_flag_over_the_mean():
    replies = [
        # samples 5, 5, 4: mean 4.67 but not every sample 5 -> not top-scored
        *_rows("p1", [0, 1], [4.67, 2.0], top_scores=[False, False]),
        # every sample 5, humans ranked it second
        *_rows("p2", [0, 1], [4.0, 5.0], top_scores=[False, True]),
        # every sample 5, humans ranked it first
        *_rows("p3", [0, 1], [5.0, 5.0], top_scores=[True, True]),
        # no flag: the mean's threshold (4.5) decides -> top-scored, ranked first
        *_rows("p4", [0, 1], [4.5, 1.0]),
    ]
    metrics = judge_alignment(replies)
    # top-scored: p2 rank 1, p3 rank 0, p3 rank 1, p4 rank 0 -> 2 of 4 ranked first
    assert metrics["five_best_count"] == 4
    assert metrics["five_best"] == 0.5


def test_a_judge_that_gives_no_five_has_no_five_best():
    metrics = judge_alignment(_rows("p", [0, 1], [4.0, 2.0]))
    assert metrics["five_best_count"] == 0 and metrics["five_best"] is None
    assert metrics["exact_match"] == 1.0


def test_without_human_ordered_pairs_every_agreement_metric_is_none():
    metrics = judge_alignment([*_rows("p1", [0], [3.0]), *_rows("p2", [1, 1], [2.0, 3.0])])
    assert metrics["human_pairs"] == 0 and metrics["rank_prompts"] == 0
    for key in (
        "pairwise_accuracy",
        "pairwise_accuracy_ties_half",
        "tie_share",
        "missing_share",
        "exact_match",
        "spearman",
        "kendall_tau",
        "constant_judge_share",
        "five_best",
    ):
        assert metrics[key] is None, key
    assert "parse_rate" not in metrics  # no counts given


def test_a_constant_judge_counts_zero_in_the_rank_statistics():
    metrics = judge_alignment(_rows("p", [0, 1, 2], [4.0, 4.0, 4.0]))
    assert (metrics["spearman"], metrics["kendall_tau"]) == (0.0, 0.0)
    assert metrics["rank_prompts"] == 1 and metrics["constant_judge_share"] == 1.0
    assert metrics["pairwise_accuracy"] == 0.0
    assert metrics["pairwise_accuracy_ties_half"] == 0.5 and metrics["tie_share"] == 1.0


def test_a_constant_judge_lowers_the_mean_of_a_perfect_one():
    metrics = judge_alignment(
        [*_rows("good", [0, 1], [5.0, 1.0]), *_rows("flat", [0, 1, 2], [2.0, 2.0, 2.0])]
    )
    assert metrics["spearman"] == pytest.approx(0.5)
    assert metrics["kendall_tau"] == pytest.approx(0.5)
    assert metrics["constant_judge_share"] == 0.5


def test_an_all_unparseable_judge_is_wrong_on_every_pair():
    metrics = judge_alignment(_rows("p", [0, 1, 2], [None, None, None]), 6, 0)
    assert metrics["pairwise_accuracy"] == 0.0
    assert metrics["pairwise_accuracy_ties_half"] == 0.0
    assert metrics["missing_share"] == 1.0 and metrics["tie_share"] == 0.0
    assert metrics["exact_match"] == 0.0
    assert metrics["spearman"] is None and metrics["rank_prompts"] == 0
    assert metrics["five_best"] is None
    assert metrics["parse_rate"] == 0.0


def test_parse_rate_without_answers_is_none():
    assert judge_alignment(_rows("p", [0, 1], [2.0, 1.0]), 0, 0)["parse_rate"] is None


def test_counts_of_a_partly_scored_prompt():
    # the unscored reply leaves the rank statistics; ranks 0, 2 of the rest still vary
    counts = prompt_alignment(_rows("p", [0, 1, 2], [3.0, None, 1.0]))
    assert (counts.prompts, counts.replies, counts.top_scored) == (1, 3, 0)
    assert (counts.pairs, counts.agree, counts.ties, counts.missing) == (3, 1, 0, 2)
    assert (counts.paired_prompts, counts.exact_prompts, counts.rank_prompts) == (1, 0, 1)
    assert counts.spearman_sum == pytest.approx(1.0)
    assert counts.kendall_sum == pytest.approx(1.0)
    assert counts.constant_judge_prompts == 0


def test_adding_counts_pools_prompts_a_repeated_prompt_counting_twice():
    once = prompt_alignment(_rows("p", [0, 1, 2], [5.0, 5.0, 1.0]))
    other = prompt_alignment(_rows("q", [0, 1], [2.0, 2.0]))
    pooled = once + once + other
    assert (pooled.prompts, pooled.replies, pooled.pairs) == (3, 8, 7)
    assert (pooled.agree, pooled.ties, pooled.top_scored, pooled.top_scored_best) == (4, 3, 4, 2)
    assert (pooled.rank_prompts, pooled.constant_judge_prompts) == (3, 1)
    metrics = alignment_metrics(pooled)
    assert metrics["pairwise_accuracy"] == pytest.approx(4 / 7)
    assert metrics["five_best"] == 0.5
    assert metrics["constant_judge_share"] == pytest.approx(1 / 3)
    assert alignment_metrics(AlignmentCounts())["pairwise_accuracy"] is None


# Every combination of the two orders' verdicts (None: unreadable). As in FastChat's
# MT-Bench, only a verdict kept in both orders decides; position bias (A, A), a tie or
# an unreadable verdict in either order is a tie.
@pytest.mark.parametrize(
    ("first", "swapped", "outcome"),
    [
        ("A", "A", "tie"),
        ("A", "B", "win"),
        ("A", "tie", "tie"),
        ("A", None, "tie"),
        ("B", "A", "loss"),
        ("B", "B", "tie"),
        ("B", "tie", "tie"),
        ("B", None, "tie"),
        ("tie", "A", "tie"),
        ("tie", "B", "tie"),
        ("tie", "tie", "tie"),
        ("tie", None, "tie"),
        (None, "A", "tie"),
        (None, "B", "tie"),
        (None, "tie", "tie"),
        (None, None, "tie"),
    ],
)
def test_both_orders_combine_into_one_outcome(first, swapped, outcome):
    assert combine_orders(first, swapped) == outcome


def test_win_rate_counts_ties_half_and_strictly():
    assert win_rate(["win", "tie", "loss", "win"]) == {
        "n": 4.0,
        "wins": 2.0,
        "ties": 1.0,
        "losses": 1.0,
        "win_rate": 0.625,
        "strict_win_rate": 0.5,
        "tie_share": 0.25,
    }


def test_win_rate_without_outcomes_is_none():
    empty = win_rate([])
    assert empty["n"] == 0.0
    assert empty["win_rate"] is None and empty["strict_win_rate"] is None
    assert empty["tie_share"] is None


def test_win_rate_rejects_an_unknown_outcome():
    with pytest.raises(ValueError, match="draw"):
        win_rate(["win", "draw"])


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
    assert with_nan["rank_prompts"] == 0.0 and with_nan["spearman"] is None
