"""Supervised fine-tuning: the SFT baseline (IFT) and M1 (IFT + EFT)."""

from self_rewarding.pipelines.sft.pipeline import create_pipeline

__all__ = ["create_pipeline"]
