"""``judge_probe``: each model judges EFT-eval replies with the verbatim prompt; how many
answers hold a parseable score. One namespace per model (``M0``, ``M1`` and one per
iteration, ``loop.iterations`` in params.yaml), so that
``kedro run --pipelines=judge_probe --namespaces=M1`` probes one model, and the probe
never retrains anything.
"""

from kedro.pipeline import Node, Pipeline

from self_rewarding.core.topology import probed_models
from self_rewarding.loop_topology import read_iterations
from self_rewarding.pipelines.judging import probe_judge


def create_pipeline(iteration_count: int | None = None, **kwargs) -> Pipeline:
    """One namespace per model; ``iteration_count`` defaults to params.yaml's."""
    probe = Pipeline(
        [
            Node(
                probe_judge,
                ["model", "eft_eval", "params:judge_probe"],
                ["judge_probe", "judge_probe_answers"],
                name="probe_judge_node",
            )
        ]
    )
    return sum(
        Pipeline(
            probe,
            namespace=model,
            inputs={"model": f"model_{model}", "eft_eval": "eft_eval"},
            parameters={"params:judge_probe"},
            tags="judge_probe",
        )
        for model in probed_models(iteration_count or read_iterations())
    )
