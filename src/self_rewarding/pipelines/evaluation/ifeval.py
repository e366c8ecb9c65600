"""Each model on IFEval (``evaluate_ifeval``): greedy answers to the IFEval prompts, each
instruction checked by the upstream checkers (``if-verifiable``), no judge involved."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from self_rewarding.core.ifeval import (
    IfevalOutcome,
    ifeval_accuracy,
    ifeval_intervals,
    stratified_subset,
)
from self_rewarding.core.provenance import directory_sha256
from self_rewarding.core.types import EvaluationConfig, IfevalConfig
from self_rewarding.pipelines.evaluation.common import generate_with_model, sized_for_this_machine

logger = logging.getLogger(__name__)


def prepare_checkers(config: IfevalConfig) -> None:
    """Points NLTK at the shipped Punkt data (it would download it) and seeds langdetect
    (random otherwise), before any checker runs."""
    import langdetect
    import nltk

    folder = Path(config.nltk_data)
    if not (folder / "tokenizers" / "punkt_tab" / "english").is_dir():
        raise FileNotFoundError(
            f"{folder}: NLTK's tokenizers/punkt_tab/english is missing "
            "(evaluation.ifeval.nltk_data); the IFEval sentence checkers need it"
        )
    if str(folder.resolve()) not in nltk.data.path:
        nltk.data.path.insert(0, str(folder.resolve()))
    langdetect.DetectorFactory.seed = config.langdetect_seed


def check_response(prompt: Mapping, response: str) -> IfevalOutcome:
    """Every instruction of one IFEval prompt checked on a response, strict and loose,
    by ``if-verifiable`` (an empty response fails every instruction).

    Raises:
        ValueError: An instruction id the checkers do not know (named with the prompt).
    """
    from if_verifiable import evaluate_output_for_sample
    from if_verifiable.types import IFEvalSample

    sample = IFEvalSample(
        key=int(prompt["key"]),
        prompt=prompt["prompt"],
        instruction_id_list=list(prompt["instruction_id_list"]),
        kwargs=[dict(k) for k in prompt["kwargs"]],
    )
    results, _ = evaluate_output_for_sample("ifeval", sample, response)
    ids = sample.instruction_id_list
    if not response.strip():
        return IfevalOutcome(sample.key, (False,) * len(ids), (False,) * len(ids))
    checked = [r.instruction_id for r in results]
    if checked != ids:
        unknown = sorted(set(ids) - set(checked))
        raise ValueError(f"IFEval prompt {sample.key}: no checker for {unknown}")
    return IfevalOutcome(
        sample.key,
        tuple(r.strict_pass for r in results),
        tuple(r.loose_pass for r in results),
    )


def outcomes_of(responses: pd.DataFrame) -> list[IfevalOutcome]:
    """The checked outcomes of an ``ifeval_responses`` table."""
    return [
        IfevalOutcome(int(key), tuple(strict), tuple(loose))
        for key, strict, loose in zip(
            responses["key"], responses["strict"], responses["loose"], strict=True
        )
    ]


def ifeval_metrics(outcomes: list[IfevalOutcome], evaluation: EvaluationConfig) -> dict:
    """``ifeval.<metric>`` with ``.ci_low`` / ``.ci_high`` (95 %, prompts resampled)."""
    metrics: dict[str, float | None] = {
        f"ifeval.{k}": v for k, v in ifeval_accuracy(outcomes).items()
    }
    intervals = ifeval_intervals(
        outcomes, n_resamples=evaluation.bootstrap_resamples, seed=evaluation.seed
    )
    for name, interval in intervals.items():
        if interval is not None:
            metrics[f"ifeval.{name}.ci_low"], metrics[f"ifeval.{name}.ci_high"] = interval
    return metrics


def _response_row(prompt: dict, answer, outcome, provenance: dict) -> dict:
    return {
        "key": outcome.key,
        "prompt": prompt["prompt"],
        "instruction_id_list": list(prompt["instruction_id_list"]),
        "response": str(answer),
        "n_tokens": answer.n_tokens,
        "finish_reason": answer.finish_reason,
        "strict": list(outcome.strict),
        "loose": list(outcome.loose),
        **provenance,
    }


def evaluate_ifeval(
    model_dir: Path, ifeval_prompts: pd.DataFrame, evaluation: EvaluationConfig
) -> tuple[pd.DataFrame, dict]:
    """The model's greedy answers to IFEval, checked by code: one row per prompt
    (``_response_row``) and the four accuracies with intervals, the counts, and the
    shares of answers cut by ``max_new_tokens`` and of empty ones."""
    evaluation = sized_for_this_machine(evaluation)
    config = evaluation.ifeval
    prepare_checkers(config)
    prompts = stratified_subset(
        ifeval_prompts.to_dict(orient="records"), config.prompts, evaluation.seed
    )
    model_sha256 = directory_sha256(model_dir)
    answers = generate_with_model(
        "evaluate_ifeval",
        model_dir,
        model_sha256,
        [p["prompt"] for p in prompts],
        config.sampling,
        evaluation=evaluation,
    )
    outcomes = [check_response(p, str(a)) for p, (a,) in zip(prompts, answers, strict=True)]
    provenance = {"model_path": str(model_dir), "model_sha256": model_sha256}
    responses = pd.DataFrame(
        [
            _response_row(prompt, answer, outcome, provenance)
            for prompt, (answer,), outcome in zip(prompts, answers, outcomes, strict=True)
        ]
    )
    metrics = {
        "ifeval.prompts": len(outcomes),
        "ifeval.instructions": sum(len(o.strict) for o in outcomes),
        "ifeval.max_tokens_share": float((responses["finish_reason"] == "length").mean()),
        "ifeval.empty_share": float((responses["response"].str.strip() == "").mean()),
        **ifeval_metrics(outcomes, evaluation),
    }
    logger.info("IFEval of %s: %s", model_dir, metrics)
    return responses, metrics
