"""The daily report as data, in the structure of the OSCE SMM daily report.

The room for what the report says (not how it looks):

* ``counts``: :func:`count_day`, one UTC day's records counted into figures;
* ``sections``: the report's sections, each day's figures beside the previous day's with the
  records behind them;
* ``daily``: :func:`build_daily_report`, the whole report with its header and summary;
* ``reviewed``: :func:`reviewed`, what of a day's records the report counts by their review
  state, and the day's ``review`` block;
* ``corrections``: :func:`corrections_of`, the figures of an earlier released report that later
  corrections changed.

Core: imports ``agreement``, ``verification``, ``model``, ``review``, ``geo`` and ``errors``, and does no
I/O and reads no clock. It returns a JSON-ready dict; ``linewatch.render`` draws and writes it.
"""

from __future__ import annotations

from linewatch.reporting.corrections import FIGURES, announced, corrections_of, report_name
from linewatch.reporting.counts import (
    DISENGAGEMENT_CATEGORY,
    EXPLOSION_ORDER,
    FIRE_ORDER,
    INSIDE_PROBABILITY,
    KIND_LABELS,
    NEAR_DISENGAGEMENT_M,
    SECURITY_CATEGORY,
    count_day,
)
from linewatch.reporting.daily import FEW_SOURCES, FORMAT, NO_REPORTS, build_daily_report
from linewatch.reporting.reviewed import Reviewed, none_approved, review_sentences, reviewed, trend_review

__all__ = [
    "DISENGAGEMENT_CATEGORY",
    "EXPLOSION_ORDER",
    "FEW_SOURCES",
    "FIGURES",
    "FIRE_ORDER",
    "FORMAT",
    "INSIDE_PROBABILITY",
    "KIND_LABELS",
    "NEAR_DISENGAGEMENT_M",
    "NO_REPORTS",
    "SECURITY_CATEGORY",
    "Reviewed",
    "announced",
    "build_daily_report",
    "corrections_of",
    "count_day",
    "none_approved",
    "report_name",
    "review_sentences",
    "reviewed",
    "trend_review",
]
