"""``base_model``: M0 from the embedded default (or ``model.base``)."""

from kedro.pipeline import Node, Pipeline

from self_rewarding.pipelines.base_model.nodes import prepare_base_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                prepare_base_model,
                "params:model",
                "model_M0",
                name="prepare_base_model_node",
            ),
        ],
        tags="modeling",
    )
