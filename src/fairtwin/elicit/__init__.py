"""Eliciting preferences from people: a rating web app, its database, and the export.

``fairtwin serve`` shows raters pairs of decisions of a pipeline run's weeks; answers land in a
:class:`PreferenceStore` (SQLite or PostgreSQL) and ``fairtwin raters export`` writes them as the
:class:`~fairtwin.datasets.PreferenceDataset` that ``fairtwin train --dataset`` learns from.
"""

from fairtwin.elicit.app import create_app
from fairtwin.elicit.selection import STRATEGIES, PairSelector, SelectorConfig
from fairtwin.elicit.store import CHOICES, Outcome, PreferenceStore, Query, RaterRecord, StoreError
from fairtwin.elicit.study import DecisionView, ElicitationStudy, PairView, export_answers

__all__ = ["create_app", "SelectorConfig", "PairSelector", "STRATEGIES", "PreferenceStore",
           "ElicitationStudy", "PairView", "DecisionView", "Query", "RaterRecord", "Outcome",
           "CHOICES", "StoreError", "export_answers"]
