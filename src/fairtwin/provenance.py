"""What produced a result: versions, threads and CPU, recorded beside the numbers.

The same seed gives the same numbers on one machine; across machines, library versions, thread
counts and the CPU can change solver paths and floating-point sums. :func:`environment` is
written into every ``metrics.json`` so that two runs can be compared knowing what differed.
"""

from __future__ import annotations

import os
import platform
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["environment"]

_PACKAGES = ("fairtwin", "numpy", "scipy", "torch", "highspy", "pyscipopt", "joblib", "linopy")
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@cache
def _commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    if out.returncode != 0:
        return ""
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                           capture_output=True, text=True, timeout=5, check=False).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


@cache
def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def environment(n_jobs: int | None = None) -> dict[str, Any]:
    """The versions, thread settings and CPU of this process (a JSON-ready dict)."""
    return {
        "commit": _commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu(),
        "cpu_count": os.cpu_count(),
        "n_jobs": n_jobs,
        "threads": {v: os.environ.get(v, "") for v in _THREAD_VARS},
        "packages": {p: _version(p) for p in _PACKAGES},
    }
