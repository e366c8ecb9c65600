"""Tests for ``self_rewarding.core.provenance``: file and directory content hashes."""

from __future__ import annotations

import hashlib

from self_rewarding.core.provenance import directory_sha256, file_sha256


def _make_model_dir(root):
    (root / "sub").mkdir(parents=True)
    (root / "config.json").write_text('{"hidden_size": 64}\n')
    (root / "weights.bin").write_bytes(bytes(range(256)) * 10)
    (root / "sub" / "tokenizer.json").write_text("{}\n")
    return root


def test_file_sha256_is_the_sha256_of_the_bytes(tmp_path):
    path = tmp_path / "f.bin"
    data = b"\x00\x01payload" * 100_000  # larger than one read chunk
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()


def test_directory_sha256_is_stable_and_independent_of_location(tmp_path):
    first = _make_model_dir(tmp_path / "one")
    second = _make_model_dir(tmp_path / "elsewhere" / "two")
    digest = directory_sha256(first)
    assert len(digest) == 64
    assert directory_sha256(first) == digest
    assert directory_sha256(str(second)) == digest


def test_directory_sha256_changes_when_content_changes(tmp_path):
    root = _make_model_dir(tmp_path / "model")
    before = directory_sha256(root)
    (root / "sub" / "tokenizer.json").write_text("{ }\n")
    after = directory_sha256(root)
    assert after != before
    (root / "sub" / "tokenizer.json").write_text("{}\n")
    assert directory_sha256(root) == before


def test_directory_sha256_changes_when_a_file_is_renamed(tmp_path):
    root = _make_model_dir(tmp_path / "model")
    before = directory_sha256(root)
    (root / "weights.bin").rename(root / "weights2.bin")
    assert directory_sha256(root) != before


def test_directory_sha256_changes_when_a_file_moves_to_a_subdirectory(tmp_path):
    root = _make_model_dir(tmp_path / "model")
    before = directory_sha256(root)
    (root / "weights.bin").rename(root / "sub" / "weights.bin")
    assert directory_sha256(root) != before


def test_directory_sha256_changes_when_a_file_is_added(tmp_path):
    root = _make_model_dir(tmp_path / "model")
    before = directory_sha256(root)
    (root / "extra.txt").write_text("")
    assert directory_sha256(root) != before


def test_sample_seeds_depend_on_seed_prompt_and_index_only():
    from self_rewarding.core.provenance import sample_seed

    seed = sample_seed(0, "Write a poem", 1)
    assert seed == sample_seed(0, "Write a poem", 1)
    assert 0 <= seed < 2**31
    others = {sample_seed(1, "Write a poem", 1), sample_seed(0, "Write a poem", 0)}
    others.add(sample_seed(0, "Write a poem.", 1))
    assert seed not in others and len(others) == 3
