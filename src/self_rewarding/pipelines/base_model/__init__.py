"""M0: the base model saved as safetensors."""

from self_rewarding.pipelines.base_model.pipeline import create_pipeline

__all__ = ["create_pipeline"]
