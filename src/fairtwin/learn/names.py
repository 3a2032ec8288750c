"""Names the learners accept, importable without torch (the CLI lists them in its help)."""

from __future__ import annotations

__all__ = ["LOSSES", "STRUCTURES"]

#: losses of the paper's learner
LOSSES = ("hinge", "logistic")
#: structures of the paper's quadratic (full ``S Sᵀ``, diagonal, or linear only)
STRUCTURES = ("full", "diagonal", "linear")
