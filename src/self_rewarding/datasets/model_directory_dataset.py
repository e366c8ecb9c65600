"""``ModelDirectoryDataset``: a model checkpoint directory, handed to nodes as a Path.

Nodes write a model into a staging directory (``model_staging_directory``, beside the
models, so that no copy is needed) and return its path; saving swaps it into place with
renames, so a crash mid-training or mid-save never leaves a partial checkpoint at the
model's path, and never loses the previous one. Loading returns the path: the node
decides how (and on which device) to load.

The swap, for ``data/06_models/M1``, with ``<pid>`` the saving process::

    staged        -> .M1.incoming-<pid>@<host>-<token>   (a rename; a copy into .M1.staging-*
                                                   first when staged on another filesystem)
    M1            -> .M1.outgoing-<pid>-<token>   (the previous model, if any)
    .M1.incoming-* -> M1
    remove .M1.outgoing-*

A process killed between the two renames leaves no ``M1`` but a complete previous model
(``outgoing``) and a complete new one (``incoming``): the next load, save or existence
check puts the previous one back (or the new one, when there was none before) and removes
what killed processes left behind.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from self_rewarding.records import fsync_directory, writer_alive, writer_token

logger = logging.getLogger(__name__)

_LEFTOVER = re.compile(
    r"^\.(?P<name>.+)\.(?P<kind>staging|incoming|outgoing)-(?P<writer>\d+(?:@[A-Za-z0-9_.]+)?)-"
)


def model_staging_directory(beside: str | Path, label: str) -> Path:
    """Creates an empty directory for a node to write a model into.

    Stage beside the models (e.g. ``model_dir.parent`` of the input model): the catalog
    then moves the result into place with a rename instead of a copy. Staging
    directories of processes that are gone (killed runs) are removed on the way.

    Args:
        beside: The folder to create it in.
        label: A name for it, such as the step (``sft_m1``, ``dpo``).

    Returns:
        The new directory, ``<beside>/.<label>.staging-<pid>@<host>-<random>``.
    """
    beside = Path(beside)
    beside.mkdir(parents=True, exist_ok=True)
    remove_dead_leftovers(beside, kinds=("staging",))
    return Path(tempfile.mkdtemp(prefix=f".{label}.staging-{writer_token()}-", dir=beside))


def remove_dead_leftovers(
    folder: str | Path, name: str | None = None, kinds: tuple[str, ...] = ("staging",)
) -> list[Path]:
    """Removes staging, incoming or outgoing directories of processes that are gone.

    Args:
        folder: Where to look.
        name: Only those of this model (``.<name>.<kind>-*``); any when None.
        kinds: Which kinds to remove.

    Returns:
        The removed paths.
    """
    removed = []
    for entry, match in _leftovers(folder, name):
        if match["kind"] in kinds and not writer_alive(match["writer"]):
            _remove(entry)
            removed.append(entry)
    return removed


def _leftovers(folder: str | Path, name: str | None):
    folder = Path(folder)
    if not folder.is_dir():
        return
    for entry in sorted(folder.iterdir()):
        match = _LEFTOVER.match(entry.name)
        if match and (name is None or match["name"] == name):
            yield entry, match


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _same_filesystem(a: Path, b: Path) -> bool:
    return os.stat(a).st_dev == os.stat(b).st_dev


def _fsync_tree(root: Path) -> None:
    for directory, _, files in os.walk(root):
        for file in files:
            with open(os.path.join(directory, file), "rb") as handle:
                os.fsync(handle.fileno())
        fsync_directory(directory)


class ModelDirectoryDataset(AbstractDataset[Path, Path]):
    """A transformers model directory (``config.json``, weights, tokenizer)."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
        """Creates the dataset.

        Args:
            path: The model directory.
            metadata: Free-form metadata, ignored by Kedro.
        """
        self._path = Path(path)
        self.metadata = metadata

    @property
    def path(self) -> Path:
        return self._path

    def staging_directory(self) -> Path:
        """A new, empty directory beside the model, on the same filesystem."""
        return model_staging_directory(self._path.parent, self._path.name)

    def load(self) -> Path:
        self.recover()
        if not (self._path / "config.json").is_file():
            raise DatasetError(f"{self._path}: no model directory (config.json missing)")
        return self._path

    def save(self, data: Path | str) -> None:
        staged = Path(data)
        if staged.resolve() == self._path.resolve():
            return
        if not (staged / "config.json").is_file():
            raise DatasetError(f"{staged}: not a model directory (config.json missing)")
        parent = self._path.parent
        parent.mkdir(parents=True, exist_ok=True)
        self.recover()
        token = f"{writer_token()}-{uuid.uuid4().hex[:8]}"
        incoming = parent / f".{self._path.name}.incoming-{token}"
        outgoing = parent / f".{self._path.name}.outgoing-{token}"
        self._move_in(staged, incoming, parent / f".{self._path.name}.staging-{token}")
        if self._path.exists():
            os.rename(self._path, outgoing)
        os.rename(incoming, self._path)
        fsync_directory(parent)
        shutil.rmtree(outgoing, ignore_errors=True)

    @staticmethod
    def _move_in(staged: Path, incoming: Path, staging: Path) -> None:
        """Moves a complete model to ``incoming`` (renamed there only once complete)."""
        if _same_filesystem(staged, incoming.parent):
            _fsync_tree(staged)
            try:
                os.rename(staged, incoming)
                return
            except OSError as error:
                if error.errno != errno.EXDEV:
                    raise
        # Staged on another filesystem: copy beside the model first, then rename.
        try:
            shutil.copytree(staged, staging, symlinks=True)
            _fsync_tree(staging)
            os.rename(staging, incoming)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        shutil.rmtree(staged, ignore_errors=True)

    def recover(self) -> Path | None:
        """Repairs what a killed save left behind.

        When the model's path is missing, a previous model moved out by a save that did
        not finish is put back (or, when there was none, the complete new one); then
        staging, incoming and outgoing directories of processes that are gone are removed.
        Directories of running processes are never touched.

        Returns:
            The directory put back at the model's path, if any.
        """
        dead = [
            (entry, match)
            for entry, match in _leftovers(self._path.parent, self._path.name)
            if not writer_alive(match["writer"])
        ]
        restored = None
        if not self._path.exists():
            for kind in ("outgoing", "incoming"):
                candidates = [
                    entry
                    for entry, match in dead
                    if match["kind"] == kind and (entry / "config.json").is_file()
                ]
                if candidates:
                    restored = max(candidates, key=lambda p: p.stat().st_mtime)
                    os.rename(restored, self._path)
                    fsync_directory(self._path.parent)
                    logger.warning(
                        "%s was missing after an interrupted save: restored from %s",
                        self._path,
                        restored.name,
                    )
                    break
        for entry, _ in dead:
            if entry != restored:
                _remove(entry)
        return restored

    def _exists(self) -> bool:
        self.recover()
        return (self._path / "config.json").is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
