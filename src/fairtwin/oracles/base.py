"""Latent fairness costs ``R(u, x0)`` (lower is fairer).

A :class:`FairnessOracle` evaluates the latent cost of decisions of a twin's context; a
:class:`~fairtwin.oracles.raters.Rater` turns it into pairwise labels, with optional noise. The
learner never sees ``R``: only labels. The class itself is part of the twin interface
(:mod:`fairtwin.twin.base`), so that a twin can ship its own notions.
"""

from __future__ import annotations

from fairtwin.twin.base import FairnessOracle

__all__ = ["FairnessOracle"]
