"""The ``iteration`` pipeline run by Kedro's SequentialRunner on a fake generator and a
fake DPO (both real elsewhere: tests/generation, tests/train, tests/test_run.py): what
each step writes, the counts it reports, and the gates that stop a run."""

from __future__ import annotations

import math
import re
from functools import partial
from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from self_rewarding.core import self_instruct
from self_rewarding.core.provenance import sample_seed
from self_rewarding.core.self_instruct import SELF_INSTRUCT_HEADER
from self_rewarding.core.types import (
    GateConfig,
    IterationConfig,
    JudgeConfig,
    LauncherConfig,
    MetaJudgeConfig,
    SamplingConfig,
    SelfInstructConfig,
)
from self_rewarding.generation import FakeGenerator
from self_rewarding.generation.verdicts import VerdictReader
from self_rewarding.pipelines.iteration import generation_steps
from self_rewarding.pipelines.iteration import pairs as pair_nodes
from self_rewarding.pipelines.iteration.pipeline import create_pipeline
from self_rewarding.validation.expectations import DataValidationError

SEED_PROMPTS = [
    "Explain how vaccines train the immune system.",
    "Write a short poem about autumn leaves falling.",
    "What are the main causes of inflation in an economy?",
    "Give me three tips for learning a new language quickly.",
    "Summarise the plot of Romeo and Juliet in two sentences.",
    "How do I make a simple tomato sauce at home?",
    "Compare electric cars and petrol cars on running costs.",
    "Describe the water cycle for a ten year old child.",
]
NEW_TASKS = [
    " Suggest a weekend itinerary for a rainy city break.",
    " Draw a picture of a dragon.",  # blocked keyword
    " Hi there",  # too short
    " Explain how vaccines train the immune system.",  # duplicate of a seed
    " List five uses of baking soda around the house.",
    "   ",  # nothing to parse
    " Explain why the sky looks blue during the day.",
    " Write a polite email declining a meeting invitation.",
]


class KeptDataset(MemoryDataset):
    """A MemoryDataset the runner does not release, so the test can read every output."""

    def _release(self) -> None:
        pass


class FakeModel:
    """Answers self-instruct, candidate and judge prompts as a small model might."""

    def __init__(self, judge=None, meta_judge=None):
        self.self_instruct_calls = 0
        # By default longer answers score higher: 1, 2, 3, 4 for the four candidates.
        self.judge = judge or (lambda response, i: f"Fine.\nScore: {response.count('!') // 3 + 1}")
        # By default the meta-judge always prefers the judgment shown first.
        self.meta_judge = meta_judge or (lambda judgment_a, judgment_b: "Winner: Judgment A")

    tasks = NEW_TASKS

    def __call__(self, prompt: str, index: int) -> str:
        if prompt.startswith(SELF_INSTRUCT_HEADER):
            task = self.tasks[self.self_instruct_calls % len(self.tasks)]
            self.self_instruct_calls += 1
            return task
        if "<judgment_a>" in prompt:
            a, b = (
                re.search(rf"<judgment_{x}>(.*?)</judgment_{x}>", prompt, re.S).group(1)
                for x in "ab"
            )
            return self.meta_judge(a, b)
        if "<response>" in prompt:
            response = re.search(r"<response>(.*?)</response>", prompt, re.S).group(1)
            return self.judge(response, index)
        return "An answer" + "!" * (index * 3)


def _config(meta_judge: MetaJudgeConfig | None = None, **gates) -> IterationConfig:
    return IterationConfig(
        self_instruct=SelfInstructConfig(n_prompts=4, prompts_per_round=4, max_rounds=3),
        candidates=SamplingConfig(n=4),
        judge=JudgeConfig(sampling=SamplingConfig(n=3)),
        meta_judge=meta_judge or MetaJudgeConfig(),
        gates=GateConfig(**{"min_prompts": 1, "min_pairs": 1, **gates}),
    )


JUDGE_PROMPTS = Path(__file__).resolve().parents[2] / "data/01_raw/mt_bench/judge_prompts.jsonl"


class ExclaimingReferee(VerdictReader):
    """A referee (``VerdictReader`` without a model) that prefers the answer with more
    "!": fixed log-probabilities, 0.7 for that answer's label."""

    def __init__(self, referee, precision, max_prompt_tokens):
        self.verdicts, self.seconds = 0, 0.0

    def read(self, prompts):
        found = []
        for prompt in prompts:
            answer_a = prompt.split("[The Start of Assistant A's Answer]")[1].split("[The End")[0]
            answer_b = prompt.split("[The Start of Assistant B's Answer]")[1].split("[The End")[0]
            a_wins = answer_a.count("!") > answer_b.count("!")
            probabilities = (0.7, 0.2, 0.1) if a_wins else (0.2, 0.7, 0.1)
            found.append({k: math.log(p) for k, p in zip("ABC", probabilities, strict=True)})
            self.verdicts += 1
        return found

    def close(self):
        pass


@pytest.fixture
def run_iteration(tmp_path, monkeypatch):
    """Runs iteration 1 on fakes; returns the catalog (or raises what the run raised)."""
    model_in = tmp_path / "M1"
    model_in.mkdir()
    (model_in / "config.json").write_text("{}")

    def run(fake_model: FakeModel, config: IterationConfig) -> DataCatalog:
        generator = FakeGenerator(fake_model)
        monkeypatch.setattr(
            generation_steps, "open_engine", lambda model_dir, generation, shared: generator
        )

        def fake_dpo(
            model_path,
            pairs,
            output_dir,
            trainer_config,
            metrics_prefix=None,
            *,
            precision,
            launcher,
        ):
            assert precision == "auto"
            assert launcher == LauncherConfig()  # one process, in the node's own
            (output_dir / "trained_on.txt").write_text(str(len(pairs)))
            return {"train_pairs": float(len(pairs))}

        monkeypatch.setattr("self_rewarding.train.dpo.train_dpo", fake_dpo)
        monkeypatch.setattr("self_rewarding.generation.verdicts.VerdictReader", ExclaimingReferee)
        config = IterationConfig(
            **{
                **{f: getattr(config, f) for f in config.__dataclass_fields__},
                "generation": type(config.generation)(chunk_dir=str(tmp_path / "chunks")),
            }
        )
        pipeline = create_pipeline(iteration_count=1)
        catalog = DataCatalog()
        catalog["model_M1"] = model_in
        catalog["ift_train"] = pd.DataFrame({"prompt": SEED_PROMPTS})
        catalog["params:iteration"] = config
        catalog["params:length_control_rho"] = 0.0
        catalog["params:pairs.min_margin"] = 0.0
        catalog["mt_bench_judge_prompts"] = pd.read_json(JUDGE_PROMPTS, lines=True)
        catalog["params:dpo"] = {"trainer": {}}
        for name in pipeline.all_outputs():
            catalog[name] = KeptDataset()
        SequentialRunner().run(pipeline, catalog)
        return catalog

    return run


def test_one_iteration_writes_every_artifact(run_iteration):
    config = _config()
    catalog = run_iteration(FakeModel(), config)

    prompts = catalog.load("iter1.generated_prompts")
    accepted = prompts[prompts["accepted"]]
    assert list(accepted["prompt"]) == [
        "Suggest a weekend itinerary for a rainy city break.",
        "List five uses of baking soda around the house.",
        "Explain why the sky looks blue during the day.",
        "Write a polite email declining a meeting invitation.",
    ]
    reasons = dict(zip(prompts["generation"].str.strip(), prompts["reason"], strict=True))
    assert reasons["Draw a picture of a dragon."] == "blocked_keyword"
    assert reasons["Hi there"] == "too_short"
    assert reasons["Explain how vaccines train the immune system."] == "duplicate"
    assert reasons[""] == "unparseable"
    assert {"model_path", "model_sha256", "template_sha256", "seed", "iteration"} <= set(prompts)

    candidates = catalog.load("iter1.candidates")
    assert len(candidates) == 4 * 4
    assert set(candidates.columns) >= {
        "prompt_id",
        "prompt",
        "candidate_id",
        "response",
        "n_tokens",
        "finish_reason",
    }
    # Every row records the sampler seed that produced it: one per prompt and sample.
    seeds = {
        (row.prompt, int(row.candidate_id.rsplit("-", 1)[1])): row.seed
        for row in candidates.itertuples()
    }
    assert seeds == {key: sample_seed(config.candidates.seed, *key) for key in seeds}
    assert len(set(seeds.values())) == len(seeds)
    assert set(candidates["backend"]) == {"fake"} and set(candidates["precision"]) == {"fp32"}
    judgments = catalog.load("iter1.judgments")
    assert len(judgments) == 16 * 3
    # The meta-judge is off by default: no comparisons, no judge pairs.
    assert catalog.load("iter1.meta_judgments").empty
    assert catalog.load("iter1.meta_judge_metrics")["compared"] == 0
    assert catalog.load("iter1.dpo_metrics")["judge_pairs"] == 0
    assert judgments["score"].notna().all()
    assert judgments["seed"].nunique() == 16 * 3

    pairs = catalog.load("iter1.preference_pairs")
    assert len(pairs) == 4
    assert (pairs["chosen_score"] > pairs["rejected_score"]).all()
    assert set(pairs["chosen"]) == {"An answer!!!!!!!!!"}
    assert set(pairs["rejected"]) == {"An answer"}
    assert catalog.load("iter1.pairs_metrics")["pairs"] == 4.0
    # The referee prefers every chosen answer in both orders: precision 1.
    precision = catalog.load("iter1.pair_precision_metrics")
    assert (precision["pairs"], precision["precision"]) == (4.0, 1.0)
    assert precision["position_consistency"] == 1.0
    assert set(catalog.load("iter1.pair_verdicts")["outcome"]) == {"win"}

    model_out = catalog.load("model_M2")
    assert (model_out / "trained_on.txt").read_text() == "4"
    metrics = catalog.load("iter1.self_instruct_metrics")
    assert metrics["accepted"] == 4.0
    assert metrics["rejected_blocked_keyword"] == 1.0
    assert metrics["rejected_too_similar"] == 0.0  # every reason is a key, zeros included


def test_later_few_shot_prompts_hold_two_generated_prompts(run_iteration, monkeypatch):
    seen = []
    original = self_instruct.build_self_instruct_prompt
    monkeypatch.setattr(
        self_instruct,
        "build_self_instruct_prompt",
        lambda ex: seen.append(list(ex)) or original(ex),
    )
    model = FakeModel()
    model.tasks = [
        " Suggest a weekend itinerary for a rainy city break.",
        " List five uses of baking soda around the house.",
        " Explain why the sky looks blue during the day.",
        " Write a polite email declining a meeting invitation.",
        " Recommend a board game for a family of four.",
        " How should a beginner start running safely?",
        " Translate 'good morning' into French and Spanish.",
        " What is a healthy breakfast for busy students?",
    ]
    config = _config()
    config = IterationConfig(
        self_instruct=SelfInstructConfig(n_prompts=8, prompts_per_round=4, max_rounds=3),
        candidates=config.candidates,
        judge=config.judge,
        gates=config.gates,
    )
    run_iteration(model, config)

    first_round, later_rounds = seen[:4], seen[4:]
    assert all(set(ex) <= set(SEED_PROMPTS) for ex in first_round)
    assert later_rounds and all(
        sum(e not in SEED_PROMPTS for e in ex) == 2 and len(ex) == 8 for ex in later_rounds
    )


def test_unparseable_judge_answers_are_counted_not_a_crash(run_iteration):
    def judge(response, index):
        return "I cannot decide." if index == 0 else f"Score: {len(response) % 6}"

    catalog = run_iteration(FakeModel(judge), _config())

    judgments = catalog.load("iter1.judgments")
    assert judgments["score"].isna().sum() == 16
    metrics = catalog.load("iter1.judge_metrics")
    assert metrics["parse_rate"] == pytest.approx(2 / 3)
    assert metrics["n_parsed"] == 32.0


def test_a_collapsed_judge_stops_the_run_before_pairs(run_iteration):
    with pytest.raises(DataValidationError, match="The judge collapsed") as raised:
        run_iteration(FakeModel(lambda response, index: "Score: 4"), _config())

    assert "expect_column_stdev_to_be_between" in str(raised.value)


def test_too_few_parsed_scores_stop_the_run(run_iteration):
    judge = lambda response, index: "No verdict." if index else "Score: 1"  # noqa: E731
    with pytest.raises(DataValidationError, match="parse rate below"):
        run_iteration(FakeModel(judge), _config(min_score_std=0.0))


def test_too_few_pairs_stop_the_run(run_iteration):
    with pytest.raises(DataValidationError, match="Too few preference pairs"):
        run_iteration(FakeModel(), _config(min_pairs=5))


def _pairs(scores_by_prompt: dict[str, list]) -> tuple[pd.DataFrame, pd.DataFrame]:
    candidates, judgments = [], []
    for pid, samples in scores_by_prompt.items():
        for k, candidate_scores in enumerate(samples):
            cid = f"{pid}-{k}"
            candidates.append(
                {
                    "prompt_id": pid,
                    "prompt": f"Prompt {pid}",
                    "candidate_id": cid,
                    "response": "word " * (k + 1),
                    "n_tokens": k + 1,
                    "finish_reason": "stop",
                    "model_path": "M1",
                    "model_sha256": "0" * 64,
                    "seed": 0,
                }
            )
            for s, score in enumerate(candidate_scores):
                judgments.append(
                    {
                        "prompt_id": pid,
                        "candidate_id": cid,
                        "sample": s,
                        "judge_text": f"Score: {score}",
                        "score": score,
                        "scoring_mode": "sampled",
                        "constrained": False,
                        "seed": s,
                    }
                )
    return pd.DataFrame(candidates), pd.DataFrame(judgments)


def test_pairs_take_best_against_worst_mean_and_count_the_rest():
    candidates, judgments = _pairs(
        {
            "clear": [[5, 4, None], [1, 2, 3], [3, 3, 3]],  # means 4.5, 2, 3
            "tie": [[3, None, 3], [3, 3, 3]],
            "one_valid": [[4, 4, 4], [None, None, None]],
            "all_invalid": [[None, None, None], [None, None, None]],
        }
    )
    pairs, metrics = pair_nodes.build_preference_pairs(candidates, judgments, {}, t=1)

    assert list(pairs["prompt_id"]) == ["clear"]
    assert pairs.loc[0, "chosen_candidate_id"] == "clear-0"
    assert pairs.loc[0, "rejected_candidate_id"] == "clear-1"
    assert (pairs.loc[0, "chosen_score"], pairs.loc[0, "rejected_score"]) == (4.5, 2.0)
    assert metrics["no_pair_tie"] == 1.0
    assert metrics["no_pair_fewer_than_2_valid"] == 2.0
    assert metrics["tie_rate"] == 0.25
    assert list(pairs.columns)[:6] == [
        "prompt_id",
        "prompt",
        "chosen",
        "rejected",
        "chosen_score",
        "rejected_score",
    ]


def test_no_valid_score_anywhere_gives_no_pairs():
    candidates, judgments = _pairs({"a": [[None], [None]], "b": [[None], [None]]})
    pairs, metrics = pair_nodes.build_preference_pairs(candidates, judgments, {}, t=2)

    assert pairs.empty
    assert metrics["pairs"] == 0.0
    assert metrics["no_pair_fewer_than_2_valid"] == 2.0
    # Undefined, not zero: no pair has a length, no score a correlation.
    assert metrics["score_length_correlation"] is None
    assert metrics["chosen_words_mean"] is None
    assert metrics["chosen_score_mean"] is None


def test_length_control_pairs_the_shortest_near_best_with_the_longest_near_worst():
    # Candidate k has k + 1 words; means 4.5, 5, 1, 1.5 span 4, so at rho = 0.25 the
    # near-best window [4, 5] holds candidates 0 and 1, the near-worst [1, 2] 2 and 3.
    candidates, judgments = _pairs({"p": [[4.5], [5], [1], [1.5]]})

    paper, paper_metrics = pair_nodes.build_preference_pairs(candidates, judgments, {}, t=1)
    controlled, metrics = pair_nodes.build_preference_pairs(
        candidates, judgments, {}, t=1, length_control_rho=0.25
    )

    assert (paper.loc[0, "chosen_candidate_id"], paper.loc[0, "rejected_candidate_id"]) == (
        "p-1",
        "p-2",
    )
    assert (
        controlled.loc[0, "chosen_candidate_id"],
        controlled.loc[0, "rejected_candidate_id"],
    ) == ("p-0", "p-3")
    assert (paper_metrics["chosen_words_mean"], paper_metrics["rejected_words_mean"]) == (2, 3)
    assert (metrics["chosen_words_mean"], metrics["rejected_words_mean"]) == (1, 4)


def test_a_margin_below_min_margin_gives_no_pair_and_is_counted():
    # Margins: "wide" 4.5 - 2 = 2.5, "narrow" 3.2 - 3 = 0.2.
    candidates, judgments = _pairs({"wide": [[4.5], [2]], "narrow": [[3.2], [3]]})
    every, every_metrics = pair_nodes.build_preference_pairs(candidates, judgments, {}, t=1)
    kept, metrics = pair_nodes.build_preference_pairs(
        candidates, judgments, {}, t=1, min_margin=0.5
    )

    assert sorted(every["prompt_id"]) == ["narrow", "wide"]
    assert every_metrics["no_pair_below_min_margin"] == 0.0
    assert list(kept["prompt_id"]) == ["wide"]
    assert metrics["no_pair_below_min_margin"] == 1.0
    assert metrics["margin_mean"] == 2.5


def test_length_control_rho_out_of_range_names_the_iteration_parameter():
    candidates, judgments = _pairs({"p": [[4.5], [5], [1], [1.5]]})
    with pytest.raises(ValueError, match=r"^length_control_rho: must be in \[0, 0\.5\)"):
        pair_nodes.build_preference_pairs(candidates, judgments, {}, t=2, length_control_rho=0.7)
    pairs = partial(pair_nodes.build_preference_pairs, candidates, judgments, {})
    with pytest.raises(ValueError, match=r"length_control_rho\.iter2: must be in \[0, 0\.5\)"):
        pairs(t=2, length_control_rho={"default": 0.0, "iter2": 0.7})
    with pytest.raises(ValueError, match=r"length_control_rho: keys are 'default' and iter<t>"):
        pairs(t=1, length_control_rho={"it1": 0.1})


def test_length_control_rho_per_iteration_falls_back_to_the_default():
    candidates, judgments = _pairs({"p": [[4.5], [5], [1], [1.5]]})
    pairs = partial(pair_nodes.build_preference_pairs, candidates, judgments, {})
    setting = {"default": 0.0, "iter2": 0.25}
    first = pairs(t=1, length_control_rho=setting)[1]
    second = pairs(t=2, length_control_rho=setting)[1]
    paper = pairs(t=2, length_control_rho=0.0)[1]
    controlled = pairs(t=1, length_control_rho=0.25)[1]
    assert first["chosen_words_mean"] == paper["chosen_words_mean"]
    assert second["chosen_words_mean"] == controlled["chosen_words_mean"]
    assert first["chosen_words_mean"] != second["chosen_words_mean"]


def _written_judge(response: str, index: int) -> str:
    """Judgments 0-2 score by length (the iteration's judge, 3 samples); the fourth
    sample, written only for the meta-judge, scores one more: every candidate of the
    meta-judge's pool has a disagreement of 1 between "Reason 0" and "Reason 3"."""
    score = response.count("!") // 3 + 1 + (index == 3)
    return f"Reason {index}.\nScore: {score}"


def _prefers_reason_0(judgment_a: str, judgment_b: str) -> str:
    return "Winner: Judgment A" if "Reason 0" in judgment_a else "Winner: Judgment B"


def test_the_meta_judge_adds_its_consistent_pairs_to_dpo_within_the_share(run_iteration):
    meta = MetaJudgeConfig(max_share=0.5, pool=8, candidates=3, judgments=SamplingConfig(n=4))
    catalog = run_iteration(FakeModel(_written_judge, _prefers_reason_0), _config(meta))

    compared = catalog.load("iter1.meta_judgments")
    assert len(compared) == 3
    assert list(compared["winner"]) == ["low"] * 3
    assert list(compared["high_first_verdict"]) == ["B"] * 3
    assert list(compared["low_first_verdict"]) == ["A"] * 3
    assert all(text.startswith("Reason 0.") for text in compared["chosen"])
    assert all(text.startswith("Reason 3.") for text in compared["rejected"])
    # The pair's prompt is the judge prompt of the candidate: DPO trains the judge.
    assert all("<response>" in prompt for prompt in compared["prompt"])
    assert catalog.load("iter1.meta_judge_metrics") == {
        "pool": 8.0,
        "compared": 3.0,
        "consistent": 3.0,
        "order_flipped": 0.0,
        "unparseable_verdicts": 0.0,
    }
    # 4 answer pairs; at 50 % up to 4 judge pairs fit, 3 were made.
    dpo = catalog.load("iter1.dpo_metrics")
    assert (dpo["answer_pairs"], dpo["judge_pairs"]) == (4.0, 3.0)
    model_out = catalog.load("model_M2")
    assert (model_out / "trained_on.txt").read_text() == "7"


def test_a_meta_verdict_that_follows_the_order_makes_no_pair(run_iteration):
    meta = MetaJudgeConfig(max_share=0.5, pool=8, candidates=3, judgments=SamplingConfig(n=4))
    catalog = run_iteration(FakeModel(_written_judge), _config(meta))

    compared = catalog.load("iter1.meta_judgments")
    assert compared["winner"].isna().all() and compared["chosen"].isna().all()
    metrics = catalog.load("iter1.meta_judge_metrics")
    assert (metrics["compared"], metrics["order_flipped"], metrics["consistent"]) == (3, 3, 0)
    assert catalog.load("iter1.dpo_metrics")["judge_pairs"] == 0


def test_judge_pairs_are_capped_by_their_share_widest_disagreement_first():
    compared = pd.DataFrame(
        {
            "prompt": ["p1", "p2", "p3", "p4"],
            "chosen": ["c1", "c2", None, "c4"],
            "rejected": ["r1", "r2", None, "r4"],
            "winner": ["low", "high", None, "low"],
            "spread": [1.0, 3.0, 4.0, 2.0],
        }
    )
    # 6 answer pairs at 25 %: 2 judge pairs; the unresolved comparison never counts.
    assert pair_nodes.judge_preference_pairs(compared, 6, 0.25) == [
        {"prompt": "p2", "chosen": "c2", "rejected": "r2"},
        {"prompt": "p4", "chosen": "c4", "rejected": "r4"},
    ]
    assert pair_nodes.judge_preference_pairs(compared, 6, 0.0) == []
    assert pair_nodes.judge_preference_pairs(pd.DataFrame(), 6, 0.5) == []
