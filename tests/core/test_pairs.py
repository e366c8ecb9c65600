"""Best-vs-worst pair selection: ties, missing scores, all-invalid prompts."""

from __future__ import annotations

import math

import pytest

from self_rewarding.core.pairs import PairChoice, select_pair, why_no_pair


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
