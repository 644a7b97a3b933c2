"""linewatch: monitoring and verification of a ceasefire along a demarcation line."""

from linewatch.agreement import Agreement, parse_agreement
from linewatch.errors import (
                              AgreementError,
                              InputError,
                              LinewatchError,
                              MigrationError,
                              NotFound,
                              RecordError,
                              StoreError,
)
from linewatch.model import (
                              ExplosionType,
                              Finding,
                              Kind,
                              Location,
                              ObserverFix,
                              Provenance,
                              Report,
                              SourceKind,
                              TimePrecision,
                              Verdict,
)
from linewatch.verification import Verification, classify, verify

__version__ = "0.1.0"

__all__ = [
    "Agreement", "AgreementError", "ExplosionType", "Finding", "InputError", "Kind",
    "LinewatchError", "Location", "MigrationError", "NotFound", "ObserverFix", "Provenance",
    "RecordError", "Report", "SourceKind", "StoreError", "TimePrecision", "Verdict",
    "Verification", "classify", "parse_agreement", "verify", "__version__",
]
