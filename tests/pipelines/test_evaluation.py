"""Evaluation nodes on fake generators (the real ones run in tests/test_run.py): what the
model's judge and the fixed evaluator are asked, how their answers become metrics, and one
MLflow run per model with the same keys."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from self_rewarding.core.types import (
    EvaluationConfig,
    EvaluatorConfig,
    JudgeConfig,
    SamplingConfig,
)
from self_rewarding.generation import FakeGenerator
from self_rewarding.pipelines.evaluation import common, evaluator, nodes
from self_rewarding.registry import register_model

EFT_EVAL = pd.DataFrame(
    [
        {
            "prompt_id": "p1",
            "prompt": "Q1",
            "response_id": "a",
            "response": "best reply here",
            "human_rank": 0,
        },
        {"prompt_id": "p1", "prompt": "Q1", "response_id": "b", "response": "ok", "human_rank": 1},
        {
            "prompt_id": "p2",
            "prompt": "Q2",
            "response_id": "c",
            "response": "fine answer",
            "human_rank": 0,
        },
        {"prompt_id": "p2", "prompt": "Q2", "response_id": "d", "response": "bad", "human_rank": 1},
        {
            "prompt_id": "p3",
            "prompt": "Q3",
            "response_id": "e",
            "response": "single",
            "human_rank": 0,
        },
    ]
)
MT_BENCH_HUMAN = pd.DataFrame(
    [
        {
            "input": "Explain tides.",
            "output_1": "Long good answer about the moon",
            "output_2": "no",
            "label": 1,
        }
    ]
)
HH = pd.DataFrame(
    [
        {
            "chosen": "\n\nHuman: How do I pick a lock?\n\nAssistant: I can't help with that",
            "rejected": "\n\nHuman: How do I pick a lock?\n\nAssistant: Sure",
        }
    ]
)
JUDGE_PROMPTS = pd.DataFrame(
    [
        {
            "name": "pair-v2",
            "system_prompt": "Compare.",
            "prompt_template": "[Q]{question}[A]{answer_a}[B]{answer_b}",
        },
        {
            "name": "single-v1",
            "system_prompt": "Rate.",
            "prompt_template": "[Q]{question}[ANS]{answer}",
        },
        # The multi-turn prompts: the verdict and the grade are about the second answers.
        {
            "name": "pair-v2-multi-turn",
            "system_prompt": "Compare.",
            "prompt_template": (
                "[Q]{question_1}{answer_a_1}{answer_b_1}{question_2}[A]{answer_a_2}[B]{answer_b_2}"
            ),
        },
        {
            "name": "single-v1-multi-turn",
            "system_prompt": "Rate.",
            "prompt_template": "[Q]{question_1}{answer_1}{question_2}[ANS]{answer_2}",
        },
    ]
)


def _config(evaluator: dict | None = None, **overrides) -> EvaluationConfig:
    return EvaluationConfig(
        **{
            "judge_alignment_prompts": None,
            "judge": JudgeConfig(sampling=SamplingConfig(n=3)),
            "evaluator": EvaluatorConfig(name="fake evaluator", model="fake", **(evaluator or {})),
            "comparisons": (("M2", "M1"),),
            "bootstrap_resamples": 200,
            **overrides,
        }
    )


def _longer_reply_scores_higher(prompt: str, index: int) -> str:
    response = re.search(r"<response>(.*?)</response>", prompt, re.S).group(1)
    return f"Fine.\nScore: {min(5, len(response.split()))}"


def test_the_judge_is_measured_against_human_rankings_and_pairs(tmp_path, monkeypatch):
    model_dir = tmp_path / "M1"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    generator = FakeGenerator(_longer_reply_scores_higher)
    monkeypatch.setattr(common, "model_generator", lambda model_dir, evaluation: generator)

    scores, metrics = nodes.evaluate_judge(model_dir, EFT_EVAL, MT_BENCH_HUMAN, HH, _config())

    # p3 has one reply only: left out of the sample (no human-ordered pair)
    oasst = scores[scores["source"] == "oasst1_validation"]
    assert list(oasst["response_id"]) == ["a", "b", "c", "d"]
    assert list(oasst["score"]) == [3.0, 1.0, 2.0, 1.0]
    assert set(scores.columns) >= {"prompt_id", "response_id", "human_rank", "score"}
    # Each human pair is two rows, better (rank 0) and worse, named by the pair.
    pairs = scores[scores["source"] != "oasst1_validation"]
    assert list(pairs["prompt_id"]) == ["mt_bench_human:0"] * 2 + ["hh_harmless:1"] * 2
    assert list(pairs["response_id"]) == ["better", "worse"] * 2
    assert metrics["judge_alignment.pairwise_accuracy"] == 1.0
    assert metrics["judge_alignment.tie_share"] == 0.0
    # A perfect judge on every prompt: every resample is perfect too.
    assert metrics["judge_alignment.pairwise_accuracy.ci_low"] == 1.0
    assert metrics["judge_alignment.pairwise_accuracy.ci_high"] == 1.0
    assert metrics["judge_alignment.parse_rate"] == 1.0
    # No reply scored 5: 5-best is undefined, not 0.
    assert metrics["judge_alignment.five_best"] is None
    assert metrics["judge_alignment.five_best_count"] == 0
    assert metrics["mt_bench_human.pairwise_accuracy"] == 1.0
    assert metrics["mt_bench_human.human_pairs"] == 1
    # "I can't help with that" (5 words) beats "Sure" (1 word): agrees with humans
    assert metrics["hh_harmless.pairwise_accuracy"] == 1.0
    assert "hh_harmless.spearman" not in metrics  # pair sets report pair metrics only
    assert metrics["monitor.self_score_length_correlation"] == pytest.approx(1.0)
    assert len(generator.calls[0][0]) == 4 + 2 + 2
    # Left open for the model's answer evaluation; the run's hooks stop it.
    assert not generator.closed


@pytest.mark.parametrize("native_bf16", [False, True])
def test_a_cpu_without_native_bf16_judges_the_smaller_sets(tmp_path, monkeypatch, native_bf16):
    from self_rewarding import hardware
    from self_rewarding.core.precision import Hardware

    model_dir = tmp_path / "M1"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    generator = FakeGenerator(_longer_reply_scores_higher)
    monkeypatch.setattr(common, "model_generator", lambda model_dir, evaluation: generator)
    cpu = Hardware(device="cpu", cpu_capability="AVX2", cpu_native_bf16=native_bf16)
    monkeypatch.setattr(hardware, "detect_hardware", lambda: cpu)
    smaller = {"judge_alignment_prompts": 1, "mt_bench_human_pairs": 0, "hh_harmless_pairs": 0}

    scores, _ = nodes.evaluate_judge(
        model_dir, EFT_EVAL, MT_BENCH_HUMAN, HH, _config(on_cpu_without_bf16=smaller)
    )

    # all sets: two ranked prompts of two replies, one MT-Bench and one HH pair
    assert len(scores) == (4 + 2 + 2 if native_bf16 else 2)


def test_the_judge_scores_in_its_mode_and_ties_count_wrong(tmp_path, monkeypatch):
    model_dir = tmp_path / "M1"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    # Every reply gets p = 0.5 on 4 and 0.5 on 2: expected score 3 everywhere, all ties.
    generator = FakeGenerator(
        lambda prompt, index: "Score: 4", lambda prompt, index: {"4": -0.6931, "2": -0.6931}
    )
    monkeypatch.setattr(common, "model_generator", lambda model_dir, evaluation: generator)
    config = _config(judge=JudgeConfig(mode="score_first"))

    scores, metrics = nodes.evaluate_judge(model_dir, EFT_EVAL, MT_BENCH_HUMAN, HH, config)

    assert list(scores["score"]) == [pytest.approx(3.0)] * len(scores)
    assert set(scores["scoring_mode"]) == {"score_first"}
    assert generator.calls[0][1].assistant_prefix == "Score: "
    assert metrics["judge_alignment.pairwise_accuracy"] == 0.0
    assert metrics["judge_alignment.tie_share"] == 1.0
    assert metrics["judge_alignment.pairwise_accuracy_ties_half"] == 0.5
    assert metrics["judge_alignment.constant_judge_share"] == 1.0
    assert metrics["judge_alignment.spearman"] == 0.0  # a constant judge counts 0
    # The self-score does not vary: its length correlation is undefined.
    assert metrics["monitor.self_score_length_correlation"] is None


def test_mt_bench_is_answered_in_two_turns_the_second_in_the_conversation(
    tiny_model_dir, monkeypatch
):
    generator = FakeGenerator(
        lambda prompt, index: "second" if prompt.startswith("<|im_start|>") else f"to {prompt}"
    )
    monkeypatch.setattr(common, "model_generator", lambda model_dir, evaluation: generator)
    alpaca = pd.DataFrame([{"instruction": "Say hi.", "dataset": "helpful_base"}])
    questions = pd.DataFrame(
        [{"question_id": 81, "category": "writing", "turns": ["Write a poem.", "Shorter."]}]
    )
    config = _config(alpaca_prompts=1, mt_bench_questions=1)

    answers = nodes.generate_eval_answers(tiny_model_dir, alpaca, questions, config)

    first, second = generator.calls
    assert first[0] == ["Say hi.", "Write a poem."]  # one user turn each
    (conversation,) = second[0]
    # the model's chat template with the first question, the model's own first answer
    # and the second question, ending where the assistant answers
    assert conversation.index("Write a poem.") < conversation.index("to Write a poem.")
    assert conversation.index("to Write a poem.") < conversation.index("Shorter.")
    assert conversation.startswith("<|im_start|>") and conversation.endswith("assistant\n")
    mt_bench = answers[answers["benchmark"] == "mt_bench"].iloc[0]
    assert (mt_bench["prompt_turn2"], mt_bench["answer_turn2"]) == ("Shorter.", "second")
    alpaca_row = answers[answers["benchmark"] == "alpaca_eval"].iloc[0]
    assert pd.isna(alpaca_row["answer_turn2"])


def _answers(model: str, words: int) -> pd.DataFrame:
    rows = [
        {
            "benchmark": "alpaca_eval",
            "item_id": str(i),
            "category": "",
            "prompt": f"Task {i}",
            "answer": "w " * words,
        }
        for i in range(2)
    ]
    rows.append(
        {
            "benchmark": "mt_bench",
            "item_id": "81",
            "category": "writing",
            "prompt": "Blog",
            "answer": "w " * words,
            "prompt_turn2": "Shorten it.",
            "answer_turn2": "v " * (10 - words),
        }
    )
    return pd.DataFrame(rows)


def _evaluator(prompt: str, index: int) -> str:
    if prompt.startswith("Compare."):
        a = re.search(r"\[A\](.*)\[B\]", prompt, re.S).group(1)
        b = prompt.split("[B]", 1)[1]
        return "[[A]]" if len(a) > len(b) else "[[B]]" if len(b) > len(a) else "[[C]]"
    if prompt.startswith("Rate."):
        return f"Rating: [[{min(10, len(prompt.split('[ANS]')[1].split()))}]]"
    return "Score: 3"


def test_the_evaluator_compares_both_orders_and_grades(monkeypatch, tmp_path):
    generator = FakeGenerator(_evaluator)
    monkeypatch.setattr(evaluator, "open_evaluator", lambda evaluation, credentials: generator)
    references = pd.DataFrame(
        [
            {"instruction": "Task 0", "output": "r " * 5},
            {"instruction": "Task 1", "output": "r " * 5},
        ]
    )
    scores = pd.DataFrame(
        {
            "source": ["oasst1_validation"] * 4,
            "response_id": ["a", "b", "c", "d"],
            "score": [3.0, 1.0, None, 2.0],
        }
    )

    judged, metrics = _judge_m1_and_m2(
        references, scores, _config({"chunk_dir": str(tmp_path / "chunks"), "chunk_size": 8})
    )

    # M2 (8 words) beats M1 (3 words) in both orders on both prompts
    assert metrics["M2.vs_M1.wins"] == 2 and metrics["M2.vs_M1.win_rate"] == 1.0
    assert metrics["M1.vs_gpt4_1106_preview.win_rate"] == 0.0  # 3 words < 5
    assert metrics["M2.vs_text_davinci_003.win_rate"] == 1.0
    assert metrics["M2.vs_text_davinci_003.win_rate_0-50_words"] == 1.0
    # MT-Bench, both turns: M2 answers 8 then 2 words, M1 3 then 7 (grades = words)
    assert metrics["M2.mt_bench.score_turn1"] == 8.0 and metrics["M2.mt_bench.score_turn2"] == 2.0
    assert metrics["M2.mt_bench.score"] == 5.0 and metrics["M2.mt_bench.score_writing"] == 5.0
    assert metrics["M2.vs_M1.mt_bench_turn1.wins"] == 1
    assert metrics["M2.vs_M1.mt_bench_turn2.losses"] == 1
    grades = judged[judged["task"] == "mt_bench_grade"]
    assert sorted(grades["turn"]) == [1, 1, 2, 2]
    assert metrics["M1.answers.alpaca_words_mean"] == 3.0
    assert metrics["gpt4_1106_preview.answers.alpaca_words_mean"] == 5.0
    assert metrics["evaluator.verdict_parse_rate"] == 1.0
    # M2 wins both prompts: the interval of a win rate of 1 over 2 items is (1, 1)
    assert metrics["M2.vs_M1.win_rate.ci_low"] == metrics["M2.vs_M1.win_rate.ci_high"] == 1.0
    # the evaluator gives every OASST reply 3: no variance, no defined agreement (null)
    assert metrics["M1.monitor.evaluator_agreement_spearman"] is None
    # The evaluator prefers the longer answer; MT-Bench's human judge preferred the
    # longer one too, in both orders: agreement 1 on 1 pair.
    assert metrics["evaluator.human_agreement.pairs"] == 1
    assert metrics["evaluator.human_agreement.strict"] == 1.0
    human = judged[judged["task"] == "human_agreement"]
    assert sorted(human["order"]) == ["model_first", "model_second"]
    pairs = judged[judged["task"] == "head_to_head"]
    assert sorted(pairs["order"]) == ["model_first", "model_first", "model_second", "model_second"]
    assert set(judged["evaluator"]) == {"fake evaluator"}
    assert generator.closed
    # the evaluator is asked chunk by chunk: its agreement first (2 human-pair verdicts),
    # then, trusted, 20 AlpacaEval + 4 MT-Bench verdicts, 4 grades, 4 OASST scores; the
    # chunks are gone once it is done
    assert [len(prompts) for prompts, _ in generator.calls] == [2, 8, 8, 8, 4, 4]
    assert metrics["evaluator.trusted"] == 1.0 and metrics["evaluator.win_rate_verdicts"] == 24
    assert list((tmp_path / "chunks").rglob("*.json")) == []


def _judge_m1_and_m2(references, scores, config):
    """The referee's stage on M1 (3-word answers) and M2 (8-word answers), both with
    ``scores`` for the OASST replies, the references as both AlpacaEval baselines."""
    return nodes.evaluate_instruction_following(
        JUDGE_PROMPTS,
        references,
        references,
        EFT_EVAL,
        MT_BENCH_HUMAN,
        config,
        {},
        answers_M1=_answers("M1", 3),
        answers_M2=_answers("M2", 8),
        scores_M1=scores,
        scores_M2=scores,
    )


def _shorter_answer_wins(prompt: str, index: int) -> str:
    """An evaluator that disagrees with MT-Bench's human judge (who preferred the longer
    answer) in both orders."""
    if prompt.startswith("Compare."):
        a = re.search(r"\[A\](.*)\[B\]", prompt, re.S).group(1)
        b = prompt.split("[B]", 1)[1]
        return "[[A]]" if len(a) < len(b) else "[[B]]" if len(b) < len(a) else "[[C]]"
    return _evaluator(prompt, index)


@pytest.mark.parametrize("skip", [True, False])
def test_an_untrusted_referee_is_asked_no_win_rate_verdicts(monkeypatch, tmp_path, skip):
    generator = FakeGenerator(_shorter_answer_wins)
    monkeypatch.setattr(evaluator, "open_evaluator", lambda evaluation, credentials: generator)
    references = pd.DataFrame([{"instruction": f"Task {i}", "output": "r " * 5} for i in (0, 1)])
    scores = pd.DataFrame({"source": ["oasst1_validation"], "response_id": ["a"], "score": [3.0]})
    settings = {"chunk_dir": str(tmp_path / "chunks"), "skip_win_rates_if_untrusted": skip}

    judged, metrics = _judge_m1_and_m2(references, scores, _config(settings))

    assert metrics["evaluator.human_agreement.strict"] == 0.0
    assert metrics["evaluator.trusted"] == 0.0
    asked = [len(prompts) for prompts, _ in generator.calls]
    if skip:
        # 2 human-pair verdicts, then only the grades and the OASST scores
        assert asked == [2, 4, 4]
        assert metrics["evaluator.win_rate_verdicts"] == 0
        assert not any(".vs_" in key for key in metrics)
        assert set(judged["task"]) == {"human_agreement", "mt_bench_grade", "oasst_score"}
    else:
        assert asked == [2, 24, 4, 4]
        assert metrics["evaluator.win_rate_verdicts"] == 24
        assert metrics["M2.vs_M1.losses"] == 2
    assert metrics["M2.mt_bench.score_turn1"] == 8.0  # the grades are asked either way


def test_a_referee_measured_on_no_human_pairs_is_not_trusted(monkeypatch, tmp_path):
    generator = FakeGenerator(_evaluator)
    monkeypatch.setattr(evaluator, "open_evaluator", lambda evaluation, credentials: generator)
    references = pd.DataFrame([{"instruction": "Task 0", "output": "r r"}])
    scores = pd.DataFrame({"source": ["oasst1_validation"], "response_id": ["a"], "score": [3.0]})

    _, metrics = _judge_m1_and_m2(
        references, scores, _config({"chunk_dir": str(tmp_path / "chunks")}, mt_bench_human_pairs=0)
    )

    assert metrics["evaluator.human_agreement.pairs"] == 0
    assert metrics["evaluator.trusted"] == 0.0 and metrics["evaluator.win_rate_verdicts"] == 0
    assert [len(prompts) for prompts, _ in generator.calls] == [4, 4]


def test_summary_table_plots_and_one_mlflow_run_per_model(tmp_path):
    import mlflow
    from mlflow.tracking import MlflowClient

    judge_metrics = {
        "M1": {"judge_alignment.pairwise_accuracy": 0.6, "judge_alignment.parse_rate": 1.0},
        "M2": {"judge_alignment.pairwise_accuracy": 0.55, "judge_alignment.parse_rate": 1.0},
    }
    following = {
        "M2.vs_M1.win_rate": 0.75,
        "M2.vs_M1.win_rate.ci_low": 0.5,
        "M2.vs_M1.win_rate.ci_high": 1.0,
        "M2.vs_M1.strict_win_rate": 0.5,
        "M2.vs_M1.strict_win_rate.ci_low": 0.0,
        "M2.vs_M1.strict_win_rate.ci_high": 1.0,
        "M2.vs_M1.wins": 2.0,
        "M2.vs_M1.ties": 2.0,
        "M2.vs_M1.losses": 0.0,
        # A referee that agrees with the human judges more often than a coin.
        "evaluator.human_agreement.strict": 0.7,
        "evaluator.human_agreement.strict.ci_low": 0.6,
        "evaluator.human_agreement.strict.ci_high": 0.8,
    }

    def judged(right: bool) -> pd.DataFrame:
        # Three prompts of two replies; the judge orders each right or each wrong.
        return pd.DataFrame(
            [
                {
                    "source": "oasst1_validation",
                    "prompt_id": f"p{k}",
                    "response_id": f"p{k}-{rank}",
                    "human_rank": rank,
                    "score": float(rank if not right else 1 - rank),
                    "top_score": False,
                }
                for k in range(3)
                for rank in (0, 1)
            ]
        )

    summary, table = nodes.summarise_evaluation(
        following, _config(), **judge_metrics, scores_M1=judged(True), scores_M2=judged(False)
    )

    assert [row["model"] for row in summary] == ["M1", "M2"]
    assert summary[1]["vs_previous.win_rate"] == 0.75  # M2 vs M1, named by role
    # M2's judge is wrong where M1's is right, on every prompt: -1 in every resample.
    assert summary[1]["judge_difference.vs_previous"] == -1.0
    assert summary[1]["judge_difference.vs_previous.ci_high"] == -1.0
    assert "| M2 | 0.550 |" in table and "fake evaluator" in table
    assert (
        "| M2 vs M1 | -1.000 [-1.000, -1.000] | significant | 0.500 [0.000, 1.000] "
        "| 0.750 [0.500, 1.000] | 2/2/0 | within noise |" in table
    )
    # The same win rate under a referee whose agreement interval contains 0.5.
    coin = {**following, "evaluator.human_agreement.strict.ci_low": 0.45}
    _, untrusted = nodes.summarise_evaluation(
        coin, _config(), **judge_metrics, scores_M1=judged(True), scores_M2=judged(False)
    )
    assert "0.750 [0.500, 1.000]" not in untrusted
    assert "| 2/2/0 | referee not trusted |" in untrusted
    assert "(referee not trusted)" in untrusted
    # An untrusted referee that was not asked (skip_win_rates_if_untrusted): no counts.
    not_asked = {k: v for k, v in coin.items() if not k.startswith("M2.vs_M1.")}
    _, untrusted = nodes.summarise_evaluation(
        not_asked, _config(), **judge_metrics, scores_M1=judged(True), scores_M2=judged(False)
    )
    assert (
        "| M2 vs M1 | -1.000 [-1.000, -1.000] | significant | referee not trusted "
        "| referee not trusted | referee not trusted | referee not trusted |" in untrusted
    )
    scores = pd.DataFrame({"score": [1.0, 2.0, None]})
    figures = nodes.plot_evaluation(summary, scores_M1=scores, scores_M2=scores)
    assert len(figures) == 3
    figures[0].savefig(tmp_path / "by_model.png")
    assert (tmp_path / "by_model.png").stat().st_size > 1000

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    try:
        # M2 is in the registry, M1 not: only M2's numbers name a model version.
        (tmp_path / "M2").mkdir()
        with mlflow.start_run() as making:
            registered = register_model(
                tmp_path / "M2", "m2", making.info.run_id, {"sha256": "ab" * 32}
            )
        with mlflow.start_run():
            run_ids = nodes.log_model_runs(summary, _config())
        client = MlflowClient(uri)
        runs = {m: client.get_run(r) for m, r in run_ids.items()}
    finally:
        mlflow.set_tracking_uri(None)
    assert set(runs["M1"].data.metrics) == {
        "judge_alignment.pairwise_accuracy",
        "judge_alignment.parse_rate",
    }
    assert runs["M2"].data.metrics["vs_previous.win_rate"] == 0.75
    assert runs["M2"].data.tags["iteration"] == "1" and runs["M2"].data.tags["model"] == "M2"
    assert runs["M2"].data.tags["model_version"] == str(registered.version)
    assert runs["M2"].data.tags["model_sha256"] == "ab" * 32
    assert "model_version" not in runs["M1"].data.tags
    assert runs["M1"].data.tags["iteration"] == "0"
    # DVC plots read it as strict JSON: every value a finite number or a string
    assert json.loads(json.dumps(summary, allow_nan=False)) == [
        {"model": "M1", **judge_metrics["M1"]},
        {"model": "M2", **judge_metrics["M2"], "vs_previous.win_rate": 0.75}
        | {"vs_previous.win_rate.ci_low": 0.5, "vs_previous.win_rate.ci_high": 1.0}
        | {"vs_previous.strict_win_rate": 0.5, "vs_previous.strict_win_rate.ci_low": 0.0}
        | {"vs_previous.strict_win_rate.ci_high": 1.0}
        | {f"vs_previous.{k}": v for k, v in (("wins", 2.0), ("ties", 2.0), ("losses", 0.0))}
        | {f"judge_difference.vs_previous{k}": -1.0 for k in ("", ".ci_low", ".ci_high")},
    ]


def test_summary_has_ifeval_per_model_and_paired_steps():
    def checked(passes: list[bool]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "key": list(range(len(passes))),
                "strict": [[p] for p in passes],
                "loose": [[p] for p in passes],
            }
        )

    baseline, m1 = checked([False] * 30), checked([True] * 30)
    summary, table = nodes.summarise_evaluation(
        {}, _config(), sft_baseline={}, M1={}, ifeval_sft_baseline=baseline, ifeval_M1=m1
    )
    assert [row["ifeval.prompt_loose"] for row in summary] == [0.0, 1.0]
    assert "IFEval, checked by code (no referee): 30 prompts" in table
    # M1 passes every prompt the baseline fails: +1 in every resample.
    assert (
        "| M1 - sft_baseline | +1.000 [+1.000, +1.000] | significant "
        "| +1.000 [+1.000, +1.000] | significant |" in table
    )


def test_probability_verdicts_average_the_orders_and_agreement_clusters_by_question():
    import math

    from self_rewarding.pipelines.evaluation.evaluator import (
        _evaluator_human_agreement,
        item_outcome,
    )

    def logs(a, b, c):
        return {"A": math.log(a), "B": math.log(b), "C": math.log(c)}

    def pair(item: str, question: str, first: dict, second: dict) -> list[dict]:
        return [
            {
                "item_id": item,
                "question_id": question,
                "order": order,
                "verdict": None,
                "label_logprobs": found,
            }
            for order, found in (("model_first", first), ("model_second", second))
        ]

    # Position bias (A at 0.7, then A at 0.5 with the answer as B at 0.4): averaged, the
    # answer under test wins 0.55 to 0.35, where written verdicts A and A would be a tie.
    biased = pd.DataFrame(pair("x", "q", logs(0.7, 0.2, 0.1), logs(0.5, 0.4, 0.1)))
    assert item_outcome(biased) == "win"
    written = biased.assign(label_logprobs=None, verdict=["A", "A"])
    assert item_outcome(written) == "tie"

    # Question a: three pairs the referee gets right; question b: one it gets wrong.
    right, wrong = (logs(0.8, 0.1, 0.1), logs(0.1, 0.8, 0.1)), (logs(0.1, 0.8, 0.1),) * 2
    rows = pd.DataFrame(
        [
            *pair("a1", "a", *right),
            *pair("a2", "a", *right),
            *pair("a3", "a", *right),
            *pair("b1", "b", wrong[0], logs(0.8, 0.1, 0.1)),
        ]
    )
    metrics = _evaluator_human_agreement(rows, _config())
    assert metrics["evaluator.human_agreement.strict"] == 0.75
    assert metrics["evaluator.human_agreement.questions"] == 2
    # Resampling the two questions: {a, a} 1.0, {a, b} 0.75, {b, b} 0.0.
    assert metrics["evaluator.human_agreement.strict.ci_low"] == 0.0
    assert metrics["evaluator.human_agreement.strict.ci_high"] == 1.0
