"""Tests for ``self_rewarding.records``: strict JSONL reading whose errors name the
file, the line and the field, and atomic writing that never leaves a partial file."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from self_rewarding import records
from self_rewarding.records import (
    RecordError,
    check_fields,
    read_jsonl,
    write_jsonl,
    write_text_atomic,
)


def _write_lines(path, *lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_missing_file_raises_file_not_found_naming_the_path(tmp_path):
    path = tmp_path / "nowhere" / "rows.jsonl"
    with pytest.raises(FileNotFoundError, match="rows.jsonl") as info:
        read_jsonl(path)
    assert str(path) in str(info.value)


def test_directory_is_not_a_jsonl_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_jsonl(tmp_path)


def test_invalid_json_names_file_and_line(tmp_path):
    path = _write_lines(
        tmp_path / "rows.jsonl", '{"prompt": "a"}', '{"prompt": "b"}', '{"prompt": "c",'
    )
    with pytest.raises(RecordError) as info:
        read_jsonl(path)
    message = str(info.value)
    assert str(path) in message
    assert "line 3" in message
    assert "not valid JSON" in message
    assert info.value.line == 3
    assert info.value.path == str(path)
    assert info.value.field is None


@pytest.mark.parametrize("line", ["[1, 2]", '"text"', "42", "null"])
def test_a_line_that_is_not_an_object_is_refused(tmp_path, line):
    path = _write_lines(tmp_path / "rows.jsonl", '{"prompt": "a"}', line)
    with pytest.raises(RecordError, match="line 2") as info:
        read_jsonl(path)
    assert "not a JSON object" in str(info.value)


def test_missing_required_field_names_field_and_line(tmp_path):
    path = _write_lines(
        tmp_path / "rows.jsonl",
        '{"prompt": "a", "response": "x"}',
        '{"prompt": "b"}',
    )
    with pytest.raises(RecordError) as info:
        read_jsonl(path, required_fields=["prompt", "response"])
    message = str(info.value)
    assert "line 2" in message
    assert "'response'" in message
    assert "missing" in message
    assert str(path) in message
    assert (info.value.line, info.value.field) == (2, "response")


def test_null_value_counts_as_missing(tmp_path):
    path = _write_lines(tmp_path / "rows.jsonl", '{"prompt": "a", "response_id": null}')
    with pytest.raises(RecordError, match="response_id") as info:
        read_jsonl(path, required_fields=["response_id"])
    assert "missing" in str(info.value)
    assert info.value.line == 1


@pytest.mark.parametrize("value", ['""', '"   "', '"\\n\\t"', "3", "[]"])
def test_empty_or_non_string_value_of_a_non_empty_field(tmp_path, value):
    path = _write_lines(
        tmp_path / "rows.jsonl",
        '{"prompt": "fine", "response": "fine"}',
        '{"prompt": "fine", "response": ' + value + "}",
    )
    with pytest.raises(RecordError) as info:
        read_jsonl(path, non_empty_fields=["prompt", "response"])
    assert "field 'response'" in str(info.value)
    assert "line 2" in str(info.value)
    assert info.value.field == "response"


def test_non_empty_field_that_is_missing_is_reported_as_missing(tmp_path):
    path = _write_lines(tmp_path / "rows.jsonl", '{"prompt": "a"}')
    with pytest.raises(RecordError, match="field 'response': missing"):
        read_jsonl(path, non_empty_fields=["response"])


def test_blank_lines_are_skipped_but_counted(tmp_path):
    path = _write_lines(tmp_path / "rows.jsonl", '{"prompt": "a"}', "", "   ", '{"prompt": ""}')
    with pytest.raises(RecordError, match="line 4"):
        read_jsonl(path, non_empty_fields=["prompt"])
    rows = read_jsonl(path)
    assert rows == [{"prompt": "a"}, {"prompt": ""}]


def test_valid_file_is_read_in_order(tmp_path):
    path = _write_lines(
        tmp_path / "rows.jsonl",
        json.dumps({"prompt": "Ünïcode ✓", "n": 1, "tags": ["a"]}, ensure_ascii=False),
        json.dumps({"prompt": "second", "n": 2, "tags": []}),
    )
    rows = read_jsonl(path, required_fields=["n"], non_empty_fields=["prompt"])
    assert rows == [
        {"prompt": "Ünïcode ✓", "n": 1, "tags": ["a"]},
        {"prompt": "second", "n": 2, "tags": []},
    ]


def test_check_fields_reports_the_first_missing_field(tmp_path):
    with pytest.raises(RecordError) as info:
        check_fields({"a": 1}, tmp_path / "x.jsonl", 7, required_fields=["b", "c"])
    assert (info.value.line, info.value.field) == (7, "b")
    check_fields({"a": "text"}, tmp_path / "x.jsonl", 1, ["a"], ["a"])


def test_write_jsonl_round_trip(tmp_path):
    rows = [
        {"prompt": "Ünïcode ✓ {braces}", "score": 4, "quality": 0.5833333333333334},
        {"prompt": "line\nbreak", "score": None, "nested": {"a": [1, 2]}},
    ]
    path = tmp_path / "sub" / "dir" / "rows.jsonl"
    write_jsonl(path, rows)
    assert read_jsonl(path) == rows
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") == 2 and text.endswith("\n")
    assert "Ünïcode ✓" in text  # written as UTF-8, not \u escapes
    assert sorted(p.name for p in path.parent.iterdir()) == ["rows.jsonl"]


def test_write_jsonl_replaces_previous_content(tmp_path):
    path = tmp_path / "rows.jsonl"
    write_jsonl(path, [{"a": 1}, {"a": 2}])
    write_jsonl(path, [{"b": 3}])
    assert read_jsonl(path) == [{"b": 3}]


def test_write_jsonl_failing_to_serialise_keeps_the_old_file(tmp_path):
    path = tmp_path / "rows.jsonl"
    write_jsonl(path, [{"prompt": "old"}])
    before = path.read_bytes()
    with pytest.raises(TypeError):
        write_jsonl(path, [{"prompt": "new"}, {"prompt": {"a", "set"}}])
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["rows.jsonl"]


def test_write_jsonl_failing_while_writing_keeps_the_old_file(tmp_path):
    """A lone surrogate serialises with ensure_ascii=False but cannot be encoded as
    UTF-8: the failure happens while the temporary file is being written."""
    path = tmp_path / "rows.jsonl"
    write_jsonl(path, [{"prompt": "old"}])
    before = path.read_bytes()
    with pytest.raises(UnicodeEncodeError):
        write_jsonl(path, [{"prompt": "x" * 10_000}, {"prompt": "broken \ud800"}])
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["rows.jsonl"]


def test_write_text_atomic_failure_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "report.txt"
    write_text_atomic(path, "old\n")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(path, "new\n" * 1000 + "\udfff")
    assert path.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]


def test_write_text_atomic_creates_parents_and_writes_exact_text(tmp_path):
    path = tmp_path / "a" / "b" / "out.txt"
    write_text_atomic(path, "x\ny")
    assert path.read_bytes() == b"x\ny"
    assert [p.name for p in path.parent.iterdir()] == ["out.txt"]


def test_a_repeated_id_is_named_with_both_lines(tmp_path):
    from self_rewarding.records import RecordError, read_jsonl

    path = tmp_path / "seed.jsonl"
    path.write_text(
        '{"prompt_id": "a", "prompt": "x"}\n'
        '{"prompt_id": null, "prompt": "y"}\n'
        '{"prompt_id": null, "prompt": "z"}\n'
        '{"prompt_id": "a", "prompt": "w"}\n'
    )
    with pytest.raises(RecordError) as caught:
        read_jsonl(path, unique_fields=["prompt_id"])
    assert str(caught.value) == f"{path}, line 4, field 'prompt_id': duplicate 'a', first on line 1"
    assert len(read_jsonl(path)) == 4  # ids are checked only where asked


def test_an_empty_seed_file_is_an_error_when_rows_are_required(tmp_path):
    from self_rewarding.records import RecordError, read_jsonl

    path = tmp_path / "seed.jsonl"
    path.write_text("\n\n")
    with pytest.raises(RecordError, match=r"seed.jsonl: no rows \(the file is empty\); at least 1"):
        read_jsonl(path, min_rows=1)
    assert read_jsonl(path) == []


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_leftovers_of_dead_writers_of_this_machine_go_and_others_stay(tmp_path):
    dead = _dead_pid()
    this_host = records.writer_token().split("@", 1)[1]
    names = {
        "dead_here": f".out.json.tmp-{dead}@{this_host}-abc",
        "dead_bare_pid": f".out.json.tmp-{dead}-abc",
        "running_here": f".out.json.tmp-{records.writer_token()}-abc",
        "other_machine": f".out.json.tmp-{dead}@another_host-abc",
    }
    for name in names.values():
        (tmp_path / name).write_text("partial")

    removed = records.remove_leftovers(tmp_path, ".out.json.tmp-")

    assert sorted(p.name for p in removed) == sorted([names["dead_here"], names["dead_bare_pid"]])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [names["running_here"], names["other_machine"]]
    )
