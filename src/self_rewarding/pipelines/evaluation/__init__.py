"""``evaluation``: every model the loop made, measured the same way."""

from self_rewarding.pipelines.evaluation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
