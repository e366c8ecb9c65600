"""``judge_probe``: each model judges EFT-eval replies with the verbatim prompt; how many
answers hold a parseable score. One namespace per model (``M0`` to ``M3``), so that
``kedro run --pipelines=judge_probe --namespaces=M1`` probes one model, and the probe
never retrains anything.
"""

from kedro.pipeline import Node, Pipeline

from self_rewarding.pipelines.judging import probe_judge

PROBED_MODELS = ("M0", "M1", "M2", "M3")


def create_pipeline(**kwargs) -> Pipeline:
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
        for model in PROBED_MODELS
    )
