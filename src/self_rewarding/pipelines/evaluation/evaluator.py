"""The fixed evaluator (``evaluate_instruction_following``): its own agreement with the
MT-Bench human judgments first, then head to head and against AlpacaEval's reference
outputs (only where that agreement makes it trusted, unless asked), and MT-Bench
single-answer grades."""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from functools import partial
from pathlib import Path

import pandas as pd

from self_rewarding.core.intervals import (
    bootstrap_interval,
    win_rate_interval,
)
from self_rewarding.core.judge import (
    constrained_rating_regex,
    constrained_verdict_regex,
    parse_pairwise_verdict,
    parse_rating,
)
from self_rewarding.core.metrics import (
    combine_orders,
    length_bucket,
    spearman,
    win_rate,
)
from self_rewarding.core.prompts import (
    render_fastchat_prompt,
)
from self_rewarding.core.provenance import directory_sha256
from self_rewarding.core.types import EvaluationConfig, JudgeConfig, SamplingConfig
from self_rewarding.core.verdicts import position_averaged_verdict
from self_rewarding.judge_service import read_judgments, render_judge_prompts
from self_rewarding.pipelines.evaluation.common import (
    comparisons,
    referee_trusted,
    sized_for_this_machine,
    word_count,
)
from self_rewarding.pipelines.evaluation.judge_evaluation import alignment_items, pairwise_items

logger = logging.getLogger(__name__)


def open_evaluator(evaluation: EvaluationConfig, credentials: dict):
    """The fixed evaluator: a local model on the project's generators, or an
    OpenAI-compatible endpoint with the key from ``conf/local/credentials.yml``."""
    evaluator = evaluation.evaluator
    if evaluator.kind == "openai":
        from self_rewarding.generation.openai_backend import OpenAIChatGenerator

        return OpenAIChatGenerator(
            evaluator.base_url or "",
            evaluator.model,
            (credentials or {}).get("api_key"),
            timeout=evaluator.timeout_seconds,
            max_retries=evaluator.max_retries,
            max_concurrency=evaluator.max_concurrency,
        )
    from self_rewarding.generation import open_engine
    from self_rewarding.models.referees import referee_source

    # A referee's GGUF (models.referees) comes as its folder and file name.
    folder, gguf = referee_source(evaluator.model)
    engine = dataclasses.replace(evaluation.generation, backend=evaluator.backend, replicas=1)
    return open_engine(folder, engine, gguf_file=gguf.get("gguf_file"))


def _evaluator_identity(evaluation: EvaluationConfig, generator) -> dict:
    """What fixes the evaluator's answers, for the fingerprint of its resumable chunks:
    the endpoint and its model name (never the key), or the local model's weights with
    the backend and precision it runs on."""
    evaluator = evaluation.evaluator
    if evaluator.kind == "openai":
        return {"kind": "openai", "base_url": evaluator.base_url, "model": evaluator.model}
    from self_rewarding.models.referees import REFEREES

    model = Path(evaluator.model)
    if evaluator.model in REFEREES:
        model_sha256 = REFEREES[evaluator.model].sha256  # checked when it was assembled
    else:
        model_sha256 = directory_sha256(model) if model.is_dir() else None
    return {
        "kind": "local",
        "verdicts": evaluator.verdicts,
        "model": evaluator.model,
        "model_sha256": model_sha256,
        "backend": getattr(generator, "backend", evaluator.backend),
        "precision": getattr(generator, "precision", None),
    }


def open_verdict_reader(evaluation: EvaluationConfig):
    """The evaluator as a verdict reader (``verdicts: probability``)."""
    from self_rewarding.generation.verdicts import VerdictReader
    from self_rewarding.hardware import resolve

    return VerdictReader(evaluation.evaluator.model, resolve(evaluation.generation.precision))


def _ask_evaluator(
    evaluation: EvaluationConfig, credentials: dict, jobs: dict, finished: list, open_engine=None
) -> dict:
    """The evaluator's answers to each job (``name: (prompts, sampling)``), in prompt
    order, from resumable chunks; each job's chunk store is added to ``finished``, for
    the caller to clear once every job is done (a kill in a later job keeps them).
    ``open_engine`` opens the engine (default: ``open_evaluator``). A failed chunk raises
    ``GenerationError`` naming the job, the evaluator and (for an endpoint, after its
    retries) its error."""
    from self_rewarding.generation.chunks import generate_resumably

    evaluator = evaluation.evaluator
    named = evaluator.model + (f" at {evaluator.base_url}" if evaluator.kind == "openai" else "")
    answers = {}
    if not any(prompts for prompts, _ in jobs.values()):
        return {name: [] for name in jobs}
    generator = (open_engine or (lambda: open_evaluator(evaluation, credentials)))()
    try:
        identity = _evaluator_identity(evaluation, generator)
        for name, (prompts, sampling) in jobs.items():
            resumed = generate_resumably(
                generator,
                f"evaluator_{name}",
                identity,
                prompts,
                sampling,
                chunk_dir=evaluator.chunk_dir,
                chunk_size=evaluator.chunk_size,
                description=f"evaluator {name}",
                model=named,
                finish="keep",
            )
            answers[name] = resumed.completions
            finished.append(resumed.store)
            logger.info("Evaluator %s: %s", name, resumed.figures)
    finally:
        generator.close()
    return answers


def _ask_for_every_job(
    evaluation: EvaluationConfig, credentials: dict, jobs: dict, finished: list
) -> dict:
    """The evaluator's answers to every job (their chunk stores added to ``finished``);
    with ``verdicts: probability`` the verdict jobs (named ``*verdicts``) are read (one
    forward pass each, on their own engine) before the written jobs."""
    evaluator = evaluation.evaluator
    if evaluator.verdicts != "probability" or evaluator.kind != "local":
        return _ask_evaluator(evaluation, credentials, jobs, finished)
    read = {name: job for name, job in jobs.items() if name.endswith("verdicts")}
    written = {name: job for name, job in jobs.items() if name not in read}
    reader = partial(open_verdict_reader, evaluation)
    answers = _ask_evaluator(evaluation, credentials, read, finished, reader)
    return answers | _ask_evaluator(evaluation, credentials, written, finished)


def _both_orders(  # noqa: PLR0917 (bound by partial: the list and the template first)
    requests: list, template: dict, task: str, model: str, opponent: str, rows
):
    """Appends to ``requests`` one pairwise question per row (``item_id, question, the
    model's answer, the opponent's``) in each answer order."""
    for item_id, question, mine, theirs in rows:
        for order, (a, b) in (("model_first", (mine, theirs)), ("model_second", (theirs, mine))):
            requests.append(
                {
                    "task": task,
                    "model": model,
                    "opponent": opponent,
                    "item_id": item_id,
                    "order": order,
                    "model_words": word_count(mine),
                    "prompt": render_fastchat_prompt(
                        template, question=question, answer_a=a, answer_b=b
                    ),
                }
            )


def _pairwise_requests(
    answers_by_model: dict[str, pd.DataFrame],
    reference_answers: dict[str, dict[str, str]],
    evaluation: EvaluationConfig,
    pair_template: dict,
) -> list[dict]:
    """Every pairwise question for the evaluator, each in both answer orders: each model
    against each AlpacaEval reference, and the head-to-head comparisons."""
    requests: list[dict] = []
    add = partial(_both_orders, requests, pair_template)
    alpaca = {
        name: frame[frame["benchmark"] == "alpaca_eval"] for name, frame in answers_by_model.items()
    }
    for model, frame in alpaca.items():
        for reference, lookup in reference_answers.items():
            rows = [
                (r.item_id, r.prompt, r.answer, lookup[r.prompt])
                for r in frame.itertuples()
                if r.prompt in lookup
            ]
            add(f"vs_{reference}", model, reference, rows)
    for model, opponent in comparisons(evaluation, answers_by_model):
        if model not in alpaca or opponent not in alpaca:
            continue
        theirs = dict(zip(alpaca[opponent]["item_id"], alpaca[opponent]["answer"], strict=True))
        rows = [
            (r.item_id, r.prompt, r.answer, theirs[r.item_id])
            for r in alpaca[model].itertuples()
            if r.item_id in theirs
        ]
        add("head_to_head", model, opponent, rows)
    return requests


def _human_pair_requests(
    mt_bench_human: pd.DataFrame, evaluation: EvaluationConfig, pair_template: dict
) -> list[dict]:
    """The evaluator's own test: the MT-Bench human pairs (the same subset the models
    judge), in both orders, the human-preferred answer as the "model"."""
    items = pairwise_items(mt_bench_human, mt_bench_human.iloc[0:0], evaluation)
    requests = []
    for k, item in enumerate(items):
        # The cluster of the agreement's interval; a pair without one is its own.
        cluster = item.get("question_id")
        question = f"mt_bench_question:{cluster if cluster is not None else f'pair{k}'}"
        for order, (a, b) in (
            ("model_first", (item["better"], item["worse"])),
            ("model_second", (item["worse"], item["better"])),
        ):
            requests.append(
                {
                    "task": "human_agreement",
                    "model": "human_preferred",
                    "opponent": "human_rejected",
                    "item_id": f"mt_bench_human:{k}",
                    "question_id": question,
                    "order": order,
                    "model_words": word_count(item["better"]),
                    "prompt": render_fastchat_prompt(
                        pair_template, question=item["instruction"], answer_a=a, answer_b=b
                    ),
                }
            )
    return requests


def item_outcome(item: pd.DataFrame) -> str:
    """One pair's outcome from its two order rows: the position-averaged verdict
    probabilities where the evaluator read them (``verdicts: probability``), else the
    written verdicts combined (``combine_orders``)."""
    by_order = {row["order"]: row for row in item.to_dict(orient="records")}
    first, second = by_order.get("model_first"), by_order.get("model_second")
    labels = [row.get("label_logprobs") if row else None for row in (first, second)]
    if all(isinstance(found, dict) for found in labels):
        return position_averaged_verdict(*labels).outcome
    return combine_orders(
        first["verdict"] if first else None, second["verdict"] if second else None
    )


def _evaluator_human_agreement(rows: pd.DataFrame, evaluation: EvaluationConfig) -> dict:
    """How often the evaluator prefers the answer MT-Bench's human judges preferred: both
    orders combined as for a win rate (agreement = a "win" of the human-preferred
    answer), strict and ties half, with 95 % intervals clustered by question (the 200
    pairs come from 75 questions); none asked, none measured (and not trusted)."""
    if rows.empty:
        return {"evaluator.human_agreement.pairs": 0.0}
    items = [
        (item["question_id"].iloc[0], item_outcome(item))
        for _, item in rows.groupby("item_id", sort=True)
    ]
    outcomes = [outcome for _, outcome in items]
    found = win_rate(outcomes)
    by_question = defaultdict(list)
    for question, outcome in items:
        by_question[question].append(outcome)
    metrics = {
        "evaluator.human_agreement.pairs": found["n"],
        "evaluator.human_agreement.questions": float(len(by_question)),
        "evaluator.human_agreement.strict": found["strict_win_rate"],
        "evaluator.human_agreement.ties_half": found["win_rate"],
        "evaluator.human_agreement.tie_share": found["tie_share"],
    }
    for name, key in (("strict", "strict_win_rate"), ("ties_half", "win_rate")):
        interval = bootstrap_interval(
            list(by_question.values()),
            lambda groups, key=key: win_rate([o for group in groups for o in group])[key],
            n_resamples=evaluation.bootstrap_resamples,
            seed=evaluation.seed,
        )
        if interval is not None:
            low, high = interval
            metrics[f"evaluator.human_agreement.{name}.ci_low"] = low
            metrics[f"evaluator.human_agreement.{name}.ci_high"] = high
    return metrics


def _pairwise_metrics(verdicts: pd.DataFrame, evaluation: EvaluationConfig) -> dict:
    """Wins, ties, losses and win rates per (task, model, opponent), each win rate with
    its 95 % bootstrap interval over items, and the win rate against references by
    answer length."""
    metrics: dict[str, float | None] = {}
    for (task, model, opponent), group in verdicts.groupby(["task", "model", "opponent"]):
        outcomes, words = [], []
        for _, item in group.groupby("item_id", sort=True):
            outcomes.append(item_outcome(item))
            words.append(int(item["model_words"].iloc[0]))
        # AlpacaEval's comparisons keep the plain key; MT-Bench's name their turn.
        key = f"{model}.vs_{opponent}" + (f".{task}" if task.startswith("mt_bench") else "")
        for name, value in win_rate(outcomes).items():
            metrics[f"{key}.{name}"] = value
        for name in ("win_rate", "strict_win_rate"):
            interval = win_rate_interval(
                outcomes,
                key=name,
                n_resamples=evaluation.bootstrap_resamples,
                seed=evaluation.seed,
            )
            if interval is not None:
                metrics[f"{key}.{name}.ci_low"], metrics[f"{key}.{name}.ci_high"] = interval
        if task.startswith("vs_"):
            buckets = defaultdict(list)
            for outcome, length in zip(outcomes, words, strict=True):
                buckets[length_bucket(length)].append(outcome)
            for bucket, bucket_outcomes in sorted(buckets.items()):
                metrics[f"{key}.win_rate_{bucket}_words"] = win_rate(bucket_outcomes)["win_rate"]
    return metrics


def evaluate_instruction_following(  # noqa: PLR0917 (a Kedro node: positional inputs)
    judge_prompts: pd.DataFrame,
    reference_gpt4_1106_preview: pd.DataFrame,
    reference_text_davinci_003: pd.DataFrame,
    eft_eval: pd.DataFrame,
    mt_bench_human: pd.DataFrame,
    evaluation: EvaluationConfig,
    credentials: dict,
    **per_model: pd.DataFrame,
) -> tuple[pd.DataFrame, dict]:
    """The fixed evaluator's agreement with MT-Bench's humans first, then its verdicts on
    every model's answers (``answers_<model>``; none from an untrusted referee), MT-Bench
    grades and OASST1 scores (``scores_<model>``: each judge's agreement with them).
    Returns every evaluator answer, parsed, and the metrics."""
    evaluation = sized_for_this_machine(evaluation)
    answers_by_model = _by_prefix(per_model, "answers_")
    templates = {row["name"]: row for row in judge_prompts.to_dict(orient="records")}
    references = _references(reference_gpt4_1106_preview, reference_text_davinci_003)
    finished: list = []  # chunk stores, cleared once every job is done
    human_rows, agreement = _measured_agreement(
        mt_bench_human, evaluation, credentials, templates, finished
    )
    contests = _win_rate_requests(answers_by_model, references, evaluation, templates, agreement)
    grading = _grading_requests(answers_by_model, templates)
    pointwise = _oasst_requests(eft_eval, evaluation)
    jobs = _evaluator_jobs(contests, grading, pointwise, evaluation)
    answers = _ask_for_every_job(evaluation, credentials, jobs, finished)
    for store in finished:
        store.clear()
    rows = [*human_rows, *_verdict_rows(contests, answers["verdicts"])]
    judged = _judged_rows(rows, grading, pointwise, answers, evaluation)
    metrics = {
        **agreement,
        **_verdict_metrics(judged, references, evaluation),
        **_grade_metrics(judged),
        **_length_metrics(answers_by_model, references),
        **_monitor_metrics(judged, _by_prefix(per_model, "scores_")),
    }
    logger.info("Instruction following, judged by %s: %s", evaluation.evaluator.name, metrics)
    return judged, metrics


def _measured_agreement(
    mt_bench_human: pd.DataFrame,
    evaluation: EvaluationConfig,
    credentials: dict,
    templates: dict,
    finished: list,
) -> tuple[list[dict], dict]:
    """The evaluator's verdicts on the MT-Bench human pairs (both orders), asked before
    anything else, and its agreement with the human judges measured on them."""
    human = _human_pair_requests(mt_bench_human, evaluation, templates["pair-v2"])
    verdict_sampling, _ = _evaluator_samplings(evaluation)
    jobs = {"agreement_verdicts": (_prompts(human), verdict_sampling)}
    verdicts = _ask_for_every_job(evaluation, credentials, jobs, finished)["agreement_verdicts"]
    rows = _verdict_rows(human, verdicts)
    agreement = _evaluator_human_agreement(pd.DataFrame(rows), evaluation)
    return rows, agreement | {"evaluator.trusted": float(referee_trusted(agreement))}


def _win_rate_requests(  # noqa: PLR0913, PLR0917 (the answers, what they are compared with, and the gate)
    answers_by_model: dict[str, pd.DataFrame],
    reference_answers: dict[str, dict[str, str]],
    evaluation: EvaluationConfig,
    templates: dict,
    agreement: dict,
) -> list[dict]:
    """The pairwise questions behind the win rates (AlpacaEval references, head to head,
    MT-Bench turns); none when the evaluator's measured agreement leaves it untrusted
    and ``evaluator.skip_win_rates_if_untrusted``: the report would withhold them."""
    contests = [
        *_pairwise_requests(answers_by_model, reference_answers, evaluation, templates["pair-v2"]),
        *_mt_bench_pair_requests(answers_by_model, evaluation, templates),
    ]
    if contests and evaluation.evaluator.skip_win_rates_if_untrusted:
        if not referee_trusted(agreement):
            logger.warning(
                "Referee %s not trusted: its strict agreement with the MT-Bench human "
                "pairs is %s [%s, %s] (n=%s), an interval that does not lie above 0.5. "
                "Its %d win-rate verdicts are not asked "
                "(evaluation.evaluator.skip_win_rates_if_untrusted).",
                evaluation.evaluator.name,
                agreement.get("evaluator.human_agreement.strict"),
                agreement.get("evaluator.human_agreement.strict.ci_low"),
                agreement.get("evaluator.human_agreement.strict.ci_high"),
                agreement.get("evaluator.human_agreement.pairs"),
                len(contests),
            )
            return []
    return contests


def _prompts(requests: list[dict]) -> list[str]:
    return [request["prompt"] for request in requests]


def _answer_lookup(reference: pd.DataFrame) -> dict[str, str]:
    """A reference's AlpacaEval answers by instruction."""
    return dict(zip(reference["instruction"], reference["output"], strict=False))


def _references(gpt4_1106_preview: pd.DataFrame, text_davinci_003: pd.DataFrame) -> dict:
    """Each AlpacaEval reference's answers by instruction, by reference name."""
    return {
        "gpt4_1106_preview": _answer_lookup(gpt4_1106_preview),
        "text_davinci_003": _answer_lookup(text_davinci_003),
    }


def _by_prefix(per_model: dict[str, pd.DataFrame], prefix: str) -> dict[str, pd.DataFrame]:
    """``<prefix><model>`` inputs by model."""
    return {k.removeprefix(prefix): v for k, v in per_model.items() if k.startswith(prefix)}


def _mt_bench_rows(frame: pd.DataFrame) -> list[dict]:
    """A model's MT-Bench answers; a missing second turn (NaN once read back) is None."""
    rows = frame[frame["benchmark"] == "mt_bench"].to_dict(orient="records")
    second = ("prompt_turn2", "answer_turn2")
    return [
        row | {key: row[key] if isinstance(row.get(key), str) else None for key in second}
        for row in rows
    ]


def _grading_requests(answers_by_model: dict[str, pd.DataFrame], templates: dict) -> list[dict]:
    """MT-Bench single-answer grading (1-10) of every model's answers to both turns:
    ``single-v1`` for the first, ``single-v1-multi-turn`` (the whole conversation, the
    grade about the second answer) for the second."""
    requests = []
    for model, frame in answers_by_model.items():
        for row in _mt_bench_rows(frame):
            fields = {"question": row["prompt"], "answer": row["answer"]}
            asked = [(1, templates["single-v1"], fields, row["answer"])]
            if row["answer_turn2"] is not None:
                fields = {
                    "question_1": row["prompt"],
                    "answer_1": row["answer"],
                    "question_2": row["prompt_turn2"],
                    "answer_2": row["answer_turn2"],
                }
                asked.append((2, templates["single-v1-multi-turn"], fields, row["answer_turn2"]))
            requests += [
                {
                    "task": "mt_bench_grade",
                    "model": model,
                    "item_id": row["item_id"],
                    "turn": turn,
                    "category": row["category"],
                    "model_words": word_count(answer),
                    "prompt": render_fastchat_prompt(template, **fields),
                }
                for turn, template, fields, answer in asked
            ]
    return requests


def _mt_bench_pair_requests(
    answers_by_model: dict[str, pd.DataFrame], evaluation: EvaluationConfig, templates: dict
) -> list[dict]:
    """The head-to-head comparisons on MT-Bench, each turn in both answer orders:
    ``pair-v2`` for the first, ``pair-v2-multi-turn`` (both conversations, the verdict
    about the second answers) for the second."""
    requests: list[dict] = []
    rows = {model: _mt_bench_rows(frame) for model, frame in answers_by_model.items()}
    for model, opponent in comparisons(evaluation, answers_by_model):
        theirs = {row["item_id"]: row for row in rows.get(opponent, [])}
        for mine in rows.get(model, []):
            other = theirs.get(mine["item_id"])
            if other is None:
                continue
            # An empty second answer is still compared; a missing one is not.
            both = mine["answer_turn2"] is not None and other["answer_turn2"] is not None
            for turn in (1, 2) if both else (1,):
                _add_mt_bench_pair(requests, templates, (model, opponent), (mine, other), turn)
    return requests


def _add_mt_bench_pair(requests: list, templates: dict, names, rows, turn: int) -> None:
    (model, opponent), (mine, theirs) = names, rows
    for order, (a, b) in (("model_first", (mine, theirs)), ("model_second", (theirs, mine))):
        if turn == 1:
            template = templates["pair-v2"]
            fields = {"question": a["prompt"], "answer_a": a["answer"], "answer_b": b["answer"]}
        else:
            template = templates["pair-v2-multi-turn"]
            fields = {
                "question_1": a["prompt"],
                "question_2": a["prompt_turn2"],
                "answer_a_1": a["answer"],
                "answer_a_2": a["answer_turn2"],
                "answer_b_1": b["answer"],
                "answer_b_2": b["answer_turn2"],
            }
        requests.append(
            {
                "task": f"mt_bench_turn{turn}",
                "model": model,
                "opponent": opponent,
                "item_id": mine["item_id"],
                "order": order,
                "model_words": word_count(mine["answer" if turn == 1 else "answer_turn2"]),
                "prompt": render_fastchat_prompt(template, **fields),
            }
        )


def _oasst_requests(eft_eval: pd.DataFrame, evaluation: EvaluationConfig) -> list[dict]:
    """The evaluator's own scores of the OASST1 replies the judges were scored on."""
    items = alignment_items(eft_eval, evaluation)
    prompts = render_judge_prompts(zip(items["prompt"], items["response"]))
    return [
        {
            "task": "oasst_score",
            "model": evaluation.evaluator.name,
            "item_id": r.response_id,
            "model_words": word_count(r.response),
            "prompt": prompt,
        }
        for r, prompt in zip(items.itertuples(), prompts, strict=True)
    ]


def _evaluator_jobs(contests, grading, pointwise, evaluation: EvaluationConfig) -> dict:
    """The evaluator's jobs after its agreement: the win-rate verdicts, the MT-Bench
    grades and the OASST1 scores."""
    verdict_sampling, rating_sampling = _evaluator_samplings(evaluation)
    return {
        "verdicts": (_prompts(contests), verdict_sampling),
        "ratings": (_prompts(grading), rating_sampling),
        "scores": (_prompts(pointwise), evaluation.evaluator.sampling),
    }


def _evaluator_samplings(evaluation: EvaluationConfig) -> tuple[SamplingConfig, SamplingConfig]:
    """The evaluator's decoding of verdicts and of ratings: a local constrained
    evaluator's are regex-guided to end in a parseable answer."""
    evaluator = evaluation.evaluator
    sampling = evaluator.sampling
    if not (evaluator.constrained and evaluator.kind == "local"):
        return sampling, sampling
    budget = sampling.max_new_tokens
    return (
        dataclasses.replace(sampling, regex=constrained_verdict_regex(budget)),
        dataclasses.replace(sampling, regex=constrained_rating_regex(budget)),
    )


def _verdict_rows(pairwise: list[dict], verdicts: list) -> list[dict]:
    """Each pairwise question with the evaluator's answer and its parsed verdict (and,
    read from probabilities, the labels' log-probabilities)."""
    return [
        {
            **item,
            "evaluator_text": str(text),
            "verdict": parse_pairwise_verdict(text),
            "label_logprobs": getattr(text, "label_logprobs", None),
        }
        for item, (text,) in zip(pairwise, verdicts, strict=True)
    ]


def _judged_rows(verdict_rows, grading, pointwise, answers: dict, evaluation) -> pd.DataFrame:
    """Every evaluator answer with what it judged and its parsed verdict, rating or
    score (an unparseable one is kept, with the parse left empty)."""
    evaluator = evaluation.evaluator
    rows = list(verdict_rows)
    rows += [
        {**item, "evaluator_text": str(text), "rating": parse_rating(text)}
        for item, (text,) in zip(grading, answers["ratings"], strict=True)
    ]
    evaluator_judge = JudgeConfig(mode="sampled", sampling=evaluator.sampling)
    scored = read_judgments(answers["scores"], evaluator_judge)
    rows += [
        {**item, "evaluator_text": reply.texts[0], "score": reply.score}
        for item, reply in zip(pointwise, scored, strict=True)
    ]
    judged = pd.DataFrame(rows).drop(columns=["prompt"])
    judged["evaluator"] = evaluator.name
    judged["evaluator_model"] = evaluator.model
    return judged


def _share_parsed(column: pd.Series) -> float | None:
    return float(column.notna().mean()) if len(column) else None


def _verdict_metrics(judged: pd.DataFrame, references, evaluation) -> dict:
    """Win rates (head to head and against the references), the number of verdicts
    behind them (none from an untrusted referee) and their parse rate."""
    pair_tasks = ["head_to_head", "mt_bench_turn1", "mt_bench_turn2"]
    pair_tasks += [f"vs_{r}" for r in references]
    pair_rows = judged[judged["task"].isin(pair_tasks)]
    if pair_rows.empty:  # none asked (an untrusted referee) or none to ask
        return {"evaluator.win_rate_verdicts": 0.0, "evaluator.verdict_parse_rate": None}
    return {
        "evaluator.win_rate_verdicts": float(len(pair_rows)),
        "evaluator.verdict_parse_rate": _share_parsed(pair_rows["verdict"]),
        **_pairwise_metrics(pair_rows, evaluation),
    }


def _grade_metrics(judged: pd.DataFrame) -> dict:
    """MT-Bench grades by model as MT-Bench reports them: the mean over both turns, each
    turn's mean, and per category (both turns)."""
    grades = judged[judged["task"] == "mt_bench_grade"]
    metrics = {
        "evaluator.rating_parse_rate": _share_parsed(grades["rating"]) if len(grades) else None
    }

    def mean(frame: pd.DataFrame) -> float | None:
        return float(frame["rating"].mean()) if len(frame) else None

    for model, group in grades.groupby("model"):
        rated = group[group["rating"].notna()]
        metrics[f"{model}.mt_bench.score"] = mean(rated)
        for turn in (1, 2):
            metrics[f"{model}.mt_bench.score_turn{turn}"] = mean(rated[rated["turn"] == turn])
        for category, by_category in rated.groupby("category"):
            metrics[f"{model}.mt_bench.score_{category}"] = mean(by_category)
    return metrics


def _length_metrics(answers_by_model, reference_answers) -> dict:
    """Average AlpacaEval answer length of each model and of each reference, in words."""
    metrics = {}
    for model, frame in answers_by_model.items():
        lengths = [word_count(a) for a in frame.loc[frame["benchmark"] == "alpaca_eval", "answer"]]
        metrics[f"{model}.answers.alpaca_words_mean"] = (
            sum(lengths) / len(lengths) if lengths else None
        )
    any_answers = next(
        iter(answers_by_model.values()), pd.DataFrame(columns=["benchmark", "prompt"])
    )
    asked = any_answers.loc[any_answers["benchmark"] == "alpaca_eval", "prompt"]
    for name, lookup in reference_answers.items():
        words = [word_count(lookup[p]) for p in asked if p in lookup]
        metrics[f"{name}.answers.alpaca_words_mean"] = sum(words) / len(words) if words else None
    return metrics


def _monitor_metrics(judged: pd.DataFrame, scores_by_model) -> dict:
    """Agreement (Spearman) of each model's judge with the evaluator's scores of the
    same OASST1 replies."""
    oasst_rows = judged[judged["task"] == "oasst_score"]
    evaluator_scores = dict(zip(oasst_rows["item_id"], oasst_rows["score"], strict=True))
    metrics = {"evaluator.score_parse_rate": _share_parsed(oasst_rows["score"])}
    for model, scores in scores_by_model.items():
        replies = scores[scores["source"] == "oasst1_validation"]
        both = [
            (score, evaluator_scores[rid])
            for rid, score in zip(replies["response_id"], replies["score"], strict=True)
            if pd.notna(score) and pd.notna(evaluator_scores.get(rid))
        ]
        metrics[f"{model}.monitor.evaluator_agreement_spearman"] = spearman(
            [a for a, _ in both], [b for _, b in both]
        )
    return metrics


# The judge table's columns: (metric key, column title); a key with an interval is shown
# with it.
