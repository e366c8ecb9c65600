"""The HTTP evaluator against a stub OpenAI-compatible server on loopback: the request it
sends, the answer it reads, and clear errors without a key or without a server."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from self_rewarding.core.types import SamplingConfig
from self_rewarding.generation.openai_backend import EvaluatorEndpointError, OpenAIChatGenerator


class _ChatCompletions(BaseHTTPRequestHandler):
    requests: list = []
    status = 200

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if type(self).status != 200:
            self.send_response(type(self).status)
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "model overloaded"}}')
            return
        question = body["messages"][-1]["content"]
        answer = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [
                {
                    "index": k,
                    "message": {
                        "role": "assistant",
                        "content": f"Verdict {k} on {question}: [[A]]",
                    },
                    "finish_reason": "stop",
                }
                for k in range(body.get("n", 1))
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 6 * body.get("n", 1)},
        }
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _ChatCompletions.requests = []
    _ChatCompletions.status = 200
    httpd = HTTPServer(("127.0.0.1", 0), _ChatCompletions)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/v1"
    httpd.shutdown()


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
    first = _ChatCompletions.requests[0]
    assert first["path"] == "/v1/chat/completions"
    assert first["headers"]["Authorization"] == "Bearer sk-test"
    assert first["body"]["model"] == "judge-model"
    assert first["body"]["messages"] == [{"role": "user", "content": "Which is better?"}]
    assert (first["body"]["n"], first["body"]["max_tokens"], first["body"]["temperature"]) == (
        2,
        32,
        0.0,
    )


def test_without_a_key_the_error_says_where_to_put_it(server):
    with pytest.raises(EvaluatorEndpointError, match=r"no API key.*conf/local/credentials\.yml"):
        OpenAIChatGenerator(server, "judge-model", None)


def test_an_unreachable_endpoint_is_named_in_the_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    generator = OpenAIChatGenerator(f"http://127.0.0.1:{port}/v1", "m", "sk-test", timeout=5)
    with pytest.raises(
        EvaluatorEndpointError,
        match=rf"Cannot reach the evaluator endpoint http://127.0.0.1:{port}/v1/chat/completions",
    ):
        generator.generate(["hi"], SamplingConfig())


def test_an_http_error_is_reported_with_its_status(server):
    _ChatCompletions.status = 503
    generator = OpenAIChatGenerator(server, "m", "sk-test", timeout=5)
    with pytest.raises(EvaluatorEndpointError, match="answered HTTP 503: .*model overloaded"):
        generator.generate(["hi"], SamplingConfig())
