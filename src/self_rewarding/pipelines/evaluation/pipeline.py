"""``evaluation``: each model as a judge and as an assistant, then one comparison.

    kedro run --pipelines=evaluation --namespaces=M2 --tags=evaluate_judge   # one model
    kedro run --pipelines=evaluation --tags=evaluate_instruction_following
    kedro run --pipelines=evaluation --tags=evaluation_report

Per model (namespaces ``M0``, ``sft_baseline``, ``M1`` and one per iteration,
``loop.iterations`` in params.yaml): ``evaluate_judge``, ``evaluate_answers`` and
``evaluate_ifeval`` (IFEval, checked by code). Then, over all models: the fixed evaluator
(``evaluate_instruction_following``) and the table, plots and per-model MLflow runs
(``evaluation_report``).
"""

from functools import partial

from kedro.pipeline import Node, Pipeline

from self_rewarding.core.topology import evaluated_models
from self_rewarding.loop_topology import read_iterations
from self_rewarding.pipelines.evaluation import nodes
from self_rewarding.pipelines.validation_nodes import check_evaluation_scores


def _model_template(model: str) -> Pipeline:
    """The per-model steps; ``model`` names its validations in the Data Docs."""
    check_scores = partial(check_evaluation_scores, model=model)
    check_scores.__name__ = check_evaluation_scores.__name__
    judge = Pipeline(
        [
            Node(
                nodes.evaluate_judge,
                [
                    "model",
                    "eft_eval",
                    "mt_bench_human_judgments",
                    "hh_rlhf_harmless",
                    "params:evaluation",
                ],
                ["judge_alignment_scores", "judge_evaluation"],
                name="evaluate_judge_node",
            ),
            Node(
                check_scores,
                ["judge_alignment_scores", "eft_eval", "params:evaluation"],
                ["judge_alignment_scores_report", "judge_alignment_scores_report_html"],
                name="check_evaluation_scores_node",
            ),
        ],
        tags="evaluate_judge",
    )
    answers = Pipeline(
        [
            Node(
                nodes.generate_eval_answers,
                ["model", "alpaca_eval_prompts", "mt_bench_questions", "params:evaluation"],
                "eval_answers",
                name="generate_eval_answers_node",
            )
        ],
        tags="evaluate_answers",
    )
    ifeval = Pipeline(
        [
            Node(
                nodes.evaluate_ifeval,
                ["model", "ifeval_prompts", "params:evaluation"],
                ["ifeval_responses", "ifeval"],
                name="evaluate_ifeval_node",
            )
        ],
        tags="evaluate_ifeval",
    )
    return judge + answers + ifeval


# The inputs every model's steps share (not namespaced).
SHARED_INPUTS = (
    "ifeval_prompts",
    "eft_eval",
    "mt_bench_human_judgments",
    "hh_rlhf_harmless",
    "alpaca_eval_prompts",
    "mt_bench_questions",
)


def _per_model(models: list[str]) -> Pipeline:
    return sum(
        Pipeline(
            _model_template(model),
            namespace=model,
            inputs={"model": f"model_{model}", **{name: name for name in SHARED_INPUTS}},
            parameters={"params:evaluation"},
        )
        for model in models
    )


def _comparison(models: list[str]) -> Pipeline:
    per_model = {
        **{f"answers_{m}": f"{m}.eval_answers" for m in models},
        **{f"scores_{m}": f"{m}.judge_alignment_scores" for m in models},
    }
    evaluator = Pipeline(
        [
            Node(
                nodes.evaluate_instruction_following,
                {
                    "judge_prompts": "mt_bench_judge_prompts",
                    "reference_gpt4_1106_preview": "alpaca_eval_reference_gpt4_1106_preview",
                    "reference_text_davinci_003": "alpaca_eval_reference_text_davinci_003",
                    "eft_eval": "eft_eval",
                    "mt_bench_human": "mt_bench_human_judgments",
                    "evaluation": "params:evaluation",
                    "credentials": "evaluator_credentials",
                    **per_model,
                },
                ["evaluator_judgments", "instruction_following"],
                name="evaluate_instruction_following_node",
            )
        ],
        tags="evaluate_instruction_following",
    )
    report = Pipeline(
        [
            Node(
                nodes.summarise_evaluation,
                {
                    "instruction_following": "instruction_following",
                    "evaluation": "params:evaluation",
                    **{m: f"{m}.judge_evaluation" for m in models},
                    **{f"scores_{m}": f"{m}.judge_alignment_scores" for m in models},
                    **{f"ifeval_{m}": f"{m}.ifeval_responses" for m in models},
                },
                ["evaluation_summary", "evaluation_table"],
                name="summarise_evaluation_node",
            ),
            Node(
                nodes.plot_evaluation,
                {
                    "summary": "evaluation_summary",
                    **{f"scores_{m}": f"{m}.judge_alignment_scores" for m in models},
                },
                [
                    "evaluation_plot_by_model",
                    "evaluation_plot_score_histograms",
                    "evaluation_plot_lengths",
                ],
                name="plot_evaluation_node",
            ),
            Node(
                nodes.log_model_runs,
                ["evaluation_summary", "params:evaluation"],
                "evaluation_model_runs",
                name="log_model_runs_node",
            ),
        ],
        tags="evaluation_report",
    )
    return evaluator + report


def create_pipeline(iteration_count: int | None = None, **kwargs) -> Pipeline:
    """Every model of the loop; ``iteration_count`` defaults to params.yaml's."""
    models = evaluated_models(iteration_count or read_iterations())
    return Pipeline([_per_model(models), _comparison(models)], tags="evaluation")
