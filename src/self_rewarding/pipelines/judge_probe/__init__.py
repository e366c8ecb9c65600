"""The judge probe of each model: parse rate of ``Score: X`` answers."""

from self_rewarding.pipelines.judge_probe.pipeline import create_pipeline

__all__ = ["create_pipeline"]
