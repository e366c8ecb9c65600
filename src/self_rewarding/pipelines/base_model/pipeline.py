"""``base_model``: M0 from the embedded default (or ``model.base``), then its judge probe."""

from kedro.pipeline import Node, Pipeline

from self_rewarding.pipelines.base_model.nodes import prepare_base_model
from self_rewarding.pipelines.judging import probe_judge


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                prepare_base_model,
                "params:model",
                "model_M0",
                name="prepare_base_model_node",
            ),
            Node(
                probe_judge,
                ["model_M0", "eft_eval", "params:judge_probe"],
                ["judge_probe_M0", "judge_probe_answers_M0"],
                name="probe_judge_M0_node",
            ),
        ],
        tags="modeling",
    )
