"""Best-vs-worst pair selection: ties, missing scores, all-invalid prompts."""

from __future__ import annotations

import math
import random

import pytest

from self_rewarding.core.pairs import (
    PairChoice,
    check_length_control_rho,
    select_pair,
    why_no_pair,
)


def test_highest_against_lowest():
    assert select_pair([3.0, 4.5, None, 1.0]) == PairChoice(1, 3, 4.5, 1.0)


def test_first_of_equal_best_and_worst_is_taken():
    assert select_pair([2.0, 5.0, 5.0, 2.0]) == PairChoice(1, 0, 5.0, 2.0)


@pytest.mark.parametrize(
    ("scores", "reason"),
    [
        ([4.0, 4.0, 4.0, 4.0], "tie"),
        ([3.0, None, 3.0, math.nan], "tie"),
        ([3.0, None, None, None], "fewer_than_2_valid"),
        ([None, None, None, None], "fewer_than_2_valid"),
        ([math.nan, math.nan], "fewer_than_2_valid"),
        ([], "fewer_than_2_valid"),
    ],
)
def test_no_pair_and_why(scores, reason):
    assert select_pair(scores) is None
    assert why_no_pair(scores) == reason


def test_a_valid_pair_has_no_reason():
    assert why_no_pair([1.0, 2.0]) is None


# Length control (Meta-Rewarding): scores 5, 4, 3, 1, 2 span 4; at rho = 0.25 the near-best
# window is [4, 5] and the near-worst [1, 2], both edges included.
SCORES = [5.0, 4.0, 3.0, 1.0, 2.0]
LENGTHS = [100, 40, 10, 20, 90]


def test_length_control_takes_shortest_near_best_and_longest_near_worst():
    assert select_pair(SCORES, LENGTHS, 0.25) == PairChoice(1, 4, 4.0, 2.0)


def test_length_control_windows_exclude_scores_outside_rho():
    # rho = 0.2: near-best [4.2, 5] and near-worst [1, 1.8] hold only the extremes.
    assert select_pair(SCORES, LENGTHS, 0.2) == PairChoice(0, 3, 5.0, 1.0)


def test_rho_zero_is_the_papers_rule_whatever_the_lengths():
    assert select_pair(SCORES, LENGTHS, 0.0) == select_pair(SCORES) == PairChoice(0, 3, 5.0, 1.0)


def test_length_control_keeps_the_first_of_equal_lengths_and_skips_invalid_scores():
    scores = [4.0, None, 5.0, 1.0, math.nan, 1.5]
    lengths = [30, 1, 30, 50, 999, 50]
    assert select_pair(scores, lengths, 0.3) == PairChoice(0, 3, 4.0, 1.0)


def test_length_control_never_pairs_a_candidate_with_itself_or_reverses_the_scores():
    rng = random.Random(0)
    for _ in range(2000):
        n = rng.randint(2, 6)
        scores = [rng.choice([None, *[x / 4 for x in range(21)]]) for _ in range(n)]
        lengths = [rng.randint(1, 50) for _ in range(n)]
        rho = rng.choice([0.0, 0.1, 0.25, 0.4, 0.49])
        choice = select_pair(scores, lengths, rho)
        assert (choice is None) == (why_no_pair(scores) is not None)
        if choice is not None:
            assert choice.chosen != choice.rejected
            assert choice.chosen_score > choice.rejected_score


def test_length_control_needs_a_length_per_candidate():
    with pytest.raises(ValueError, match="one length per candidate"):
        select_pair(SCORES, None, 0.25)
    with pytest.raises(ValueError, match="one length per candidate"):
        select_pair(SCORES, LENGTHS[:3], 0.25)


@pytest.mark.parametrize("rho", [0.5, -0.1, 1, math.nan, True, "0.2"])
def test_rho_outside_zero_to_half_is_refused_by_name(rho):
    with pytest.raises(ValueError, match=r"iter2\.length_control_rho"):
        check_length_control_rho(rho, "iter2.length_control_rho")
    with pytest.raises(ValueError, match="length_control_rho"):
        select_pair(SCORES, LENGTHS, rho)


def test_min_margin_drops_pairs_within_the_judges_noise():
    assert select_pair([4.0, 3.8], min_margin=0.3) is None
    assert select_pair([4.0, 3.6], min_margin=0.3) == PairChoice(0, 1, 4.0, 3.6)
    # Under length control the margin is the chosen and rejected candidates' own, 0.7
    # here (the shortest near-best, 3.9, against the longest near-worst, 3.2), not the
    # score range of 1.0.
    scores, lengths = [4.0, 3.9, 3.0, 3.2], [9, 1, 1, 9]
    assert select_pair(scores, lengths, 0.4, min_margin=0.8) is None
    assert select_pair(scores, lengths, 0.4, min_margin=0.6) == PairChoice(1, 3, 3.9, 3.2)
    with pytest.raises(ValueError, match="min_margin"):
        select_pair([4.0, 1.0], min_margin=-1)
