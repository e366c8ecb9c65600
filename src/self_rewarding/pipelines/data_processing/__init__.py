"""Seed data: IFT and EFT training sets, EFT evaluation set, decontaminated and checked."""

from self_rewarding.pipelines.data_processing.pipeline import create_pipeline

__all__ = ["create_pipeline"]
