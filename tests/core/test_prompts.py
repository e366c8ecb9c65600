"""Covers ``self_rewarding.core.prompts``: the judge template is pinned to the paper's
verbatim text (Figure 2), and rendering fills exactly its two placeholders."""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest

from self_rewarding.core import prompts
from self_rewarding.core.prompts import (
    JUDGE_PLACEHOLDERS,
    JUDGE_TEMPLATE_NAME,
    load_template,
    render_judge_prompt,
    template_placeholders,
    template_sha256,
)

VERBATIM_JUDGE_TEMPLATE = """\
Review the user's question and the corresponding response using the additive 5-point
scoring system described below. Points are accumulated based on the satisfaction of each
criterion:
- Add 1 point if the response is relevant and provides some information related to
the user's inquiry, even if it is incomplete or contains some irrelevant content.
- Add another point if the response addresses a substantial portion of the user's question,
but does not completely resolve the query or provide a direct answer.
- Award a third point if the response answers the basic elements of the user's question in a
useful way, regardless of whether it seems to have been written by an AI Assistant or if it
has elements typically found in blogs or search results.
- Grant a fourth point if the response is clearly written from an AI Assistant's perspective,
addressing the user's question directly and comprehensively, and is well-organized and
helpful, even if there is slight room for improvement in clarity, conciseness or focus.
- Bestow a fifth point for a response that is impeccably tailored to the user's question
by an AI Assistant, without extraneous information, reflecting expert knowledge, and
demonstrating a high-quality, engaging, and insightful answer.
User: {instruction}
<response>{response}</response>
After examining the user's instruction and the response:
- Briefly justify your total score, up to 100 words.
- Conclude with the score using the format: "Score: <total points>"
Remember to assess from the AI Assistant perspective, utilizing web search knowledge as
necessary. To evaluate the response in alignment with this additive scoring model, we'll
systematically attribute points based on the outlined criteria.
"""  # noqa: E501

VERBATIM_SHA256 = hashlib.sha256(VERBATIM_JUDGE_TEMPLATE.encode("utf-8")).hexdigest()


def _expected_rendering(instruction: str, response: str) -> str:
    """Fills the verbatim text by splitting on the placeholders (no str.format)."""
    head, _, rest = VERBATIM_JUDGE_TEMPLATE.partition("{instruction}")
    middle, _, tail = rest.partition("{response}")
    return head + instruction + middle + response + tail.rstrip("\n")


def test_template_file_is_the_verbatim_text():
    templates = resources.files("self_rewarding.core") / "templates"
    packaged = templates / JUDGE_TEMPLATE_NAME
    raw = packaged.read_bytes()
    assert raw.decode("utf-8") == VERBATIM_JUDGE_TEMPLATE
    assert hashlib.sha256(raw).hexdigest() == VERBATIM_SHA256
    assert raw.endswith(b"criteria.\n") and not raw.endswith(b"\n\n")
    assert b"\r" not in raw


def test_load_template_and_sha256_match_the_verbatim_text():
    assert load_template(JUDGE_TEMPLATE_NAME) == VERBATIM_JUDGE_TEMPLATE
    assert template_sha256(JUDGE_TEMPLATE_NAME) == VERBATIM_SHA256


def test_template_placeholders_of_the_judge_template():
    assert template_placeholders(VERBATIM_JUDGE_TEMPLATE) == {"instruction", "response"}
    assert set(JUDGE_PLACEHOLDERS) == {"instruction", "response"}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("", set()),
        ("no fields at all", set()),
        ("{a} and {b} and {a}", {"a", "b"}),
        ("{{escaped}} {real}", {"real"}),
        ("{value!r:>10}", {"value"}),
    ],
)
def test_template_placeholders(template, expected):
    assert template_placeholders(template) == expected


def test_render_fills_both_placeholders():
    rendered = render_judge_prompt("What is 2 + 2?", "It is 4.")
    assert rendered == _expected_rendering("What is 2 + 2?", "It is 4.")
    assert "User: What is 2 + 2?\n<response>It is 4.</response>\n" in rendered
    assert "{instruction}" not in rendered and "{response}" not in rendered
    assert rendered.startswith("Review the user's question")
    assert rendered.endswith("based on the outlined criteria.")


def test_render_keeps_braces_of_user_content():
    instruction = "Explain f'{x}' and why '}{' is a syntax error; what is {response}?"
    response = "Use {{x}} to escape: {0} {} {instruction} }{"
    rendered = render_judge_prompt(instruction, response)
    assert rendered == _expected_rendering(instruction, response)
    assert f"User: {instruction}\n" in rendered
    assert f"<response>{response}</response>" in rendered


def test_render_refuses_a_template_with_other_placeholders(monkeypatch):
    monkeypatch.setattr(prompts, "load_template", lambda name: "Only {instruction}\n")
    with pytest.raises(ValueError, match="placeholders"):
        render_judge_prompt("q", "a")
