"""The HTTP evaluator against a stub OpenAI-compatible server on loopback: the request it
sends and the answer it reads; retries on 429/5xx; bounded concurrency in prompt order; a
killed evaluation resumes from its finished chunks; clear errors without a key, without a
server, or when the server keeps failing; and the key is never written anywhere."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from self_rewarding.core.types import EvaluationConfig, EvaluatorConfig, SamplingConfig
from self_rewarding.generation.chunks import GenerationError
from self_rewarding.generation.openai_backend import EvaluatorEndpointError, OpenAIChatGenerator
from self_rewarding.pipelines.evaluation import nodes

MAX_REQUESTS = 400  # the stub refuses more: a retry loop gone wrong cannot run on
KEY = "sk-test-never-written-5f1d9c"


class _ChatCompletions(BaseHTTPRequestHandler):
    """Answers ``Verdict k on <question>: [[A]]``; ``failures[question]`` lists the
    statuses of its first attempts; ``delay`` seconds before every answer."""

    lock = threading.Lock()
    requests: list = []
    failures: dict = {}
    status = 200
    retry_after_ms: str | None = "10"
    delay = 0.0
    fail_after: int | None = None  # every later request answers 503
    in_flight = 0
    most_in_flight = 0

    def do_POST(self):  # noqa: N802 (http.server's name)
        cls = type(self)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        question = body["messages"][-1]["content"]
        with cls.lock:
            cls.requests.append(
                {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
            )
            count = len(cls.requests)
            queued = cls.failures.get(question, [])
            status = queued.pop(0) if queued else cls.status
            if cls.fail_after is not None and count > cls.fail_after:
                status = 503
            cls.in_flight += 1
            cls.most_in_flight = max(cls.most_in_flight, cls.in_flight)
        time.sleep(cls.delay)
        # Out of flight before the answer is sent: a client that sends its next request
        # on reading this answer must not find this one still counted.
        with cls.lock:
            cls.in_flight -= 1
        if count > MAX_REQUESTS:
            self._send(400, {"error": {"message": "stub request limit"}})
        elif status != 200:
            self._send(status, {"error": {"message": "model overloaded"}})
        else:
            self._send(200, self._answer(question, body.get("n", 1)))

    @staticmethod
    def _answer(question: str, n: int) -> dict:
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": "judge-model",
            "choices": [
                {
                    "index": k,
                    "message": {
                        "role": "assistant",
                        "content": f"Verdict {k} on {question}: [[A]]",
                    },
                    "finish_reason": "stop",
                }
                for k in range(n)
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 6 * n, "total_tokens": 10 + 6 * n},
        }

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status != 200 and type(self).retry_after_ms is not None:
            self.send_header("retry-after-ms", type(self).retry_after_ms)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _ChatCompletions.requests = []
    _ChatCompletions.failures = {}
    _ChatCompletions.status = 200
    _ChatCompletions.retry_after_ms = "10"
    _ChatCompletions.delay = 0.0
    _ChatCompletions.fail_after = None
    _ChatCompletions.in_flight = _ChatCompletions.most_in_flight = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ChatCompletions)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/v1"
    httpd.shutdown()
    httpd.server_close()


def _questions() -> list[str]:
    return [r["body"]["messages"][-1]["content"] for r in _ChatCompletions.requests]


def test_sends_chat_completions_and_reads_the_choices(server):
    generator = OpenAIChatGenerator(server, "judge-model", "sk-test", timeout=5)
    sampling = SamplingConfig(temperature=0.0, max_new_tokens=32, n=2)

    answers = generator.generate(["Which is better?", "And now?"], sampling)

    assert [[str(c) for c in row] for row in answers] == [
        ["Verdict 0 on Which is better?: [[A]]", "Verdict 1 on Which is better?: [[A]]"],
        ["Verdict 0 on And now?: [[A]]", "Verdict 1 on And now?: [[A]]"],
    ]
    assert answers[0][0].finish_reason == "stop" and answers[0][0].n_tokens == 6
    assert generator.tokens_generated == 24
    assert generator.seconds > 0
    first = _ChatCompletions.requests[_questions().index("Which is better?")]
    assert first["path"] == "/v1/chat/completions"
    assert first["headers"]["authorization"] == "Bearer sk-test"
    assert first["body"]["model"] == "judge-model"
    assert first["body"]["messages"] == [{"role": "user", "content": "Which is better?"}]
    assert (first["body"]["n"], first["body"]["max_tokens"], first["body"]["temperature"]) == (
        2,
        32,
        0.0,
    )
    generator.close()


def test_429_and_5xx_are_retried_and_answers_keep_prompt_order(server):
    prompts = [f"question {i}" for i in range(24)]
    _ChatCompletions.failures = {
        "question 1": [429],
        "question 5": [503, 503],
        "question 17": [500],
    }
    _ChatCompletions.delay = 0.05  # so that requests overlap
    generator = OpenAIChatGenerator(server, "m", "sk-test", timeout=5, max_concurrency=4)

    answers = generator.generate(prompts, SamplingConfig(n=1))

    assert [str(row[0]) for row in answers] == [f"Verdict 0 on {p}: [[A]]" for p in prompts]
    assert len(_ChatCompletions.requests) == len(prompts) + 4  # 4 retries
    assert _questions().count("question 5") == 3
    assert generator.tokens_generated == 6 * len(prompts)
    assert 1 < _ChatCompletions.most_in_flight <= 4


def test_retries_back_off_without_a_retry_after_header(server):
    _ChatCompletions.retry_after_ms = None
    _ChatCompletions.failures = {"slow": [503]}
    generator = OpenAIChatGenerator(server, "m", "sk-test", timeout=5)
    started = time.perf_counter()

    (row,) = generator.generate(["slow"], SamplingConfig())

    assert str(row[0]) == "Verdict 0 on slow: [[A]]"
    assert time.perf_counter() - started >= 0.3  # the SDK's first backoff: 0.5 s minus jitter


def test_an_http_error_after_the_retries_names_the_endpoint_and_status(server):
    _ChatCompletions.status = 503
    generator = OpenAIChatGenerator(server, "m", "sk-test", timeout=5, max_retries=2)
    with pytest.raises(
        EvaluatorEndpointError,
        match=r"endpoint http://127\.0\.0\.1:\d+/v1/chat/completions answered HTTP 503 "
        r"\(after 2 retries\): .*model overloaded",
    ):
        generator.generate(["hi"], SamplingConfig())
    assert len(_ChatCompletions.requests) == 3


def test_a_client_error_is_not_retried(server):
    _ChatCompletions.status = 400
    generator = OpenAIChatGenerator(server, "m", "sk-test", timeout=5)
    with pytest.raises(EvaluatorEndpointError, match=r"answered HTTP 400: .*model overloaded"):
        generator.generate(["hi"], SamplingConfig())
    assert len(_ChatCompletions.requests) == 1


def test_without_a_key_the_error_says_where_to_put_it(server):
    with pytest.raises(EvaluatorEndpointError, match=r"no API key.*conf/local/credentials\.yml"):
        OpenAIChatGenerator(server, "judge-model", None)


def test_an_endpoint_that_is_down_is_named_in_the_error_quickly():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    generator = OpenAIChatGenerator(
        f"http://127.0.0.1:{port}/v1", "m", "sk-test", timeout=2, max_retries=2
    )
    started = time.perf_counter()
    with pytest.raises(
        EvaluatorEndpointError,
        match=rf"Cannot reach the evaluator endpoint http://127.0.0.1:{port}/v1/chat/completions"
        r": .*\(after 2 retries\)",
    ):
        generator.generate(["hi"], SamplingConfig())
    assert time.perf_counter() - started < 10


def test_an_endpoint_that_never_answers_times_out(server):
    _ChatCompletions.delay = 3.0
    generator = OpenAIChatGenerator(server, "m", "sk-test", timeout=0.5, max_retries=1)
    started = time.perf_counter()
    with pytest.raises(
        EvaluatorEndpointError,
        match=r"Cannot reach the evaluator endpoint .*: no answer within 0.5 s \(after 1 retries\)",
    ):
        generator.generate(["hi"], SamplingConfig())
    assert time.perf_counter() - started < 3.0


# The evaluation node on the HTTP evaluator: a paper-shaped job in miniature.

JUDGE_PROMPTS = pd.DataFrame(
    [
        {
            "name": "pair-v2",
            "system_prompt": "Compare.",
            "prompt_template": "{question}: {answer_a} | {answer_b}",
        },
        {"name": "single-v1", "system_prompt": "Rate.", "prompt_template": "{question}: {answer}"},
    ]
)
EFT_EVAL = pd.DataFrame(
    [
        {"prompt_id": "p", "prompt": "Q", "response_id": r, "response": r * 3, "human_rank": k}
        for k, r in enumerate("ab")
    ]
)


def _reference(text: str) -> pd.DataFrame:
    return pd.DataFrame([{"instruction": f"Task {i}", "output": text} for i in range(4)])


def _answers(words: int) -> pd.DataFrame:
    rows = [
        {
            "benchmark": "alpaca_eval",
            "item_id": str(i),
            "category": "",
            "prompt": f"Task {i}",
            "answer": "w " * words,
        }
        for i in range(4)
    ]
    rows.append(
        {
            "benchmark": "mt_bench",
            "item_id": "81",
            "category": "writing",
            "prompt": "Blog",
            "answer": "w " * words,
        }
    )
    return pd.DataFrame(rows)


def _evaluation(base_url: str, chunk_dir, **evaluator) -> EvaluationConfig:
    return EvaluationConfig(
        judge_alignment_prompts=None,
        comparisons=(("M2", "M1"),),
        evaluator=EvaluatorConfig(
            name="stub",
            kind="openai",
            model="judge-model",
            base_url=base_url,
            chunk_size=4,
            chunk_dir=str(chunk_dir),
            timeout_seconds=5,
            # the stub answers [[A]] to everything, a referee no one would trust: the
            # win-rate verdicts are asked anyway, as the tests count them
            **({"skip_win_rates_if_untrusted": False} | evaluator),
        ),
    )


MT_BENCH_HUMAN = pd.DataFrame(
    [
        {
            "input": "Explain tides.",
            "output_1": "The moon pulls the sea.",
            "output_2": "no",
            "label": 1,
        }
    ]
)


def _evaluate(evaluation: EvaluationConfig, key: str = KEY):
    return nodes.evaluate_instruction_following(
        JUDGE_PROMPTS,
        _reference("gpt-4 answer"),
        _reference("davinci answer"),
        EFT_EVAL,
        MT_BENCH_HUMAN,
        evaluation,
        {"api_key": key},
        answers_M1=_answers(3),
        answers_M2=_answers(8),
    )


def _files(root) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file())


# The evaluator's own MT-Bench human pair in both orders first (one chunk); then 2 models x
# 2 references x 4 prompts + 4 head to head, both orders: 40 verdicts, and the MT-Bench
# question head to head (one turn: the answers have no second) in both orders (11 chunks of
# 4); then 2 MT-Bench grades and 2 OASST scores.
REQUESTS = 40 + 2 + 2 + 2 + 2


def test_a_killed_evaluation_resumes_from_its_finished_chunks(server, tmp_path):
    expected, expected_metrics = _evaluate(_evaluation(server, tmp_path / "uninterrupted"))
    assert len(_ChatCompletions.requests) == REQUESTS
    assert len(set(_questions())) == REQUESTS
    _ChatCompletions.requests = []

    # One request at a time: requests 1-2 are the human-pair chunk (the referee's
    # agreement, asked first), 3-18 four chunks of win-rate verdicts; request 22, in the
    # fifth, fails for good: five chunks are finished when the run dies.
    chunks = tmp_path / "chunks"
    _ChatCompletions.fail_after = 21
    with pytest.raises(GenerationError) as failure:
        _evaluate(_evaluation(server, chunks, max_concurrency=1, max_retries=0))
    # the error names the job, the chunk, the evaluator, the endpoint and its status
    assert failure.match(
        r"evaluator verdicts: chunk 4 \(4 prompts\) failed on model judge-model at "
        r"http://127\.0\.0\.1:\d+/v1: The evaluator endpoint http://127\.0\.0\.1:\d+/v1/chat/"
        r"completions answered HTTP 503 \(after 0 retries\)"
    )
    assert isinstance(failure.value.__cause__, EvaluatorEndpointError)
    first_run = _questions()
    assert len(first_run) == 22
    assert len(_files(chunks)) == 5

    _ChatCompletions.requests = []
    _ChatCompletions.fail_after = None
    judged, metrics = _evaluate(_evaluation(server, chunks))

    resumed = _questions()
    assert len(resumed) == REQUESTS - 18
    assert not set(resumed) & set(first_run[:18])  # the finished chunks are not asked again
    pd.testing.assert_frame_equal(judged, expected)
    assert metrics == expected_metrics
    # the stub always answers [[A]]: every model ties in both orders
    assert metrics["M2.vs_M1.ties"] == 4.0
    assert _files(chunks) == []  # removed once the evaluation is complete


def test_the_chunks_are_keyed_on_endpoint_model_and_sampling_never_the_key(server, tmp_path):
    chunks = tmp_path / "chunks"

    def asked(key: str = KEY, fail_after: int | None = 4, **changes) -> list[str]:
        """The questions one run sends; with ``fail_after=4`` it dies in the first chunk of
        win-rate verdicts, after the chunk of human-pair verdicts (2 prompts)."""
        evaluation = _evaluation(server, chunks, max_concurrency=1, max_retries=0)
        evaluator = dataclasses.replace(evaluation.evaluator, **changes)
        _ChatCompletions.requests = []
        _ChatCompletions.fail_after = fail_after
        try:
            _evaluate(dataclasses.replace(evaluation, evaluator=evaluator), key)
        except GenerationError:
            pass
        return _questions()

    first = asked()
    assert len(first) == 5 and len(_files(chunks)) == 1
    for changes in (
        {"model": "another-model"},
        {"base_url": server.replace("/v1", "/v2")},  # the stub answers on any path
        {"sampling": SamplingConfig(temperature=0.0, max_new_tokens=97)},
    ):
        assert asked(**changes)[:4] == first[:4], changes  # nothing reused
    assert len(_files(chunks)) == 4
    # Another key for the same endpoint, model and sampling: the finished chunk is reused.
    assert len(asked(key="sk-another-key", fail_after=None)) == REQUESTS - 2


def test_the_api_key_is_never_written_anywhere(server, tmp_path, caplog):
    import mlflow
    from mlflow.tracking import MlflowClient

    caplog.set_level(logging.DEBUG)
    chunks = tmp_path / "chunks"
    evaluation = _evaluation(server, chunks, max_retries=0)
    _ChatCompletions.fail_after = 30
    with pytest.raises(GenerationError) as failure:
        _evaluate(evaluation)
    assert KEY not in str(failure.value)
    assert _files(chunks)  # the finished chunks of the killed run are on disk
    chunk_texts = [p.read_text(encoding="utf-8") for p in _files(chunks)]
    _ChatCompletions.fail_after = None

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    try:
        experiment = mlflow.create_experiment(
            "evaluation", artifact_location=(tmp_path / "mlruns").as_uri()
        )
        with mlflow.start_run(experiment_id=experiment) as run:
            judged, metrics = _evaluate(evaluation)
            # what kedro-mlflow logs of the node: its parameters, flattened
            flat = pd.json_normalize(dataclasses.asdict(evaluation), sep=".").iloc[0]
            mlflow.log_params({f"evaluation.{k}": str(v)[:250] for k, v in flat.items()})
            mlflow.log_metrics({k: v for k, v in metrics.items() if v is not None})
            judged.to_json(tmp_path / "evaluator_judgments.jsonl", orient="records", lines=True)
            (tmp_path / "instruction_following.json").write_text(json.dumps(metrics))
            mlflow.log_artifact(str(tmp_path / "evaluator_judgments.jsonl"))
        logged = MlflowClient(uri).get_run(run.info.run_id).data
    finally:
        mlflow.set_tracking_uri(None)

    assert logged.params["evaluation.evaluator.base_url"] == server
    assert all(f"Bearer {KEY}" == r["headers"]["authorization"] for r in _ChatCompletions.requests)
    written = _files(tmp_path)
    assert {p.name for p in written} >= {
        "mlflow.db",
        "evaluator_judgments.jsonl",
        "instruction_following.json",
    }
    assert list((tmp_path / "mlruns").rglob("evaluator_judgments.jsonl"))
    assert [p for p in written if KEY.encode() in p.read_bytes()] == []
    assert not any(KEY in text for text in chunk_texts)
    assert KEY not in caplog.text
