"""``iteration``: self-instruct -> candidates -> judge -> pairs -> DPO, one namespace per
iteration (Kedro pipelines cannot loop), as many as ``loop.iterations`` in params.yaml:

    kedro run --pipelines=iteration --namespaces=iter1                  # M1 -> M2
    kedro run --pipelines=iteration --namespaces=iter2 --tags=judge     # one step

Each step is tagged (``self_instruct``, ``candidates``, ``judge``, ``pairs``,
``pair_precision``, ``dpo``), so that DVC runs one step of one iteration per stage;
``pair_precision`` (a referee on a sample of the pairs) only measures, DPO does not wait
for it. A great-expectations gate closes the
prompts, judgments and pairs steps; the next step takes the gate's verdict as an input.
"""

from functools import partial

from kedro.pipeline import Node, Pipeline

from self_rewarding.core.topology import iterations
from self_rewarding.loop_topology import read_iterations
from self_rewarding.pipelines.iteration import generation_steps, training
from self_rewarding.pipelines.iteration import pairs as pair_nodes
from self_rewarding.pipelines.iteration.pair_precision import measure_pair_precision
from self_rewarding.pipelines.validation_nodes import (
    check_generated_prompts,
    check_judgments,
    check_preference_pairs,
    enforce_judgments_gate,
    enforce_pairs_gate,
    enforce_prompts_gate,
)


def _of_iteration(function, t: int):
    """``function`` with its iteration number ``t`` given, under its own name."""
    bound = partial(function, t=t)
    bound.__name__ = function.__name__
    return bound


def create_iteration_template(t: int) -> Pipeline:
    """The steps of iteration ``t``, on ``model_in`` (M_t) making ``model_out``."""
    self_instruct = Pipeline(
        [
            Node(
                _of_iteration(generation_steps.generate_prompts, t),
                ["model_in", "ift_train", "params:iteration"],
                ["generated_prompts", "self_instruct_metrics"],
                name="generate_prompts_node",
            ),
            Node(
                _of_iteration(check_generated_prompts, t),
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
                _of_iteration(generation_steps.generate_candidates, t),
                [
                    "model_in",
                    "generated_prompts",
                    "generated_prompts_gate",
                    "params:iteration",
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
                _of_iteration(generation_steps.judge_candidates, t),
                ["model_in", "candidates", "params:iteration"],
                ["judgments", "judge_metrics"],
                name="judge_candidates_node",
            ),
            Node(
                _of_iteration(check_judgments, t),
                # From the second iteration on, the scores are checked for drift
                # against the previous iteration's.
                ["judgments", "params:iteration", *(["previous_judgments"] if t > 1 else [])],
                ["judgments_report", "judgments_report_html"],
                name="check_judgments_node",
            ),
            Node(
                enforce_judgments_gate,
                "judgments_report",
                "judgments_gate",
                name="enforce_judgments_gate_node",
            ),
            Node(
                _of_iteration(generation_steps.meta_judge_candidates, t),
                ["model_in", "candidates", "params:iteration"],
                ["meta_judgments", "meta_judge_metrics"],
                name="meta_judge_node",
            ),
        ],
        tags="judge",
    )
    pairs = Pipeline(
        [
            Node(
                _of_iteration(pair_nodes.build_preference_pairs, t),
                {
                    "candidates": "candidates",
                    "judgments": "judgments",
                    "judgments_gate": "judgments_gate",
                    "length_control_rho": "params:length_control_rho",
                    "min_margin": "params:pairs.min_margin",
                },
                ["preference_pairs", "pairs_metrics"],
                name="build_preference_pairs_node",
            ),
            Node(
                pair_nodes.sample_pairs,
                "preference_pairs",
                "sample_pairs",
                name="sample_pairs_node",
            ),
            Node(
                _of_iteration(check_preference_pairs, t),
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
    precision = Pipeline(
        [
            Node(
                measure_pair_precision,
                ["preference_pairs", "mt_bench_judge_prompts", "params:iteration"],
                ["pair_verdicts", "pair_precision_metrics"],
                name="measure_pair_precision_node",
            )
        ],
        tags="pair_precision",
    )
    dpo = Pipeline(
        [
            Node(
                training.train_next_model,
                [
                    "model_in",
                    "preference_pairs",
                    "preference_pairs_gate",
                    "params:dpo",
                    "meta_judgments",
                    "params:iteration",
                ],
                ["model_out", "dpo_metrics"],
                name="train_next_model_node",
            ),
        ],
        tags=["dpo", "training"],
    )
    return self_instruct + candidates + judge + pairs + precision + dpo


def create_pipeline(iteration_count: int | None = None, **kwargs) -> Pipeline:
    """One namespace per iteration; ``iteration_count`` defaults to params.yaml's."""
    return sum(
        Pipeline(
            create_iteration_template(it.t),
            namespace=it.name,
            inputs={
                "model_in": f"model_{it.model}",
                "ift_train": "ift_train",
                "mt_bench_judge_prompts": "mt_bench_judge_prompts",
                **({"previous_judgments": f"iter{it.t - 1}.judgments"} if it.t > 1 else {}),
            },
            outputs={"model_out": f"model_{it.next_model}"},
            parameters={
                "params:iteration",
                "params:dpo",
                "params:length_control_rho",
                "params:pairs.min_margin",
            },
            tags="iteration",
        )
        for it in iterations(iteration_count or read_iterations())
    )
