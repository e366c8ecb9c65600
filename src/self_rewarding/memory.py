"""Peak resident memory of a run: the process and everything it starts (the vLLM engine,
``accelerate launch`` ranks), sampled as one sum, because that sum is what a laptop must
hold at once. ``getrusage`` adds the exact peak of this process and of its largest
finished child, which sampling can miss between two ticks.

``MemoryHooks`` (settings.py) measures every ``kedro run``: the peak goes to the stage's
MLflow run (``memory.peak_rss_gb``, ...) and, under DVC, to
``data/08_reporting/memory/<stage>.json`` (the stage's DVC metrics file; ``@`` becomes
``_``). ``benchmarks/memory.py`` prints those files as a table.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
from pathlib import Path

from self_rewarding.records import write_text_atomic

MEMORY_DIR = Path("data/08_reporting/memory")
GIB = 1024**3


def _ru_maxrss_bytes(who: int) -> int:
    # Linux reports kilobytes, macOS bytes.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(who).ru_maxrss * scale


def tree_memory_bytes(process) -> tuple[int, int]:
    """Resident and proportional bytes (RSS, PSS) of a ``psutil.Process`` and all its
    live descendants. RSS counts a page shared by several of them (torch's libraries,
    loaded by the stage and by its engine) once per process; PSS splits it among them, so
    the PSS sum is what the tree holds. Where PSS cannot be read, RSS stands in."""
    import psutil

    rss = pss = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            resident = member.memory_info().rss
            try:
                proportional = member.memory_full_info().pss
            except (psutil.AccessDenied, AttributeError):  # no smaps here
                proportional = resident
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue  # ended between listing and reading
        rss += resident
        pss += proportional
    return rss, pss


class PeakMemorySampler:
    """Samples this process tree's resident memory on a daemon thread until stopped."""

    def __init__(self, interval_s: float = 0.25):
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.peak_tree_bytes = 0
        self.peak_tree_pss_bytes = 0

    def start(self) -> PeakMemorySampler:
        import psutil

        process = psutil.Process(os.getpid())

        def sample() -> None:
            while True:
                rss, pss = tree_memory_bytes(process)
                self.peak_tree_bytes = max(self.peak_tree_bytes, rss)
                self.peak_tree_pss_bytes = max(self.peak_tree_pss_bytes, pss)
                if self._stop.wait(self._interval_s):
                    return

        self._thread = threading.Thread(target=sample, name="peak-memory", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        """Stops sampling; returns the peaks in GiB.

        ``peak_rss_gb`` is the larger of the sampled tree peak and this process's own
        exact peak: the number a stage is held to. ``peak_pss_tree_sampled_gb`` counts
        pages shared between the tree's processes once.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        own = _ru_maxrss_bytes(resource.RUSAGE_SELF)
        children = _ru_maxrss_bytes(resource.RUSAGE_CHILDREN)
        return {
            "peak_rss_gb": round(max(self.peak_tree_bytes, own) / GIB, 3),
            "peak_rss_tree_sampled_gb": round(self.peak_tree_bytes / GIB, 3),
            "peak_pss_tree_sampled_gb": round(self.peak_tree_pss_bytes / GIB, 3),
            "peak_rss_process_gb": round(own / GIB, 3),
            "peak_rss_largest_child_gb": round(children / GIB, 3),
        }


def stage_memory_file(project_path: Path, dvc_stage: str) -> Path:
    """The metrics file of a DVC stage (``generate@iter1`` -> ``memory/generate_iter1.json``)."""
    return Path(project_path) / MEMORY_DIR / f"{dvc_stage.replace('@', '_')}.json"


def write_stage_memory(path: Path, peaks: dict[str, float]) -> None:
    write_text_atomic(path, json.dumps(peaks, indent=2, sort_keys=True) + "\n")


def release_free_heap() -> bool:
    """Hands the C heap's free pages back to the system (glibc's ``malloc_trim``).

    Tensors of ever new sizes (one prefill per prompt length, gradients freed by
    ``zero_grad``) leave freed holes in glibc's heap that its resident size keeps;
    trimming between engine requests and between optimizer steps returns them at no cost
    per allocation, unlike a fixed ``MALLOC_MMAP_THRESHOLD_``. Returns whether
    anything was released; False where the C library has no ``malloc_trim`` (not glibc).
    """
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return False
    return bool(trim(0))
