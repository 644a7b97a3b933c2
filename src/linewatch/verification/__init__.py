"""Verification: records placed and judged against the agreement, and the parties' allegations adjudicated.

Core: imports ``agreement``, ``coverage``, ``geo``, ``model`` and ``errors``. Every verdict cites
its rule, gives a probability and its evidence; results are sorted, whatever the input order.
"""

from __future__ import annotations

from linewatch.verification.allegations import (
    ALLEGATION_ENGINE,
    AdjudicationParams,
    Allegation,
    AllegationFinding,
    AllegationKind,
    AllegationVerdict,
    AllegedPlace,
    CoverageAnswer,
    Match,
    adjudicate,
    coverage_kind,
    mirror_allegation,
    network_coverage,
    verdict_counts,
)
from linewatch.verification.records import (
    ENGINE_VERSION,
    Batch,
    PlaceFacts,
    Verification,
    classify,
    finding_to_dict,
    utc,
    verify,
)

__all__ = [
    "ALLEGATION_ENGINE",
    "AdjudicationParams",
    "Allegation",
    "AllegationFinding",
    "AllegationKind",
    "AllegationVerdict",
    "AllegedPlace",
    "Batch",
    "CoverageAnswer",
    "ENGINE_VERSION",
    "Match",
    "PlaceFacts",
    "Verification",
    "adjudicate",
    "classify",
    "coverage_kind",
    "finding_to_dict",
    "mirror_allegation",
    "network_coverage",
    "utc",
    "verdict_counts",
    "verify",
]
