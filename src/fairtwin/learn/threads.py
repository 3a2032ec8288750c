"""Torch's intra-op thread count, set for a block of code and restored after it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["torch_threads"]


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch threads (1 when configurations already run in parallel).

    A no-op when torch has not been imported: the default learner does not use it, and a lean
    install (no ``fairtwin[paper]``) does not have it.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)
