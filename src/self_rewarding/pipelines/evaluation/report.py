"""The report over all models (``summarise_evaluation``, ``plot_evaluation``,
``log_model_runs``): one table with intervals and paired comparisons, plots, and one
MLflow run per model."""

from __future__ import annotations

import logging
import re

import pandas as pd

from self_rewarding.core.ifeval import ifeval_paired_difference, ifeval_steps
from self_rewarding.core.intervals import (
    format_interval,
    paired_difference,
)
from self_rewarding.core.types import EvaluationConfig
from self_rewarding.pipelines.evaluation.common import comparisons, referee_trusted
from self_rewarding.pipelines.evaluation.ifeval import ifeval_metrics, outcomes_of
from self_rewarding.registry import registered_version, role_alias

logger = logging.getLogger(__name__)


JUDGE_COLUMNS = (
    ("judge_alignment.pairwise_accuracy", "OASST1 pairwise acc. (strict) [95% CI]"),
    ("judge_alignment.tie_share", "tie share"),
    ("judge_alignment.pairwise_accuracy_ties_half", "ties half"),
    ("judge_alignment.five_best", "5-best"),
    ("judge_alignment.five_best_count", "scored 5"),
    ("judge_alignment.spearman", "Spearman"),
    ("judge_alignment.kendall_tau", "Kendall tau"),
    ("judge_alignment.constant_judge_share", "constant-judge prompts"),
    ("judge_alignment.parse_rate", "parse rate"),
    ("mt_bench_human.pairwise_accuracy", "MT-Bench human acc. [95% CI]"),
    ("hh_harmless.pairwise_accuracy", "HH harmless acc. [95% CI]"),
)
ANSWER_COLUMNS = (
    ("vs_gpt4_1106_preview.strict_win_rate", "strict win vs GPT-4 Turbo [95% CI]"),
    ("vs_gpt4_1106_preview.tie_share", "ties"),
    ("vs_gpt4_1106_preview.win_rate", "ties half"),
    ("vs_text_davinci_003.strict_win_rate", "strict win vs davinci-003 [95% CI]"),
    ("vs_text_davinci_003.tie_share", "ties"),
    ("vs_text_davinci_003.win_rate", "ties half"),
    ("mt_bench.score", "MT-Bench (1-10, both turns)"),
    ("mt_bench.score_turn1", "turn 1"),
    ("mt_bench.score_turn2", "turn 2"),
    ("answers.alpaca_words_mean", "answer words"),
    ("monitor.self_score_mean", "self-score mean"),
    ("monitor.self_score_length_correlation", "self-score/length corr."),
    ("monitor.evaluator_agreement_spearman", "agreement with evaluator"),
)


def _with_interval(row: dict, key: str) -> str:
    interval = (row[f"{key}.ci_low"], row[f"{key}.ci_high"]) if f"{key}.ci_low" in row else None
    return format_interval(row.get(key), interval)


def _oasst(scores: pd.DataFrame) -> list[dict]:
    return scores[scores["source"] == "oasst1_validation"].to_dict(orient="records")


def _judge_differences(
    scores: dict[str, pd.DataFrame], evaluation: EvaluationConfig
) -> dict[tuple[str, str], dict]:
    """Each comparison's paired difference in strict OASST1 pairwise accuracy, both
    judges on the same replies."""
    return {
        (model, opponent): paired_difference(
            _oasst(scores[model]),
            _oasst(scores[opponent]),
            n_resamples=evaluation.bootstrap_resamples,
            seed=evaluation.seed,
        )
        for model, opponent in comparisons(evaluation, scores)
        if model in scores and opponent in scores
    }


NOT_TRUSTED = "referee not trusted"


def _verdict(interval, null: float) -> str:
    if interval is None:
        return "undefined"
    return "significant" if not interval[0] <= null <= interval[1] else "within noise"


def summarise_evaluation(
    instruction_following: dict, evaluation: EvaluationConfig, **per_model
) -> tuple[list[dict], str]:
    """One row per model with every metric under the same key (DVC's plot data, each
    model's MLflow run), and a Markdown report: the judge, answers and IFEval tables with
    95 % intervals, then each comparison as a paired difference, said to be significant or
    within noise. ``per_model``: ``<model>`` judge metrics, ``scores_<model>``, ``ifeval_<model>``.
    """
    scores = {k.removeprefix("scores_"): v for k, v in per_model.items() if k.startswith("scores_")}
    ifeval = {
        k.removeprefix("ifeval_"): outcomes_of(v)
        for k, v in per_model.items()
        if k.startswith("ifeval_")
    }
    judge_metrics = {k: v for k, v in per_model.items() if not k.startswith(("scores_", "ifeval_"))}
    differences = _judge_differences(scores, evaluation)
    rows = [
        _summary_row(
            {"model": model, **metrics}
            | (ifeval_metrics(ifeval[model], evaluation) if model in ifeval else {}),
            judge_metrics,
            instruction_following,
            differences,
        )
        for model, metrics in judge_metrics.items()
    ]
    trusted = referee_trusted(instruction_following)
    lines = [
        *_judge_lines(rows, next(iter(judge_metrics.values()), {}), evaluation, trusted),
        "",
        *_answer_lines(rows, instruction_following, evaluation, trusted),
        "",
        *ifeval_lines(ifeval, rows, evaluation),
        *COMPARISON_HEADER,
        *_comparison_lines(
            comparisons(evaluation, judge_metrics), differences, instruction_following, trusted
        ),
    ]
    return rows, "\n".join(lines) + "\n"


def _comparison_lines(pairs, differences, instruction_following, trusted) -> list[str]:
    """Each comparison on AlpacaEval, then on each MT-Bench turn where it was made."""
    return [
        _comparison_line(model, opponent, differences, instruction_following, trusted, task)
        for task in (None, "mt_bench_turn1", "mt_bench_turn2")
        for model, opponent in pairs
        if task is None or f"{model}.vs_{opponent}.{task}.wins" in instruction_following
    ]


COMPARISON_HEADER = (
    "| comparison | judge acc. difference [95% CI] | | head-to-head strict win rate "
    "[95% CI] | ties half [95% CI] | wins / ties / losses | |",
    "| --- | --- | --- | --- | --- | --- | --- |",
)


def _summary_row(row: dict, judge_metrics, instruction_following, differences) -> dict:
    """A model's row (its judge and IFEval metrics) with its evaluator metrics
    (``<model>.`` dropped, opponents named by role) and its paired judge-accuracy
    differences."""
    model = row["model"]
    prefix = f"{model}."
    for key, value in instruction_following.items():
        if key.startswith(prefix):
            row[_relative_key(key.removeprefix(prefix), judge_metrics)] = value
    for (compared, opponent), found in differences.items():
        if compared == model:
            role = _relative_key(f"vs_{opponent}.x", judge_metrics).split(".")[0]
            row[f"judge_difference.{role}"] = found["difference"]
            if found["interval"] is not None:
                low, high = found["interval"]
                row[f"judge_difference.{role}.ci_low"] = low
                row[f"judge_difference.{role}.ci_high"] = high
    return row


def _table(rows: list[dict], columns, trusted: bool) -> list[str]:
    """A Markdown table of ``columns`` (key, title), one line per model; win rates
    against the references are withheld when the referee is not trusted."""

    def cell(row: dict, key: str) -> str:
        if ("win_rate" in key or "tie_share" in key) and key.startswith("vs_") and not trusted:
            return NOT_TRUSTED
        return _with_interval(row, key)

    header = ["model", *(title for _, title in columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        cells = [row["model"], *(cell(row, key) for key, _ in columns)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _judge_lines(rows, first: dict, evaluation: EvaluationConfig, trusted: bool) -> list[str]:
    return [
        f"The model as a judge ({evaluation.judge.mode} scoring): "
        f"{_cell(first.get('judge_alignment.human_pairs'))} OASST1-validation reply pairs, "
        f"{_cell(first.get('mt_bench_human.human_pairs'))} MT-Bench human pairs, "
        f"{_cell(first.get('hh_harmless.human_pairs'))} HH-RLHF pairs. Ties count wrong "
        "(strict); 95 % bootstrap intervals over prompts.",
        "",
        *_table(rows, JUDGE_COLUMNS, trusted),
    ]


def _answer_lines(rows, instruction_following: dict, evaluation, trusted: bool) -> list[str]:
    agreement = "evaluator.human_agreement"
    return [
        f"Answers judged by the fixed evaluator **{evaluation.evaluator.name}** "
        f"(`{evaluation.evaluator.model}`), which agrees with MT-Bench's human judges on "
        f"{_with_interval(instruction_following, f'{agreement}.strict')} of "
        f"{_cell(instruction_following.get(f'{agreement}.pairs'))} pairs (strict; ties "
        f"half {_cell(instruction_following.get(f'{agreement}.ties_half'))}). Win rates "
        "are strict (a tie or a verdict that changes with the answer order is not a win), "
        "with the tie share and the ties-half rate beside"
        + (
            "."
            if trusted
            else "; they are not shown: the referee's agreement interval does not lie "
            "above 0.5 (referee not trusted)."
        ),
        "",
        *_table(rows, ANSWER_COLUMNS, trusted),
    ]


def _verdict_counts(instruction_following: dict, base: str, trusted: bool) -> str:
    """Wins/ties/losses of a comparison; an untrusted referee was not asked
    (``skip_win_rates_if_untrusted``), a trusted one may have made no comparison."""
    if f"{base}.wins" in instruction_following:
        return "/".join(
            str(int(instruction_following[f"{base}.{k}"])) for k in ("wins", "ties", "losses")
        )
    return "n/a" if trusted else NOT_TRUSTED


def _comparison_line(  # noqa: PLR0913, PLR0917 (one table line from five sources)
    model, opponent, differences, instruction_following, trusted, task=None
) -> str:
    """A comparison's paired judge-accuracy difference and head-to-head win rates (on
    AlpacaEval; with ``task``, on MT-Bench's turn ``mt_bench_turn<t>``, without the judge
    difference), each said to be significant or within noise."""
    found = differences.get((model, opponent)) if task is None else None
    judge_cell = (
        f"{found['difference']:+.3f} [{found['interval'][0]:+.3f}, {found['interval'][1]:+.3f}]"
        if found and found["interval"] is not None
        else "n/a"
    )
    base = f"{model}.vs_{opponent}" + (f".{task}" if task else "")
    label = f"{model} vs {opponent}" + (f", MT-Bench turn {task[-1]}" if task else "")

    def rate(name: str) -> tuple[str, tuple[float, float] | None]:
        key = f"{base}.{name}"
        interval = (
            (instruction_following[f"{key}.ci_low"], instruction_following[f"{key}.ci_high"])
            if f"{key}.ci_low" in instruction_following
            else None
        )
        return format_interval(instruction_following.get(key), interval), interval

    strict_cell, _ = rate("strict_win_rate")
    half_cell, half_interval = rate("win_rate")
    counts = _verdict_counts(instruction_following, base, trusted)
    # Equal models win half with ties halved: the ties-half interval against 0.5
    # says whether one is better.
    return (
        f"| {label} | {judge_cell if task is None else ''} | "
        f"{_verdict(found['interval'] if found else None, 0.0) if task is None else ''} | "
        f"{strict_cell if trusted else NOT_TRUSTED} | "
        f"{half_cell if trusted else NOT_TRUSTED} | "
        f"{counts} | {_verdict(half_interval, 0.5) if trusted else NOT_TRUSTED} |"
    )


IFEVAL_COLUMNS = (
    ("ifeval.prompt_strict", "prompt-level strict [95% CI]"),
    ("ifeval.prompt_loose", "prompt-level loose [95% CI]"),
    ("ifeval.instruction_strict", "instruction-level strict [95% CI]"),
    ("ifeval.instruction_loose", "instruction-level loose [95% CI]"),
)


def ifeval_lines(
    ifeval: dict[str, list], rows: list[dict], evaluation: EvaluationConfig
) -> list[str]:
    """The IFEval table and its paired steps (prompt-level loose and strict), each said
    to be significant or within noise."""
    if not ifeval:
        return []
    n_prompts = len(next(iter(ifeval.values())))
    lines = [
        f"IFEval, checked by code (no referee): {n_prompts} prompts of 541, greedy, "
        f"at most {evaluation.ifeval.sampling.max_new_tokens} new tokens; 95 % bootstrap "
        "intervals over prompts.",
        "",
        "| model | " + " | ".join(title for _, title in IFEVAL_COLUMNS) + " |",
        "|" + " --- |" * (len(IFEVAL_COLUMNS) + 1),
    ]
    for row in rows:
        if row["model"] in ifeval:
            cells = [_with_interval(row, key) for key, _ in IFEVAL_COLUMNS]
            lines.append(f"| {row['model']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| IFEval step | prompt loose difference [95% CI] | | prompt strict difference "
        "[95% CI] | |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [_ifeval_step_line(ifeval, m, o, evaluation) for m, o in ifeval_steps(list(ifeval))]
    return [*lines, ""]


def _ifeval_step_line(ifeval: dict[str, list], model: str, opponent: str, evaluation) -> str:
    """One IFEval step: prompt-level loose and strict paired differences."""
    cells = []
    for metric in ("prompt_loose", "prompt_strict"):
        found = ifeval_paired_difference(
            ifeval[model],
            ifeval[opponent],
            metric,
            n_resamples=evaluation.bootstrap_resamples,
            seed=evaluation.seed,
        )
        cells += [
            format_interval(found["difference"], found["interval"], signed=True),
            _verdict(found["interval"], 0.0),
        ]
    return f"| {model} - {opponent} | " + " | ".join(cells) + " |"


def _relative_key(key: str, models) -> str:
    """Names a head-to-head opponent by its role, so every model has the same keys:
    ``vs_M1.win_rate`` of M2 becomes ``vs_previous.win_rate``; ``vs_sft_baseline`` and
    the AlpacaEval references keep their names."""
    opponent, _, rest = key.removeprefix("vs_").partition(".")
    if key.startswith("vs_") and opponent in models and opponent != "sft_baseline":
        return f"vs_previous.{rest}"
    return key


def _cell(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f}" if float(value).is_integer() and abs(value) >= 1 else f"{value:.3f}"


def plot_evaluation(summary: list[dict], **scores: pd.DataFrame) -> tuple:
    """PNG figures: metrics by model (in loop order), judge score histograms, length
    drift of the answers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = [row["model"] for row in summary]
    by_model, axis = plt.subplots(figsize=(8, 4.5))
    for key, title in (
        ("judge_alignment.pairwise_accuracy", "judge pairwise accuracy"),
        ("vs_gpt4_1106_preview.win_rate", "win rate vs GPT-4 Turbo"),
        ("vs_text_davinci_003.win_rate", "win rate vs davinci-003"),
        ("judge_alignment.parse_rate", "judge parse rate"),
    ):
        axis.plot(models, [row.get(key, float("nan")) for row in summary], marker="o", label=title)
    axis.set_ylim(0, 1)
    axis.set_title("Metrics by model, in loop order")
    axis.legend(fontsize=8)
    by_model.tight_layout()

    histograms, axes = plt.subplots(
        1, len(scores), figsize=(3 * max(len(scores), 1), 3), squeeze=False
    )
    for axis, (name, frame) in zip(axes[0], scores.items(), strict=True):
        values = [s for s in frame["score"] if pd.notna(s)]
        axis.hist(values, bins=[-0.5 + k * 0.5 for k in range(13)])
        axis.set_title(name.removeprefix("scores_"))
        axis.set_xlabel("judge score (OASST1 replies)")
    histograms.tight_layout()

    lengths, axis = plt.subplots(figsize=(6, 4))
    axis.bar(models, [row.get("answers.alpaca_words_mean", 0.0) for row in summary])
    axis.set_ylabel("words per AlpacaEval answer")
    axis.set_title("Length drift")
    lengths.tight_layout()
    return by_model, histograms, lengths


def log_model_runs(summary: list[dict], evaluation: EvaluationConfig) -> dict:
    """One nested MLflow run per model under the active run, every metric under the same
    key, tagged with the model, its iteration and the evaluator, so that the MLflow UI
    compares models side by side.

    Returns:
        The run ids by model.
    """
    import mlflow

    if mlflow.active_run() is None:
        return {}
    run_ids = {}
    for row in summary:
        model = row["model"]
        with mlflow.start_run(run_name=f"evaluation.{model}", nested=True) as run:
            version = registered_version(role_alias(f"model_{model}"))
            mlflow.set_tags(
                {
                    "model": model,
                    "iteration": _made_by_iteration(model),
                    "evaluator": evaluation.evaluator.name,
                    # Which registered model version these numbers belong to.
                    **(
                        {"model_version": version.version, "model_sha256": version.tags["sha256"]}
                        if version is not None
                        else {}
                    ),
                }
            )
            mlflow.log_params({"model": model, "evaluator": evaluation.evaluator.name})
            mlflow.log_metrics({k: float(v) for k, v in row.items() if isinstance(v, int | float)})
            run_ids[model] = run.info.run_id
    return run_ids


def _made_by_iteration(model: str) -> str:
    """The iteration that made a model: M<k> comes out of iteration k - 1 (M0, M1 and the
    SFT baseline out of 0, before the loop)."""
    match = re.fullmatch(r"M(\d+)", model)
    return str(max(int(match.group(1)) - 1, 0)) if match else "0"
