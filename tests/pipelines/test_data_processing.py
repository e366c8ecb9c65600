"""The ``data_processing`` pipeline run by Kedro's SequentialRunner on small in-memory
seed data: decontamination, EFT targets and the great-expectations gates."""

from __future__ import annotations

import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from self_rewarding.core.judge import parse_score
from self_rewarding.core.types import EFTConfig, IFTConfig
from self_rewarding.pipelines.data_processing import create_pipeline

EVAL_PROMPT = "What do you think about ChatGPT?"


def _catalog(ift_rows: list[dict]) -> DataCatalog:
    catalog = DataCatalog()
    catalog["oasst2_ift_candidates"] = pd.DataFrame(ift_rows)
    catalog["oasst2_quality_scored"] = pd.DataFrame(
        [
            {
                "prompt_text": f"Question {i}?",
                "response_id": f"r{i}",
                "response_text": f"Answer {i}.",
                "quality_score": i / 5,
            }
            for i in range(6)
        ]
        + [
            {
                "prompt_text": EVAL_PROMPT.upper(),
                "response_id": "leak",
                "response_text": "A leaked eval reply.",
                "quality_score": 1.0,
            },
            {
                "prompt_text": "No label?",
                "response_id": "unlabelled",
                "response_text": "Reply.",
                "quality_score": None,
            },
        ]
    )
    catalog["oasst1_validation_ranked"] = pd.DataFrame(
        [
            {
                "prompt": EVAL_PROMPT,
                "responses": [
                    {"message_id": "a", "text": "Good.", "rank": 0},
                    {"message_id": "b", "text": "Bad.", "rank": 1},
                    {"message_id": "c", "text": "Unranked.", "rank": None},
                ],
            }
        ]
    )
    catalog["alpaca_eval_prompts"] = pd.DataFrame([{"instruction": "Write a haiku."}])
    catalog["mt_bench_questions"] = pd.DataFrame([{"turns": ["Plan a trip.", "Shorter."]}])
    # Kedro builds typed parameters in the session; the runner takes them built.
    catalog["params:ift"] = IFTConfig(max_response_words=50, seed=0)
    catalog["params:eft"] = EFTConfig(max_response_words=50, seed=0)
    return catalog


def _run(catalog: DataCatalog) -> DataCatalog:
    for name in ("ift_train", "eft_candidates", "eft_eval", "seed_data_metrics"):
        catalog[name] = MemoryDataset()
    SequentialRunner().run(create_pipeline(), catalog)
    return catalog


def test_builds_decontaminated_seed_sets():
    catalog = _run(
        _catalog(
            [
                {"prompt": "Explain gravity.", "response": "Mass attracts mass."},
                {"prompt": "  what do you think about   chatgpt? ", "response": "Leak."},
                {"prompt": "write a haiku.", "response": "Leak too."},
            ]
        )
    )
    ift = catalog.load("ift_train")
    eft = catalog.load("eft_candidates")
    eft_eval = catalog.load("eft_eval")
    metrics = catalog.load("seed_data_metrics")

    assert list(ift["prompt"]) == ["Explain gravity."]
    assert sorted(eft["score"]) == [0, 1, 2, 3, 4, 5]
    assert all(parse_score(t) == s for t, s in zip(eft["response"], eft["score"], strict=True))
    assert all(EVAL_PROMPT.lower() not in p.lower() for p in eft["instruction"])
    assert list(eft_eval["response_id"]) == ["a", "b"]
    assert metrics["ift_dropped_eval_overlap"] == 2
    assert metrics["eft_dropped_eval_overlap"] == 1
    assert metrics["eft_dropped_no_quality"] == 1


def test_an_empty_response_fails_the_gate_before_anything_is_saved():
    from self_rewarding.validation.expectations import DataValidationError

    catalog = _catalog([{"prompt": "Explain gravity.", "response": " "}])
    with pytest.raises(DataValidationError, match="column 'response'"):
        _run(catalog)
