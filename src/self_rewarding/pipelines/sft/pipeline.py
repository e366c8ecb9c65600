"""``sft``: M0 -> SFT baseline (IFT, tag ``sft_baseline``) and M1 (IFT + EFT, tag ``m1``).

EFT selection takes the SFT baseline as its judge in the paper's ``model_judged`` mode,
so M1 comes after the baseline.
"""

from kedro.pipeline import Node, Pipeline

from self_rewarding.pipelines.judging import select_eft_train
from self_rewarding.pipelines.sft import nodes
from self_rewarding.pipelines.validation_nodes import validate_eft


def create_pipeline(**kwargs) -> Pipeline:
    baseline = Pipeline(
        [
            Node(
                nodes.train_sft_baseline,
                ["model_M0", "ift_train", "params:sft"],
                ["model_sft_baseline", "sft_baseline_metrics"],
                name="train_sft_baseline_node",
            ),
        ],
        tags="sft_baseline",
    )
    m1 = Pipeline(
        [
            Node(
                select_eft_train,
                ["eft_candidates", "model_sft_baseline", "params:eft", "params:judge_probe"],
                "eft_train_unchecked",
                name="select_eft_train_node",
            ),
            Node(
                validate_eft,
                ["eft_train_unchecked", "eval_prompts"],
                ["eft_train", "eft_train_validation"],
                name="validate_eft_train_node",
            ),
            Node(
                nodes.train_m1,
                ["model_M0", "ift_train", "eft_train", "params:sft"],
                ["model_M1", "sft_m1_metrics"],
                name="train_m1_node",
            ),
        ],
        tags="m1",
    )
    return Pipeline([baseline, m1], tags="modeling")
