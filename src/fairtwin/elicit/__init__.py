"""Eliciting preferences from people: a rating web app, its database, and the export.

``fairtwin serve`` shows raters pairs of decisions of a pipeline run's weeks; answers land in a
:class:`PreferenceStore` (SQLite or PostgreSQL) and ``fairtwin raters export`` writes them as the
:class:`~fairtwin.datasets.PreferenceDataset` that ``fairtwin train --dataset`` learns from.

The web stack is the ``serve`` extra (``pip install 'fairtwin[serve]'``); without it, importing
this package is one line naming that extra.
"""

from fairtwin.extras import require

for _module in ("starlette", "sqlalchemy", "jinja2", "python_multipart"):
    require(_module, "serve")

from fairtwin.elicit.app import create_app  # noqa: E402
from fairtwin.elicit.selection import STRATEGIES, PairSelector, SelectorConfig  # noqa: E402
from fairtwin.elicit.store import CHOICES, Outcome, PreferenceStore, Query, RaterRecord, StoreError  # noqa: E402
from fairtwin.elicit.study import (  # noqa: E402
    ElicitationStudy,
    OutcomePairView,
    PairView,
    StudyBrief,
    export_answers,
)

__all__ = ["create_app", "SelectorConfig", "PairSelector", "STRATEGIES", "PreferenceStore",
           "ElicitationStudy", "PairView", "OutcomePairView", "Query", "RaterRecord", "Outcome",
           "CHOICES", "StoreError", "export_answers", "StudyBrief"]
