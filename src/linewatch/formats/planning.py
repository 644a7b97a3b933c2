"""The planning files (docs/planning.md): asset types, targets, candidate sites.

YAML or JSON; every problem is reported with the file and the field path, as InputError.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import Field, ValidationError

from linewatch.agreement import Agreement
from linewatch.coverage import Detectability
from linewatch.errors import InputError
from linewatch.formats.record_schema import StrictModel
from linewatch.planning import ASSET_KINDS, AssetType, Points, Targets

__all__ = ["read_assets", "read_candidates", "read_targets"]

Prob = Annotated[float, Field(gt=0.0, lt=1.0)]
Positive = Annotated[float, Field(gt=0.0)]


class _Curve(StrictModel):
    p_max: Annotated[float, Field(ge=0.0, le=1.0)]
    r50_m: Annotated[float, Field(ge=0.0)]
    width_m: Positive


class _Asset(StrictModel):
    id: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal[ASSET_KINDS]  # type: ignore[valid-type]
    cost: Annotated[float, Field(ge=0.0)]
    crew_per_shift: Annotated[int, Field(ge=0)] = 0
    shifts: Annotated[int, Field(ge=0, le=6)] = 0
    toa_sd_s: Positive | None = None
    bearing_sd_deg: Positive | None = None
    detection: dict[str, _Curve] = {}
    source: str = "assumption"


class _AssetsFile(StrictModel):
    assets: Annotated[list[_Asset], Field(min_length=1)]


class _Check(StrictModel):
    scenario: str = "active"
    duration_h: Annotated[float, Field(gt=0.0, le=24.0)] = 1.0
    length_km: Annotated[float, Field(gt=0.0, le=400.0)] = 60.0
    seed: int = 1


class _TargetsFile(StrictModel):
    band_km: Positive = 10.0
    event_kind: str = "launch"
    detection_probability: Prob = 0.9
    k_coverage: Annotated[int, Field(ge=0, le=50)] = 1
    crlb_m: Positive | None = None
    zones: list[str] = []
    zone_detection_probability: Prob | None = None
    zone_k_coverage: Annotated[int, Field(ge=0, le=50)] | None = None
    candidate_spacing_km: Positive = 2.5
    candidate_depths_km: Annotated[list[Positive], Field(min_length=1)] = [2.0, 5.0, 10.0]
    demand_spacing_km: Positive = 2.0
    demand_offsets_km: list[float] | None = None
    contributions: dict[str, Annotated[float, Field(ge=0.0)]] = {}
    sweep: list[Prob] = [0.5, 0.7, 0.8, 0.9, 0.95, 0.99]
    stretch_km: Positive = 20.0
    line_from_km: Annotated[float, Field(ge=0.0)] = 0.0
    line_to_km: Positive | None = None
    mip_gap: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.01
    time_limit_s: Positive = 60.0
    celerity_jitter: Annotated[float, Field(ge=0.0, lt=0.1)] = 0.002
    block_km: Positive | None = None
    repair_km: Positive = 25.0
    redundancy: Annotated[int, Field(ge=1, le=10)] | None = None
    check: _Check | None = _Check()


def _load(path: Path, what: str) -> Any:
    """The file's YAML (JSON is YAML), ``{}`` when empty."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} file: {exc.strerror}") from exc
    try:
        return yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not YAML or JSON: {exc}") from exc


def _problems(path: Path, exc: ValidationError) -> InputError:
    """The first ten validation problems, each with the file and the field path."""
    lines = []
    for e in exc.errors(include_url=False)[:10]:
        loc = ".".join(str(x) for x in e["loc"]) or "(file)"
        lines.append(f"{path}: {loc}: {e['msg']}")
    return InputError("\n".join(lines))


def read_assets(path: str | Path) -> list[AssetType]:
    """Asset types from an assets file; ids must be unique."""
    path = Path(path)
    try:
        spec = _AssetsFile.model_validate(_load(path, "assets"))
    except ValidationError as exc:
        raise _problems(path, exc) from None
    ids = [a.id for a in spec.assets]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise InputError(f"{path}: assets: the id(s) {', '.join(dup)} repeat")
    out = []
    for k, a in enumerate(spec.assets):
        if a.kind in ("microphone", "array") and a.toa_sd_s is None:
            raise InputError(f"{path}: assets.{k}.toa_sd_s: a {a.kind} needs its timing accuracy")
        out.append(AssetType(a.id, a.kind, a.cost, a.crew_per_shift, a.shifts,
                             {ev: Detectability(c.p_max, c.r50_m, c.width_m, "assets file")
                              for ev, c in a.detection.items()},
                             a.toa_sd_s, a.bearing_sd_deg, a.source))
    return out


def read_targets(path: str | Path) -> tuple[Targets, dict[str, Any]]:
    """The targets, and the plan's other settings (``redundancy``, ``check``)."""
    path = Path(path)
    try:
        spec = _TargetsFile.model_validate(_load(path, "targets"))
    except ValidationError as exc:
        raise _problems(path, exc) from None
    d = spec.model_dump()
    extra = {"redundancy": d.pop("redundancy"), "check": d.pop("check")}
    for key in ("zones", "candidate_depths_km", "sweep"):
        d[key] = tuple(d[key])
    if d["demand_offsets_km"] is not None:
        d["demand_offsets_km"] = tuple(d["demand_offsets_km"])
    try:
        return Targets(**d), extra
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from None


def read_candidates(path: str | Path, agreement: Agreement) -> Points:
    """Candidate sites from a CSV with ``lon`` and ``lat`` (and optionally ``id``) columns,
    placed along the agreement's line."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the candidate sites: {exc.strerror}") from exc
    if not rows or not {"lon", "lat"} <= set(rows[0]):
        raise InputError(f"{path}: a CSV with columns lon and lat (and optionally id) is needed")
    lon, lat, ids = [], [], []
    for n, r in enumerate(rows, start=2):
        try:
            lo, la = float(r["lon"]), float(r["lat"])
        except (TypeError, ValueError):
            raise InputError(f"{path}: line {n}: lon/lat {r.get('lon')!r}, {r.get('lat')!r} are not numbers") from None
        if not (-180 <= lo <= 180 and -90 <= la <= 90):
            raise InputError(f"{path}: line {n}: ({lo}, {la}) is outside lon/lat range")
        lon.append(lo)
        lat.append(la)
        ids.append(r.get("id") or f"S{n - 1:05d}")
    lon_a, lat_a = np.array(lon), np.array(lat)
    x, y = agreement.frame.to_xy(lon_a, lat_a)
    line = agreement.line_index
    if line is None:
        raise InputError(f"{path}: agreement {agreement.id!r} has no line to place candidate sites along")
    near = line.nearest(np.asarray(x), np.asarray(y), lat_a)
    return Points(np.array(ids, dtype=object), np.asarray(x), np.asarray(y), lon_a, lat_a,
                  np.asarray(near.chainage_m), np.asarray(near.signed_m))
