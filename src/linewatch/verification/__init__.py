"""Verification: records placed and judged against the agreement, and the parties' allegations adjudicated.

The room for verdicts:

* ``records``: :func:`verify` places every record (side, distances, sector, zones) and runs
  every rule in force at its time, giving :class:`~linewatch.model.Finding` values;
* ``allegations``: a party's allegation as received and the verdict on it, as values;
* ``adjudication``: :func:`adjudicate` reaches those verdicts from the records and what the
  network could have detected.

Core: imports ``agreement``, ``coverage``, ``geo``, ``model`` and ``errors``, and does no I/O.
Every verdict cites its rule, gives a probability and its evidence; results are sorted, whatever
the input order.
"""

from __future__ import annotations

from linewatch.verification.adjudication import adjudicate, coverage_kind, network_coverage
from linewatch.verification.allegations import (
    ALLEGATION_ENGINE,
    AdjudicationParams,
    Allegation,
    AllegationFinding,
    AllegationKind,
    AllegationVerdict,
    AllegedPlace,
    Coverage,
    CoverageAnswer,
    Match,
    mirror_allegation,
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
    "Coverage",
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
