"""The canonical form a record is stored and logged in, and its content hash.

:func:`linewatch.formats.records.record_to_dict` writes the canonical dict of a
:class:`~linewatch.model.Report`; :func:`record_from_canonical` reads it back *without*
validating it again. Only the store calls it, on data that was validated when it came in (and
that the audit log covers), so a record is validated once, at the edge, and never twice.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from linewatch.geo import location_from_observer
from linewatch.model import (
    ExplosionType,
    Kind,
    Location,
    ObserverFix,
    Provenance,
    Report,
    SourceKind,
    TimePrecision,
)

__all__ = ["STORED_JSON", "content_hash", "record_from_canonical", "stored_json"]

#: How the store writes a canonical dict (the audit log hashes this text).
STORED_JSON = {"sort_keys": True, "separators": (",", ":")}

_PLAIN = ("weapon_class", "in_storage", "category", "aircraft_type", "party", "killed", "injured",
          "corroborated", "restriction", "delay_min", "purpose", "geo_precision", "engine",
          "supersedes", "correction")


def content_hash(data: dict[str, Any]) -> str:
    """SHA-256 of a canonical dict's sorted, compact, UTF-8 JSON: what makes two copies the same."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stored_json(data: dict[str, Any]) -> str:
    """The text the store keeps for a canonical dict."""
    return json.dumps(data, **STORED_JSON)  # type: ignore[arg-type]


def _location(data: dict[str, Any], prefix: str = "") -> Location:
    lon, lat = float(data[f"{prefix}lon"]), float(data[f"{prefix}lat"])
    if f"{prefix}radius_m" in data:
        return Location.point(lon, lat, float(data[f"{prefix}radius_m"]))
    return Location(lon, lat, float(data[f"{prefix}semi_major_m"]), float(data[f"{prefix}semi_minor_m"]),
                    float(data[f"{prefix}azimuth_deg"]))


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def record_from_canonical(data: dict[str, Any]) -> Report:
    """The :class:`Report` of a stored canonical dict (trusted: no validation)."""
    if "observer_lon" in data:
        location = location_from_observer(ObserverFix(
            float(data["observer_lon"]), float(data["observer_lat"]), float(data["bearing_deg"]),
            float(data["bearing_spread_deg"]), float(data["distance_min_m"]), float(data["distance_max_m"])))
    else:
        location = _location(data)
    explosion = data.get("explosion_type")
    return Report(
        id=data["id"], kind=Kind(data["kind"]), time=datetime.fromisoformat(data["time"]), location=location,
        provenance=Provenance(SourceKind(data["source_kind"]), data["source_id"],
                              _time(data.get("received_time"))),
        time_precision=TimePrecision(data["time_precision"]),
        explosion_type=None if explosion is None else ExplosionType(explosion),
        count=data["count"], live_fire_exercise=data["live_fire_exercise"],
        origin=_location(data["origin"]) if "origin" in data else None,
        description=data.get("description", ""),
        extra=tuple(sorted(data.get("extra", {}).items())),
        **{name: data.get(name) for name in _PLAIN})
