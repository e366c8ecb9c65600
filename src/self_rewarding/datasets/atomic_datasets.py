"""Atomic versions of the kedro-datasets file datasets the catalog uses: JSON reports and
gate verdicts, HTML reports and markdown tables, matplotlib plots.

kedro-datasets writes straight into the target (``open(path, "w")`` then ``json.dump``),
so a run killed or failing mid-write leaves a truncated file where a good one was. These
subclasses keep every option of the originals (``save_args``, ``fs_args``, versioning)
and, for local files, write a temporary file beside the target and rename it into place
(``records.atomic_output``): readers see the old file or the new one, never a
partial one. Other protocols (s3, gcs, ...) keep the original behaviour. fsspec's own
transactions are no substitute here: its local files are staged with
``tempfile.mkstemp()`` in the system's temporary folder and moved on commit, a copy (not
a rename) wherever that folder is another filesystem (fsspec 2026.9.0, ``LocalFileOpener``).

Catalog entries only change their ``type``; they also work inside
``kedro_mlflow.io.artifacts.MlflowArtifactDataset``::

    "{namespace}.{artifact}_gate":
      type: self_rewarding.datasets.JSONDataset
      filepath: data/08_reporting/{namespace}/validation/{artifact}_gate.json
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from kedro.io.core import get_filepath_str
from kedro_datasets.json import JSONDataset as _JSONDataset
from kedro_datasets.matplotlib import MatplotlibDataset as _MatplotlibDataset
from kedro_datasets.text import TextDataset as _TextDataset

from self_rewarding.records import write_bytes_atomic, write_text_atomic

_LOCAL = ("file", "")


class JSONDataset(_JSONDataset):
    """``kedro_datasets.json.JSONDataset``, saved atomically."""

    def save(self, data: Any) -> None:
        if self._protocol not in _LOCAL:
            return super().save(data)
        save_path = Path(get_filepath_str(self._get_save_path(), self._protocol))
        # Serialised in full before anything is written: a value that is not JSON fails
        # here and the previous file stays.
        write_text_atomic(save_path, json.dumps(data, **self._save_args))
        self._invalidate_cache()
        return None


class TextDataset(_TextDataset):
    """``kedro_datasets.text.TextDataset``, saved atomically."""

    def save(self, data: str) -> None:
        if self._protocol not in _LOCAL:
            return super().save(data)
        save_path = Path(get_filepath_str(self._get_save_path(), self._protocol))
        write_text_atomic(save_path, data)
        self._invalidate_cache()
        return None


class MatplotlibDataset(_MatplotlibDataset):
    """``kedro_datasets.matplotlib.MatplotlibDataset``, each image saved atomically."""

    def _save_to_fs(self, full_key_path: str, plot) -> None:
        if self._protocol not in _LOCAL:
            return super()._save_to_fs(full_key_path, plot)
        buffer = io.BytesIO()
        plot.savefig(buffer, **self._save_args)
        write_bytes_atomic(Path(full_key_path), buffer.getvalue())
        return None
