"""What a plan starts from: the asset types, the targets, and the places along the line
(candidate sites, demand points in the band, points in the agreement's zones).

Pure: arrays in the agreement's working frame; no files, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import shapely

from linewatch.agreement import Agreement
from linewatch.coverage import DETECTABILITY, Detectability
from linewatch.geo import LineIndex

__all__ = ["ASSET_KINDS", "BEARING_KINDS", "OPTICAL", "TOA_KINDS", "AssetType", "Points", "Targets",
           "along_line", "candidate_sites", "demand_points", "planned_window", "zone_points"]

ASSET_KINDS = ("microphone", "array", "observer", "camera", "uav")
OPTICAL = frozenset({"observer", "camera"})
TOA_KINDS = frozenset({"microphone", "array"})
BEARING_KINDS = frozenset({"array", "observer"})


@dataclass(frozen=True)
class AssetType:
    """A kind of asset a site can host: what it detects, how well it locates, what it costs.

    Examples:
        >>> AssetType("op", "observer", 200_000, crew_per_shift=4, shifts=3).crew_total
        12
        >>> AssetType("x", "radar", 1.0)
        Traceback (most recent call last):
        ...
        ValueError: asset 'x': kind 'radar' is not one of microphone, array, observer, camera, uav
    """

    id: str
    kind: str                                   # one of ASSET_KINDS
    cost: float
    crew_per_shift: int = 0
    shifts: int = 0
    detection: Mapping[str, Detectability] = field(default_factory=dict)  # event kind -> curve
    toa_sd_s: float | None = None               # arrival-time accuracy (acoustic)
    bearing_sd_deg: float | None = None         # bearing accuracy (arrays, observers)
    source: str = "assumption"

    def __post_init__(self) -> None:
        if self.kind not in ASSET_KINDS:
            raise ValueError(f"asset {self.id!r}: kind {self.kind!r} is not one of {', '.join(ASSET_KINDS)}")
        if not self.cost >= 0:
            raise ValueError(f"asset {self.id!r}: cost must be >= 0, got {self.cost!r}")

    @property
    def crew_total(self) -> int:
        return self.crew_per_shift * self.shifts

    def curve(self, event_kind: str) -> Detectability | None:
        """The detection curve for an event kind: the asset's own, else the coverage table's."""
        return self.detection.get(event_kind) or DETECTABILITY.get((self.kind, event_kind))


@dataclass(frozen=True)
class Targets:
    """What the plan must achieve, and how the problem is discretised."""

    band_km: float = 10.0                       # the band either side of the line to cover
    event_kind: str = "launch"
    detection_probability: float = 0.9          # P(an event is detected) at every point
    k_coverage: int = 1                         # sensors with P >= 1/2 at every point
    crlb_m: float | None = None                 # √tr(CRLB) at every point
    zones: tuple[str, ...] = ()                 # agreement zones (areas, sites) with their own target
    zone_detection_probability: float | None = None
    zone_k_coverage: int | None = None
    candidate_spacing_km: float = 2.5
    candidate_depths_km: tuple[float, ...] = (2.0, 5.0, 10.0)
    demand_spacing_km: float = 2.0
    demand_offsets_km: tuple[float, ...] | None = None   # default: 0, ±band/4, ±band/2, ±band
    contributions: Mapping[str, float] = field(default_factory=dict)   # nation -> share
    sweep: tuple[float, ...] = (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
    stretch_km: float = 20.0                    # the unit of "weakest stretches"
    line_from_km: float = 0.0                   # plan this stretch of the line only
    line_to_km: float | None = None
    mip_gap: float = 0.01
    time_limit_s: float = 60.0
    crlb_rounds: int = 25
    celerity_jitter: float = 0.002              # relative sound-speed noise per path (the simulator's)
    block_km: float | None = None               # solve in blocks of this length (None: at once)
    repair_km: float = 25.0                     # a CRLB round re-solves the sites this near the misses

    def __post_init__(self) -> None:
        if not 0 < self.detection_probability < 1:
            raise ValueError(f"detection_probability must be in (0, 1), got {self.detection_probability!r}")
        if self.k_coverage < 0:
            raise ValueError(f"k_coverage must be >= 0, got {self.k_coverage!r}")
        if self.crlb_m is not None and not self.crlb_m > 0:
            raise ValueError(f"crlb_m must be > 0, got {self.crlb_m!r}")
        if not self.band_km > 0 or not self.candidate_spacing_km > 0 or not self.demand_spacing_km > 0:
            raise ValueError("band_km, candidate_spacing_km and demand_spacing_km must be > 0")
        if not 0 <= self.celerity_jitter < 0.1:
            raise ValueError(f"celerity_jitter must be in [0, 0.1), got {self.celerity_jitter!r}")
        if self.block_km is not None and not self.block_km > 0:
            raise ValueError(f"block_km must be > 0, got {self.block_km!r}")

    def offsets_m(self) -> npt.NDArray[np.float64]:
        """The demand points' offsets across the line (m).

        Examples:
            >>> Targets(band_km=4.0).offsets_m().tolist()
            [-4000.0, -2000.0, -1000.0, 0.0, 1000.0, 2000.0, 4000.0]
        """
        if self.demand_offsets_km is not None:
            return np.asarray(self.demand_offsets_km, float) * 1000.0
        b = self.band_km
        return np.array([-b, -b / 2, -b / 4, 0.0, b / 4, b / 2, b]) * 1000.0


@dataclass(frozen=True)
class Points:
    """Places along the line: projected x, y (the agreement's frame), lon, lat, chainage and
    signed offset (positive on the line's left), and an id each."""

    ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    chainage_m: np.ndarray
    offset_m: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def take(self, idx: npt.ArrayLike | slice) -> Points:
        """The points at ``idx`` (indices, a boolean mask or a slice)."""
        return Points(*(getattr(self, f)[idx] for f in _FIELDS))

    @staticmethod
    def concatenate(first: Points, second: Points) -> Points:
        """The points of ``first`` followed by those of ``second``."""
        return Points(*(np.concatenate([getattr(first, f), getattr(second, f)]) for f in _FIELDS))


_FIELDS = ("ids", "x", "y", "lon", "lat", "chainage_m", "offset_m")


def _line(agreement: Agreement) -> LineIndex:
    li = agreement.line_index
    if li is None:
        raise ValueError(f"agreement {agreement.id!r} has no line: planning needs one")
    return li


def along_line(agreement: Agreement, chainage_m: npt.ArrayLike, offset_m: npt.ArrayLike, *,
               prefix: str, tolerance: float = 0.1) -> Points:
    """Points at the given chainages and signed offsets from the agreement's line, along the
    line's normal smoothed over ±5 km. A point that lands closer to another part of the line
    (where it folds back) than ``tolerance`` of its offset allows is left out."""
    li = _line(agreement)
    ch = np.asarray(chainage_m, float)
    off = np.asarray(offset_m, float)
    step = 250.0
    s = np.arange(0.0, li.length_m + step, step)
    s[-1] = min(s[-1], li.length_m)
    seg = np.clip(np.searchsorted(li.chain0, s, side="right") - 1, 0, li.n_segments - 1)
    t = np.clip((s - li.chain0[seg]) / li.geo_len[seg], 0, 1)
    cx, cy = li.ax[seg] + t * li.dx[seg], li.ay[seg] + t * li.dy[seg]
    half = 20
    k = np.ones(2 * half + 1) / (2 * half + 1)
    sx = np.convolve(np.pad(cx, half, mode="edge"), k, mode="valid")
    sy = np.convolve(np.pad(cy, half, mode="edge"), k, mode="valid")
    tx, ty = np.gradient(sx), np.gradient(sy)
    tn = np.hypot(tx, ty)
    tn[tn == 0] = 1.0
    nx, ny = -ty / tn, tx / tn
    nxi, nyi = np.interp(ch, s, nx), np.interp(ch, s, ny)
    norm = np.hypot(nxi, nyi)
    norm[norm == 0] = 1.0
    px = np.interp(ch, s, cx) + nxi / norm * off
    py = np.interp(ch, s, cy) + nyi / norm * off
    lon, lat = agreement.frame.to_lonlat(px, py)
    near = li.nearest(px, py, np.asarray(lat))
    keep = np.abs(near.signed_m - off) <= np.maximum(tolerance * np.abs(off), 100.0)
    n = int(keep.sum())
    ids = np.array([f"{prefix}{i + 1:05d}" for i in range(n)], dtype=object)
    return Points(ids, px[keep], py[keep], np.asarray(lon)[keep], np.asarray(lat)[keep],
                  np.asarray(near.chainage_m)[keep], np.asarray(near.signed_m)[keep])


def planned_window(agreement: Agreement, targets: Targets) -> tuple[float, float]:
    """The planned stretch of the line, chainage metres (``line_from_km``–``line_to_km``,
    clipped to the line); a ``ValueError`` when it holds less than 1 km."""
    length = agreement.line_index.length_m if agreement.line_index else 0.0
    hi = length if targets.line_to_km is None else min(length, targets.line_to_km * 1000.0)
    lo = max(0.0, targets.line_from_km * 1000.0)
    if not hi - lo >= 1000.0:
        raise ValueError(f"the stretch {targets.line_from_km}-{targets.line_to_km} km holds less "
                         f"than 1 km of the {length / 1000:.1f} km line")
    return lo, hi


def candidate_sites(agreement: Agreement, targets: Targets) -> Points:
    """Sites on both sides of the line at ``candidate_spacing_km``, at each depth."""
    sp_m = targets.candidate_spacing_km * 1000.0
    lo, length = planned_window(agreement, targets)
    ch0 = np.arange(lo + sp_m / 2, length, sp_m)
    chs, offs = [], []
    for j, depth in enumerate(targets.candidate_depths_km):
        for sign in (1.0, -1.0):
            # rows at successive depths are staggered by a fraction of the spacing
            chs.append(np.clip(ch0 + (j % 3) * sp_m / 3, lo, length))
            offs.append(np.full(len(ch0), sign * depth * 1000.0))
    return along_line(agreement, np.concatenate(chs), np.concatenate(offs), prefix="S")


def demand_points(agreement: Agreement, targets: Targets) -> Points:
    """The band within ``band_km`` of the line, sampled every ``demand_spacing_km`` along it
    and at the target's offsets across it."""
    sp_m = targets.demand_spacing_km * 1000.0
    lo, length = planned_window(agreement, targets)
    ch = np.arange(lo + sp_m / 2, length, sp_m)
    offs = targets.offsets_m()
    cc, oo = np.meshgrid(ch, offs, indexing="ij")
    return along_line(agreement, cc.ravel(), oo.ravel(), prefix="D")


def _zone_xy(agreement: Agreement, zone_id: str, spacing_m: float
             ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """A grid of points inside one zone (its representative point if none falls inside)."""
    zone = agreement.zones.get(zone_id)
    if zone is None:
        raise ValueError(f"zone {zone_id!r} is not in agreement {agreement.id!r} "
                         f"(zones: {', '.join(agreement.zones)})")
    geom = agreement.frame.project_geometry(shapely.union_all(list(zone.polygons_lonlat().values())))
    x0, y0, x1, y1 = geom.bounds
    gx, gy = np.meshgrid(np.arange(x0 + spacing_m / 2, x1, spacing_m),
                         np.arange(y0 + spacing_m / 2, y1, spacing_m))
    inside = shapely.contains_xy(geom, gx.ravel(), gy.ravel())
    px, py = gx.ravel()[inside], gy.ravel()[inside]
    if len(px) == 0:
        c = geom.representative_point()
        px, py = np.array([c.x]), np.array([c.y])
    return px, py


def zone_points(agreement: Agreement, zone_ids: Sequence[str], spacing_m: float = 1000.0
                ) -> tuple[Points, np.ndarray]:
    """Points inside each named zone (a grid, or its centre for a small one) and the zone of each."""
    xs, ys, which = [], [], []
    for zid in zone_ids:
        px, py = _zone_xy(agreement, zid, spacing_m)
        xs.append(px)
        ys.append(py)
        which += [zid] * len(px)
    if not xs:
        z = np.zeros(0)
        return Points(np.zeros(0, dtype=object), z, z, z, z, z, z), np.zeros(0, dtype=object)
    x, y = np.concatenate(xs), np.concatenate(ys)
    lon, lat = agreement.frame.to_lonlat(x, y)
    near = _line(agreement).nearest(x, y, np.asarray(lat))
    ids = np.array([f"Z{i + 1:05d}" for i in range(len(x))], dtype=object)
    return (Points(ids, x, y, np.asarray(lon), np.asarray(lat), np.asarray(near.chainage_m),
                   np.asarray(near.signed_m)), np.array(which, dtype=object))
