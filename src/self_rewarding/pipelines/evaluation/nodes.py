"""Nodes of the ``evaluation`` pipeline: every model measured the same way, each step in
the module of what it does.

- ``evaluate_judge`` (per model, ``judge_evaluation``): the model judges human-ranked
  OASST1-validation replies (paper Table 4), MT-Bench human pairwise judgments and
  HH-RLHF harmless pairs with the verbatim prompt; plus the reward-hacking monitors of its
  own scores.
- ``generate_eval_answers`` (per model, ``answers``): its answers to AlpacaEval and
  MT-Bench prompts.
- ``evaluate_ifeval`` (per model, ``ifeval``): its greedy answers to IFEval, each
  instruction checked by code.
- ``evaluate_instruction_following`` (``evaluator``): the fixed evaluator compares and
  grades the answers: head to head, against AlpacaEval's reference outputs, MT-Bench
  single-answer grades.
- ``summarise_evaluation``, ``plot_evaluation``, ``log_model_runs`` (``report``): one table
  and plots over all models, one MLflow run per model.
"""

from self_rewarding.pipelines.evaluation.answers import generate_eval_answers
from self_rewarding.pipelines.evaluation.common import comparisons, interval_metrics
from self_rewarding.pipelines.evaluation.evaluator import (
    evaluate_instruction_following,
    open_evaluator,
)
from self_rewarding.pipelines.evaluation.ifeval import evaluate_ifeval
from self_rewarding.pipelines.evaluation.judge_evaluation import alignment_items, evaluate_judge
from self_rewarding.pipelines.evaluation.report import (
    log_model_runs,
    plot_evaluation,
    summarise_evaluation,
)

__all__ = [
    "alignment_items",
    "comparisons",
    "evaluate_instruction_following",
    "evaluate_ifeval",
    "evaluate_judge",
    "generate_eval_answers",
    "interval_metrics",
    "log_model_runs",
    "open_evaluator",
    "plot_evaluation",
    "summarise_evaluation",
]
