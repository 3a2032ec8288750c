"""fairtwin: learn what people find fair in a Digital Twin's decisions, from pairwise comparisons.

The package is cut by pipeline stage (see the documentation's code layout page):

- :mod:`fairtwin.costs`: the :class:`~fairtwin.costs.QuadraticCost` value type shared by all stages.
- :mod:`fairtwin.twin`: scenarios and the solver-neutral ICU allocation problem.
- :mod:`fairtwin.solvers`: one adapter per solver behind one interface.
"""

from __future__ import annotations

import logging

from fairtwin.costs import QuadraticCost

__version__ = "0.1.0"
__all__ = ["QuadraticCost", "__version__"]

logging.getLogger(__name__).addHandler(logging.NullHandler())
