"""linewatch: monitoring and verification of a ceasefire along a demarcation line."""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: where each public name lives; imported on first use (PEP 562), so that ``linewatch --help``
#: and ``linewatch --version`` do not load the geometry stack
_HOME = {
    **dict.fromkeys(["Agreement", "parse_agreement"], "linewatch.agreement"),
    **dict.fromkeys(["AgreementError", "InputError", "LinewatchError", "MigrationError",
                     "NotFound", "RecordError", "StoreError"], "linewatch.errors"),
    **dict.fromkeys(["ExplosionType", "Finding", "Kind", "Location", "ObserverFix", "Provenance",
                     "Report", "SourceKind", "TimePrecision", "Verdict"], "linewatch.model"),
    **dict.fromkeys(["Verification", "classify", "verify"], "linewatch.verification"),
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'linewatch' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "Agreement", "AgreementError", "ExplosionType", "Finding", "InputError", "Kind",
    "LinewatchError", "Location", "MigrationError", "NotFound", "ObserverFix", "Provenance",
    "RecordError", "Report", "SourceKind", "StoreError", "TimePrecision", "Verdict",
    "Verification", "classify", "parse_agreement", "verify", "__version__",
]
