"""Optional dependencies: the lean core and the extras that add features.

``pip install fairtwin`` gives the default pipeline (numpy, scipy, HiGHS): every number, file and
summary of a run. The rest is opt-in (``make run`` installs ``plots``; without it a run says
in one line that its figures were skipped):

========== ==================================================== ==========================
extra      what it adds                                         packages
========== ==================================================== ==========================
paper      the paper's Siamese learner (``--learner siamese``)   torch
serve      the rating app (``fairtwin serve`` and ``raters``)    starlette, uvicorn, ...
scip       the SCIP solver adapter (``--solver scip``)           pyscipopt
postgres   a PostgreSQL answer store for the rating app          psycopg
linopy     twins built from linopy models                        linopy
cluster    experiments on a Dask cluster                         distributed
plots      the figures (a run's weeks.png and week plot, the     matplotlib
           ICU twin's loads, the experiments' reports)
all        every extra above
========== ==================================================== ==========================

:func:`require` imports an optional module or raises :class:`MissingExtraError`, whose one-line
message names the extra to install (the CLI prints it without a traceback).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from fairtwin.exceptions import MissingExtraError

__all__ = ["EXTRAS", "has_extra", "missing_extra_line", "require"]

#: extra → (what it enables, the modules it provides)
EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "paper": ("the paper's Siamese learner", ("torch",)),
    "serve": ("the rating app", ("starlette", "uvicorn", "sqlalchemy", "jinja2", "python_multipart")),
    "scip": ("the SCIP solver", ("pyscipopt",)),
    "postgres": ("a PostgreSQL answer store", ("psycopg",)),
    "linopy": ("twins built from linopy models", ("linopy",)),
    "cluster": ("experiments on a Dask cluster", ("distributed",)),
    "plots": ("drawing the figures", ("matplotlib",)),
}


def require(module: str, extra: str, feature: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``fairtwin[extra]``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(missing_extra_line(extra, module, feature)) from None


def missing_extra_line(extra: str, module: str | None = None, feature: str | None = None) -> str:
    """The one line that says a feature needs ``fairtwin[extra]``."""
    module = module or EXTRAS[extra][1][0]
    what = feature or EXTRAS[extra][0]
    return (f"{what} needs the optional package {module.split('.')[0]!r}, which is not "
            f"installed: pip install 'fairtwin[{extra}]'")


def has_extra(extra: str) -> bool:
    """Whether every package of ``extra`` can be imported."""
    try:
        for module in EXTRAS[extra][1]:
            importlib.import_module(module)
    except ImportError:
        return False
    return True
