"""``iteration``: self-instruct -> candidates -> judge -> pairs -> DPO, one namespace per
iteration (Kedro pipelines cannot loop):

    kedro run --pipelines=iteration --namespaces=iter1                  # M1 -> M2
    kedro run --pipelines=iteration --namespaces=iter2 --tags=judge     # one step

Each step is tagged (``self_instruct``, ``candidates``, ``judge``, ``pairs``, ``dpo``), so
that DVC runs one step of one iteration per stage. A great-expectations gate closes the
prompts, judgments and pairs steps; the next step takes the gate's verdict as an input.
"""

from kedro.pipeline import Node, Pipeline

from self_rewarding.pipelines.iteration import nodes
from self_rewarding.pipelines.validation_nodes import (
    check_generated_prompts,
    check_judgments,
    check_preference_pairs,
    enforce_judgments_gate,
    enforce_pairs_gate,
    enforce_prompts_gate,
)

# (namespace, M_t, M_{t+1})
ITERATIONS = (("iter1", "M1", "M2"), ("iter2", "M2", "M3"))


def create_iteration_template() -> Pipeline:
    """The steps of one iteration, on ``model_in`` (M_t) making ``model_out``."""
    self_instruct = Pipeline(
        [
            Node(
                nodes.generate_prompts,
                ["model_in", "ift_train", "params:iteration", "params:t"],
                ["generated_prompts", "self_instruct_metrics"],
                name="generate_prompts_node",
            ),
            Node(
                check_generated_prompts,
                ["generated_prompts", "params:iteration"],
                ["generated_prompts_report", "generated_prompts_report_html"],
                name="check_generated_prompts_node",
            ),
            Node(
                enforce_prompts_gate,
                "generated_prompts_report",
                "generated_prompts_gate",
                name="enforce_prompts_gate_node",
            ),
        ],
        tags="self_instruct",
    )
    candidates = Pipeline(
        [
            Node(
                nodes.generate_candidates,
                [
                    "model_in",
                    "generated_prompts",
                    "generated_prompts_gate",
                    "params:iteration",
                    "params:t",
                ],
                ["candidates", "candidates_metrics"],
                name="generate_candidates_node",
            ),
        ],
        tags="candidates",
    )
    judge = Pipeline(
        [
            Node(
                nodes.judge_candidates,
                ["model_in", "candidates", "params:iteration", "params:t"],
                ["judgments", "judge_metrics"],
                name="judge_candidates_node",
            ),
            Node(
                check_judgments,
                ["judgments", "params:iteration"],
                ["judgments_report", "judgments_report_html"],
                name="check_judgments_node",
            ),
            Node(
                enforce_judgments_gate,
                "judgments_report",
                "judgments_gate",
                name="enforce_judgments_gate_node",
            ),
        ],
        tags="judge",
    )
    pairs = Pipeline(
        [
            Node(
                nodes.build_preference_pairs,
                ["candidates", "judgments", "judgments_gate", "params:t"],
                ["preference_pairs", "pairs_metrics"],
                name="build_preference_pairs_node",
            ),
            Node(
                nodes.sample_pairs,
                "preference_pairs",
                "sample_pairs",
                name="sample_pairs_node",
            ),
            Node(
                check_preference_pairs,
                ["preference_pairs", "params:iteration"],
                ["preference_pairs_report", "preference_pairs_report_html"],
                name="check_preference_pairs_node",
            ),
            Node(
                enforce_pairs_gate,
                "preference_pairs_report",
                "preference_pairs_gate",
                name="enforce_pairs_gate_node",
            ),
        ],
        tags="pairs",
    )
    dpo = Pipeline(
        [
            Node(
                nodes.train_next_model,
                ["model_in", "preference_pairs", "preference_pairs_gate", "params:dpo"],
                ["model_out", "dpo_metrics"],
                name="train_next_model_node",
            ),
        ],
        tags=["dpo", "training"],
    )
    return self_instruct + candidates + judge + pairs + dpo


def create_pipeline(**kwargs) -> Pipeline:
    template = create_iteration_template()
    return sum(
        Pipeline(
            template,
            namespace=namespace,
            inputs={"model_in": f"model_{model_in}", "ift_train": "ift_train"},
            outputs={"model_out": f"model_{model_out}"},
            parameters={"params:iteration", "params:dpo"},
            tags="iteration",
        )
        for namespace, model_in, model_out in ITERATIONS
    )
