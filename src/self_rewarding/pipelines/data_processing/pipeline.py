"""``data_processing``: raw OASST/AlpacaEval/MT-Bench files -> IFT, EFT, EFT-eval sets."""

from kedro.pipeline import Node, Pipeline

from self_rewarding.pipelines.data_processing import nodes
from self_rewarding.pipelines.validation_nodes import (
    validate_eft,
    validate_eft_eval,
    validate_ift,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                nodes.collect_eval_prompts,
                ["oasst1_validation_ranked", "alpaca_eval_prompts", "mt_bench_questions"],
                "eval_prompts",
                name="collect_eval_prompts_node",
            ),
            Node(
                nodes.build_ift,
                ["oasst2_ift_candidates", "eval_prompts", "params:ift"],
                ["ift_unchecked", "ift_counts"],
                name="build_ift_node",
            ),
            Node(
                nodes.build_eft,
                ["oasst2_quality_scored", "eval_prompts", "params:eft"],
                ["eft_candidates_unchecked", "eft_counts"],
                name="build_eft_node",
            ),
            Node(
                nodes.build_eft_evaluation,
                "oasst1_validation_ranked",
                "eft_eval_unchecked",
                name="build_eft_eval_node",
            ),
            Node(
                validate_ift,
                ["ift_unchecked", "eval_prompts"],
                ["ift_train", "ift_train_validation"],
                name="validate_ift_node",
            ),
            Node(
                validate_eft,
                ["eft_candidates_unchecked", "eval_prompts"],
                ["eft_candidates", "eft_candidates_validation"],
                name="validate_eft_candidates_node",
            ),
            Node(
                validate_eft_eval,
                "eft_eval_unchecked",
                ["eft_eval", "eft_eval_validation"],
                name="validate_eft_eval_node",
            ),
            Node(
                nodes.merge_counts,
                ["ift_counts", "eft_counts"],
                "seed_data_metrics",
                name="seed_data_metrics_node",
            ),
        ],
        tags="data_engineering",
    )
