"""``iteration``: one self-rewarding iteration, M_t -> M_{t+1}, reused for t = 1, 2 through
namespaces ``iter1`` (M1 -> M2), ``iter2`` (M2 -> M3), ... (``loop.iterations``)."""

from self_rewarding.pipelines.iteration.pipeline import create_pipeline

__all__ = ["create_pipeline"]
