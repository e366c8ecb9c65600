"""An OpenAI-compatible chat-completions endpoint as a generator (an evaluator behind an
HTTP API: OpenAI, vLLM's server, llama.cpp's server, ...). Standard library only.

The key comes from ``conf/local/credentials.yml`` (never from parameters, never logged).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

from self_rewarding.core.types import SamplingConfig
from self_rewarding.generation.base import Completion

logger = logging.getLogger(__name__)


class EvaluatorEndpointError(RuntimeError):
    """The endpoint is missing its key, unreachable, or answered with an error."""


class OpenAIChatGenerator:
    """Sends each prompt as one user turn to ``{base_url}/chat/completions``."""

    def __init__(self, base_url: str, model: str, api_key: str | None, timeout: float = 60.0):
        if not base_url:
            raise EvaluatorEndpointError("The HTTP evaluator needs a base_url in parameters.")
        if not api_key:
            raise EvaluatorEndpointError(
                f"The evaluator at {base_url} has no API key: put it under "
                "`openai_evaluator: {api_key: ...}` in conf/local/credentials.yml."
            )
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._api_key = api_key
        self.timeout = timeout
        self.tokens_generated = 0
        self.seconds = 0.0

    def _post(self, body: dict) -> dict:
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode("utf-8"),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self._api_key}",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")[:300]
            raise EvaluatorEndpointError(
                f"The evaluator endpoint {self.url} answered HTTP {error.code}: {detail}"
            ) from error
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise EvaluatorEndpointError(
                f"Cannot reach the evaluator endpoint {self.url}: {reason}"
            ) from error

    def generate(
        self, prompts: Sequence[str], sampling: SamplingConfig, chat: bool = True
    ) -> list[list[Completion]]:
        if not chat:
            raise ValueError("A chat-completions endpoint only takes chat prompts")
        if sampling.regex is not None:
            logger.warning("The HTTP evaluator has no structured output: regex not applied")
        results = []
        started = time.perf_counter()
        for prompt in prompts:
            body = {
                "model": self.model,
                "messages": [{"role": "user", "content": prompt}],
                "n": sampling.n,
                "temperature": sampling.temperature,
                "top_p": sampling.top_p,
                "max_tokens": sampling.max_new_tokens,
                "seed": sampling.seed,
                **({"stop": list(sampling.stop)} if sampling.stop else {}),
            }
            answer = self._post(body)
            try:
                choices = answer["choices"]
                tokens = int(answer.get("usage", {}).get("completion_tokens", 0))
                row = [
                    Completion(
                        choice["message"]["content"] or "",
                        tokens // max(len(choices), 1),
                        choice.get("finish_reason"),
                    )
                    for choice in choices
                ]
            except (KeyError, TypeError) as error:
                raise EvaluatorEndpointError(
                    f"The evaluator endpoint {self.url} answered without choices/message/"
                    f"content: {str(answer)[:300]}"
                ) from error
            self.tokens_generated += tokens
            results.append(row)
        self.seconds += time.perf_counter() - started
        return results

    def close(self) -> None:
        """Nothing to free."""
