"""The meta-judge's pure rules, on hand-worked cases."""

from __future__ import annotations

import math

import pytest

from self_rewarding.core.meta_judge import (
    Disagreement,
    consistent_winner,
    constrained_verdict_regex,
    hide_score,
    judge_pair_budget,
    most_disagreeing,
    parse_meta_verdict,
    render_meta_judge_prompt,
)


def test_hide_score_drops_score_lines_and_blanks_inline_scores():
    judgment = "Relevant and complete.\nIt misses one step.\nScore: 4"
    assert hide_score(judgment) == "Relevant and complete.\nIt misses one step."
    assert hide_score("Good, I give it score: 3 overall") == "Good, I give it  overall"
    assert hide_score("No number here.") == "No number here."


def test_most_disagreeing_takes_the_widest_spreads_with_their_extreme_judgments():
    scores = {
        "a": [1.0, 5.0, 3.0],  # spread 4: high is index 1, low index 0
        "b": [2.0, 2.0, 2.0],  # no disagreement
        "c": [None, 4.0, 2.0],  # spread 2; the unparseable judgment is left out
        "d": [3.0, None, math.nan],  # one valid score: nothing to compare
        "e": [2.0, 4.0],  # spread 2, after c in the candidates' order
    }
    assert most_disagreeing(scores, limit=10) == [
        Disagreement("a", high=1, low=0, spread=4.0),
        Disagreement("c", high=1, low=2, spread=2.0),
        Disagreement("e", high=1, low=0, spread=2.0),
    ]
    assert [d.candidate_id for d in most_disagreeing(scores, limit=2)] == ["a", "c"]
    assert most_disagreeing(scores, limit=0) == []


def test_the_meta_judge_prompt_holds_both_judgments_without_their_scores():
    prompt = render_meta_judge_prompt(
        "Name a prime.", "Nine.", "Wrong: nine is 3 x 3.\nScore: 0", "Correct.\nScore: 5"
    )
    assert "<judgment_a>Wrong: nine is 3 x 3.</judgment_a>" in prompt
    assert "<judgment_b>Correct.</judgment_b>" in prompt
    assert "<question>Name a prime.</question>" in prompt
    assert "Score: 0" not in prompt and "Score: 5" not in prompt


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("A is vaguer.\nWinner: Judgment B", "B"),
        ("winner: judgment a", "A"),
        ("Winner: **Judgment A**", "A"),
        ("First Winner: Judgment A, on reflection Winner: Judgment B", "B"),
        ("Judgment A is better.", None),  # no verdict line
        ("Winner: Judgment C", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_meta_verdict(text, verdict):
    assert parse_meta_verdict(text) == verdict


@pytest.mark.parametrize(
    ("high_first", "low_first", "winner"),
    [
        ("A", "B", "high"),  # the high-scored judgment wins in both orders
        ("B", "A", "low"),
        ("A", "A", None),  # always the first shown: order bias, no pair
        ("B", "B", None),
        (None, "B", None),
        ("A", None, None),
    ],
)
def test_a_winner_must_win_in_both_orders(high_first, low_first, winner):
    assert consistent_winner(high_first, low_first) == winner


def test_judge_pair_budget_keeps_the_share_of_the_dpo_data():
    # 30 answer pairs at 25 %: 10 judge pairs make 10 / 40 = 25 %.
    assert judge_pair_budget(30, 0.25) == 10
    assert judge_pair_budget(31, 0.25) == 10  # 10.33 -> 10, never above the share
    assert judge_pair_budget(3, 0.5) == 3
    assert judge_pair_budget(30, 0.0) == 0
    assert judge_pair_budget(0, 0.5) == 0
    with pytest.raises(ValueError, match=r"iteration\.meta_judge\.max_share: must be in \[0, 1\)"):
        judge_pair_budget(10, 1.0)


def test_the_constrained_verdict_ends_in_a_readable_winner():
    import re

    pattern = re.compile(constrained_verdict_regex(40))
    assert pattern.fullmatch("B is specific.\nWinner: Judgment B")
    assert not pattern.fullmatch("B is specific.")
    assert parse_meta_verdict("x" * 22 + "Winner: Judgment A") == "A"
    assert not pattern.fullmatch("x" * 23 + "Winner: Judgment A")  # over the token budget
