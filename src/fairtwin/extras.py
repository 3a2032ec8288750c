"""Optional dependencies: the lean core and the extras that add features.

``pip install fairtwin`` gives the default pipeline (numpy, scipy, HiGHS). The rest is opt-in:

========== ==================================================== ==========================
extra      what it adds                                         packages
========== ==================================================== ==========================
paper      the paper's Siamese learner (``--learner siamese``)   torch
serve      the rating app (``fairtwin serve`` and ``raters``)    starlette, uvicorn, ...
scip       the SCIP solver adapter (``--solver scip``)           pyscipopt
postgres   a PostgreSQL answer store for the rating app          psycopg
linopy     twins built from linopy models                        linopy
cluster    experiments on a Dask cluster                         distributed
all        every extra above
========== ==================================================== ==========================

:func:`require` imports an optional module or raises :class:`MissingExtraError`, whose one-line
message names the extra to install (the CLI prints it without a traceback).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from fairtwin.exceptions import MissingExtraError

__all__ = ["EXTRAS", "require"]

#: extra → (what it enables, the modules it provides)
EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "paper": ("the paper's Siamese learner", ("torch",)),
    "serve": ("the rating app", ("starlette", "uvicorn", "sqlalchemy", "jinja2", "python_multipart")),
    "scip": ("the SCIP solver", ("pyscipopt",)),
    "postgres": ("a PostgreSQL answer store", ("psycopg",)),
    "linopy": ("twins built from linopy models", ("linopy",)),
    "cluster": ("experiments on a Dask cluster", ("distributed",)),
}


def require(module: str, extra: str, feature: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``fairtwin[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        what = feature or EXTRAS[extra][0]
        raise MissingExtraError(
            f"{what} needs the optional package {module.split('.')[0]!r}, which is not "
            f"installed: pip install 'fairtwin[{extra}]'"
        ) from None
