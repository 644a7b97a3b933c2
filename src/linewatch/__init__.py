"""linewatch: monitoring and verification of a ceasefire along a demarcation line."""

from types import ModuleType
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

_AGREEMENT = frozenset({"Agreement", "parse_agreement"})
_ERRORS = frozenset({"AgreementError", "InputError", "LinewatchError", "MigrationError", "NotFound",
                     "RecordError", "StoreError"})
_MODEL = frozenset({"ExplosionType", "Finding", "Kind", "Location", "ObserverFix", "Provenance",
                    "Report", "SourceKind", "TimePrecision", "Verdict"})
_VERIFICATION = frozenset({"Verification", "classify", "verify"})


def __getattr__(name: str) -> Any:
    """The public names, imported on first use (PEP 562), so that ``linewatch --help`` and
    ``linewatch --version`` do not load the geometry stack."""
    home: ModuleType
    if name in _AGREEMENT:
        from linewatch import agreement
        home = agreement
    elif name in _ERRORS:
        from linewatch import errors
        home = errors
    elif name in _MODEL:
        from linewatch import model
        home = model
    elif name in _VERIFICATION:
        from linewatch import verification
        home = verification
    else:
        raise AttributeError(f"module 'linewatch' has no attribute {name!r}")
    value = getattr(home, name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "Agreement", "AgreementError", "ExplosionType", "Finding", "InputError", "Kind",
    "LinewatchError", "Location", "MigrationError", "NotFound", "ObserverFix", "Provenance",
    "RecordError", "Report", "SourceKind", "StoreError", "TimePrecision", "Verdict",
    "Verification", "classify", "parse_agreement", "verify", "__version__",
]
