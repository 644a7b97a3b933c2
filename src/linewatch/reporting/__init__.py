"""The daily report as data, in the structure of the OSCE SMM daily report.

Core: imports ``agreement``, ``verification``, ``model``, ``geo`` and ``errors``. It returns a
JSON-ready dict; ``linewatch.render`` draws and writes it.
"""

from __future__ import annotations

from linewatch.reporting.daily import (
    DISENGAGEMENT_CATEGORY,
    EXPLOSION_ORDER,
    FIRE_ORDER,
    FORMAT,
    INSIDE_PROBABILITY,
    KIND_LABELS,
    NEAR_DISENGAGEMENT_M,
    SECURITY_CATEGORY,
    build_daily_report,
    count_day,
)

__all__ = [
    "DISENGAGEMENT_CATEGORY",
    "EXPLOSION_ORDER",
    "FIRE_ORDER",
    "FORMAT",
    "INSIDE_PROBABILITY",
    "KIND_LABELS",
    "NEAR_DISENGAGEMENT_M",
    "SECURITY_CATEGORY",
    "build_daily_report",
    "count_day",
]
