"""Mission planning: how many observers and sensors, and where, to meet coverage targets along
an agreement's line, as a mixed-integer programme solved by HiGHS (``scipy.optimize.milp``).

The model (docs/planning.md):

- *Demand points* sample the band within ``band_km`` of the line (a grid in chainage and
  offset), each with the detection probability and the number of sensors it needs; points in
  the agreement's disengagement areas and protected sites can need more.
- *Candidate sites* stand on both sides of the line at a spacing and at depths (or come from a
  file). Each may host one asset of one type.
- Asset ``a`` at site ``s`` detects an event of the target kind at point ``i`` with probability
  ``p_isa`` (the coverage model's detection curve, times line of sight for optical assets).
  Detections being independent, ``P(i detected) ≥ p`` is the linear constraint
  ``Σ x_sa · −ln(1 − p_isa) ≥ −ln(1 − p)``; "seen by ``k`` sensors" counts the assets with
  ``p_isa ≥ ½``.
- The localisation bound (CRLB) is convex in the layout, not linear: it is met by cutting
  planes. After each solve the exact bound of every demand point is computed for the chosen
  layout; where ``√tr(CRLB) > crlb_m``, the point's Fisher information along its weakest
  direction must reach what the target needs, a linear cut; and the model is solved again.
- The cost is minimised; the optimality gap is reported against HiGHS's dual bound and
  against the linear relaxation's bound.

Everything here is pure computation on arrays: no files, no clock, no printing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.spatial import cKDTree

from linewatch.agreement import Agreement
from linewatch.coverage import DETECTABILITY, Detectability, detection_curve
from linewatch.errors import Infeasible
from linewatch.fusion import FusionParams

__all__ = ['ASSET_KINDS', 'AssetType', 'BEARING_KINDS', 'LOCATE_MIN', 'OPTICAL', 'Pairs', 'Points', 'Problem', 'SOUND_SPEED_M_S', 'Solution', 'TOA_KINDS', 'Targets', 'achieved', 'allocate_sectors', 'along_line', 'at_least', 'build_problem', 'candidate_sites', 'check_feasible', 'covering_level', 'crlb_of_layout', 'demand_points', 'fisher_terms', 'make_pairs', 'solve', 'solve_best', 'summary', 'weakest_stretches', 'with_probability', 'zone_points']

ASSET_KINDS = ("microphone", "array", "observer", "camera", "uav")
OPTICAL = frozenset({"observer", "camera"})
TOA_KINDS = frozenset({"microphone", "array"})
BEARING_KINDS = frozenset({"array", "observer"})
SOUND_SPEED_M_S = 340.0
_MIN_P = 0.01            # pairs less likely than this are left out of the model
_P_CAP = 0.999           # −ln(1 − p) is bounded: no single asset is certain


# -- inputs --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AssetType:
    """A kind of asset a site can host: what it detects, how well it locates, what it costs."""

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

    def offsets_m(self) -> np.ndarray:
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

    def take(self, idx: Any) -> Points:
        return Points(*(getattr(self, f)[idx] for f in ("ids", "x", "y", "lon", "lat", "chainage_m",
                                                        "offset_m")))


def along_line(agreement: Agreement, chainage_m: np.ndarray, offset_m: np.ndarray, *,
               prefix: str, tolerance: float = 0.1) -> Points:
    """Points at the given chainages and signed offsets from the agreement's line, along the
    line's normal smoothed over ±5 km. A point that lands closer to another part of the line
    (where it folds back) than ``tolerance`` of its offset allows is left out."""
    li = agreement.line_index
    if li is None:
        raise ValueError(f"agreement {agreement.id!r} has no line: planning needs one")
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


def _window(agreement: Agreement, targets: Targets) -> tuple[float, float]:
    """The planned stretch of the line, chainage metres."""
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
    lo, length = _window(agreement, targets)
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
    lo, length = _window(agreement, targets)
    ch = np.arange(lo + sp_m / 2, length, sp_m)
    offs = targets.offsets_m()
    cc, oo = np.meshgrid(ch, offs, indexing="ij")
    return along_line(agreement, cc.ravel(), oo.ravel(), prefix="D")


def zone_points(agreement: Agreement, zone_ids: Sequence[str], spacing_m: float = 1000.0
                ) -> tuple[Points, np.ndarray]:
    """Points inside each named zone (a grid, or its centre for a small one) and the zone of each."""
    import shapely
    xs, ys, which = [], [], []
    for zid in zone_ids:
        zone = agreement.zones.get(zid)
        if zone is None:
            raise ValueError(f"zone {zid!r} is not in agreement {agreement.id!r} "
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
        xs.append(px)
        ys.append(py)
        which += [zid] * len(px)
    if not xs:
        z = np.zeros(0)
        return Points(np.zeros(0, dtype=object), z, z, z, z, z, z), np.zeros(0, dtype=object)
    x, y = np.concatenate(xs), np.concatenate(ys)
    lon, lat = agreement.frame.to_lonlat(x, y)
    near = agreement.line_index.nearest(x, y, np.asarray(lat))
    ids = np.array([f"Z{i + 1:05d}" for i in range(len(x))], dtype=object)
    return (Points(ids, x, y, np.asarray(lon), np.asarray(lat), np.asarray(near.chainage_m),
                   np.asarray(near.signed_m)), np.array(which, dtype=object))


# -- the pairs of demand points and sites --------------------------------------------------------

@dataclass(frozen=True)
class Pairs:
    """Every (demand point, site, asset type) whose detection probability is at least 1 %:
    COO columns, with the unit vector from the site to the point and their distance."""

    i: np.ndarray
    s: np.ndarray
    a: np.ndarray
    p: np.ndarray
    distance_m: np.ndarray
    ux: np.ndarray
    uy: np.ndarray

    def __len__(self) -> int:
        return len(self.i)


def make_pairs(demand: Points, sites: Points, assets: Sequence[AssetType], event_kind: str,
               *, visible: Any = None) -> Pairs:
    """The detection probability of each asset type at each site for each demand point.

    ``visible`` (a sparse sites × demand boolean matrix, optional) masks optical assets by
    line of sight; acoustic assets are not blocked by terrain."""
    curves = [a.curve(event_kind) for a in assets]
    reach = max((c.r50_m + 6 * c.width_m for c in curves if c is not None), default=0.0)
    if reach <= 0 or len(demand) == 0 or len(sites) == 0:
        z = np.zeros(0)
        return Pairs(z.astype(int), z.astype(int), z.astype(int), z, z, z, z)
    tree = cKDTree(np.column_stack([sites.x, sites.y]))
    lists = tree.query_ball_point(np.column_stack([demand.x, demand.y]), r=reach)
    counts = np.fromiter((len(v) for v in lists), int, len(lists))
    ii = np.repeat(np.arange(len(demand)), counts)
    ss = np.fromiter((j for v in lists for j in v), int, int(counts.sum()))
    dx, dy = demand.x[ii] - sites.x[ss], demand.y[ii] - sites.y[ss]
    d_proj = np.hypot(dx, dy)
    # frame distance to geodesic: the point scale factor at the pair's mid-point
    from linewatch.geo import WorkingFrame
    kmid = WorkingFrame.scale_factor(0.5 * (demand.x[ii] + sites.x[ss]), 0.5 * (demand.lat[ii] + sites.lat[ss]))
    dist = d_proj / kmid
    with np.errstate(invalid="ignore", divide="ignore"):
        ux = np.where(d_proj > 0, dx / d_proj, 0.0)
        uy = np.where(d_proj > 0, dy / d_proj, 0.0)
    vis = None
    if visible is not None:
        vis = np.asarray(sp.csr_matrix(visible)[ss, ii]).ravel().astype(bool)
    cols = {k: [] for k in ("i", "s", "a", "p", "d", "ux", "uy")}
    for a_idx, (asset, curve) in enumerate(zip(assets, curves)):
        if curve is None:
            continue
        p = detection_curve(curve, dist)
        if vis is not None and asset.kind in OPTICAL:
            p = np.where(vis, p, 0.0)
        keep = p >= _MIN_P
        for k, v in (("i", ii), ("s", ss), ("p", p), ("d", dist), ("ux", ux), ("uy", uy)):
            cols[k].append(v[keep])
        cols["a"].append(np.full(int(keep.sum()), a_idx))
    cat = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in cols.items()}
    return Pairs(cat["i"].astype(int), cat["s"].astype(int), cat["a"].astype(int), cat["p"],
                 cat["d"], cat["ux"], cat["uy"])


# -- localisation --------------------------------------------------------------------------------

def _locating(assets: Sequence[AssetType]) -> np.ndarray:
    """Per asset type: does it measure arrival times or bearings (can it help locate)?"""
    return np.array([a.kind in TOA_KINDS and bool(a.toa_sd_s) or
                     a.kind in BEARING_KINDS and bool(a.bearing_sd_deg) for a in assets])


def fisher_terms(pairs: Pairs, assets: Sequence[AssetType], celerity_jitter: float = 0.0,
                 c_m_s: float = SOUND_SPEED_M_S) -> tuple[np.ndarray, ...]:
    """Per pair, what the asset adds to the point's Fisher information when it hears the event
    (``p ≥ ½``): arrival times ``w`` (1/s²) with the direction ``u`` (for the origin-time
    Schur complement), and bearings as a 2×2 term ``(bxx, bxy, byy)`` (1/m²).

    An arrival time's variance is the pick's plus the path's: a relative sound-speed noise of
    ``celerity_jitter`` over the travel time ``d / c`` (as the simulator draws it), so far
    sensors inform less than near ones."""
    hears = pairs.p >= 0.5
    toa_sd = np.array([a.toa_sd_s if (a.kind in TOA_KINDS and a.toa_sd_s) else np.nan for a in assets])
    brg_sd = np.array([math.radians(a.bearing_sd_deg) if (a.kind in BEARING_KINDS and a.bearing_sd_deg)
                       else np.nan for a in assets])
    sd_t = toa_sd[pairs.a]
    var_t = np.where(np.isfinite(sd_t), sd_t, 1.0) ** 2 + (celerity_jitter * pairs.distance_m / c_m_s) ** 2
    w = np.where(hears & np.isfinite(sd_t), 1.0 / var_t, 0.0)
    sd_b = brg_sd[pairs.a]
    r = np.maximum(pairs.distance_m, 1.0)
    wb = np.where(hears & np.isfinite(sd_b), 1.0 / (r * np.where(np.isfinite(sd_b), sd_b, 1.0)) ** 2, 0.0)
    # a bearing informs the direction across the line of sight: n = (−u_y, u_x)
    nx, ny = -pairs.uy, pairs.ux
    return w, wb * nx * nx, wb * nx * ny, wb * ny * ny


def _information(n_points: int, pairs: Pairs, chosen: np.ndarray, terms: tuple[np.ndarray, ...],
                 c_m_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per demand point, the chosen layout's 2×2 Fisher information ``(fxx, fxy, fyy)`` (1/m²)
    from :func:`fisher_terms`, with the arrival times' unknown origin time profiled out (the
    Schur complement)."""
    w, bxx, bxy, byy = terms
    i = pairs.i[chosen]
    ux, uy, wt = pairs.ux[chosen], pairs.uy[chosen], w[chosen]
    g = 1.0 / c_m_s

    def acc(v: np.ndarray) -> np.ndarray:
        return np.bincount(i, weights=v, minlength=n_points)
    sw = acc(wt)
    sx, sy = acc(wt * ux * g), acc(wt * uy * g)
    fxx = acc(wt * ux * ux * g * g) + acc(bxx[chosen])
    fxy = acc(wt * ux * uy * g * g) + acc(bxy[chosen])
    fyy = acc(wt * uy * uy * g * g) + acc(byy[chosen])
    corr = np.where(sw > 0, 1.0 / np.where(sw > 0, sw, 1.0), 0.0)
    return fxx - sx * sx * corr, fxy - sx * sy * corr, fyy - sy * sy * corr


def crlb_of_layout(n_points: int, pairs: Pairs, chosen: np.ndarray, assets: Sequence[AssetType],
                   c_m_s: float = SOUND_SPEED_M_S, celerity_jitter: float = 0.0) -> np.ndarray:
    """√tr(CRLB) (m) at every demand point for the layout (``chosen``: one bool per pair),
    with the unknown origin time of the arrival times profiled out (inf where unlocatable)."""
    fxx, fxy, fyy = _information(n_points, pairs, chosen,
                                 fisher_terms(pairs, assets, celerity_jitter, c_m_s), c_m_s)
    with np.errstate(invalid="ignore", divide="ignore"):
        det = fxx * fyy - fxy * fxy
        tr = np.where(det > 1e-30 * np.maximum(fxx * fyy, 1e-300), (fxx + fyy) / det, np.inf)
    return np.sqrt(np.where(tr > 0, tr, np.inf))


def _weak_direction(n_points: int, pairs: Pairs, chosen: np.ndarray, terms: tuple[np.ndarray, ...],
                    points: np.ndarray, c_m_s: float) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``points``, the unit direction of least information of the chosen layout
    (``terms``: :func:`fisher_terms`)."""
    fxx, fxy, fyy = (f[points] for f in _information(n_points, pairs, chosen, terms, c_m_s))
    theta = 0.5 * np.arctan2(2 * fxy, fxx - fyy)      # major axis of the information
    return -np.sin(theta), np.cos(theta)                # its normal: the weakest direction


# -- the programme -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    agreement_id: str
    targets: Targets
    assets: tuple[AssetType, ...]
    sites: Points
    demand: Points
    zone_of: np.ndarray              # per demand point: the zone id, or ""
    required_p: np.ndarray
    required_k: np.ndarray
    pairs: Pairs


def build_problem(agreement: Agreement, assets: Sequence[AssetType], targets: Targets, *,
                  sites: Points | None = None, visible: Any = None) -> Problem:
    """Demand points, candidate sites (or the given ones) and their pairs for the targets."""
    if not assets:
        raise ValueError("no asset types given")
    ids = [a.id for a in assets]
    if len(set(ids)) != len(ids):
        raise ValueError(f"asset type ids repeat: {ids}")
    if targets.crlb_m is not None and not any(a.kind in TOA_KINDS | BEARING_KINDS for a in assets):
        raise ValueError("a CRLB target needs an asset that measures arrival times or bearings")
    sites = sites if sites is not None else candidate_sites(agreement, targets)
    band = demand_points(agreement, targets)
    zpts, zwhich = zone_points(agreement, targets.zones)
    lo, hi = _window(agreement, targets)
    inside = (zpts.chainage_m >= lo) & (zpts.chainage_m <= hi)   # zones on the planned stretch
    zpts, zwhich = zpts.take(inside), zwhich[inside]
    demand = Points(*(np.concatenate([getattr(band, f), getattr(zpts, f)])
                      for f in ("ids", "x", "y", "lon", "lat", "chainage_m", "offset_m")))
    zone_of = np.concatenate([np.full(len(band), "", dtype=object), zwhich])
    in_zone = zone_of != ""
    req_p = np.where(in_zone, targets.zone_detection_probability or targets.detection_probability,
                     targets.detection_probability)
    req_k = np.where(in_zone, targets.zone_k_coverage if targets.zone_k_coverage is not None
                     else targets.k_coverage, targets.k_coverage).astype(int)
    if visible is not None and visible.shape[1] != len(demand):
        raise ValueError("the visibility matrix must be sites × demand points")
    pairs = make_pairs(demand, sites, list(assets), targets.event_kind, visible=visible)
    return Problem(agreement.id, targets, tuple(assets), sites, demand, zone_of, req_p, req_k, pairs)


def _stretches(chainage_m: np.ndarray, bad: np.ndarray, gap_m: float) -> list[tuple[float, float]]:
    """Contiguous runs (chainage km) of the flagged points; runs closer than ``gap_m`` merge."""
    ch = np.sort(chainage_m[bad])
    if len(ch) == 0:
        return []
    out = [[ch[0], ch[0]]]
    for c in ch[1:]:
        if c - out[-1][1] <= gap_m:
            out[-1][1] = c
        else:
            out.append([c, c])
    return [(round(a / 1000, 1), round(b / 1000, 1)) for a, b in out]


def _sites_meeting(problem: Problem, level: np.ndarray) -> np.ndarray:
    """Per demand point, the number of distinct sites with some asset at ``p ≥ level[i]``."""
    pr, n = problem.pairs, len(problem.demand)
    ok = pr.p >= level[pr.i] - 1e-12
    key = np.unique(pr.i[ok].astype(np.int64) * (len(problem.sites) + 1) + pr.s[ok])
    return np.bincount(key // (len(problem.sites) + 1), minlength=n)


def check_feasible(problem: Problem, redundancy: int = 1) -> None:
    """Raise :class:`Infeasible` naming the stretches where even every candidate site, each
    with its best asset, cannot meet the detection or the k-coverage target."""
    n = len(problem.demand)
    q = np.array([covering_level(p, redundancy) for p in problem.required_p])
    n_good = _sites_meeting(problem, q) if n else np.zeros(0)
    best_k = _sites_meeting(problem, np.full(n, 0.5)) if n else np.zeros(0)
    # what every site, each with its best asset, would reach (independent detections)
    pr = problem.pairs
    w = -np.log1p(-np.minimum(pr.p, _P_CAP))
    key = pr.i.astype(np.int64) * (len(problem.sites) + 1) + pr.s
    order = np.lexsort((-w, key))
    first = np.ones(len(order), bool)
    first[1:] = key[order][1:] != key[order][:-1]
    reach_p = -np.expm1(-np.bincount(pr.i[order[first]], weights=w[order[first]], minlength=n))
    bad_p = n_good < redundancy
    bad_k = best_k < problem.required_k
    bad_c = np.zeros(n, bool)
    if problem.targets.crlb_m is not None and n:
        # even every candidate hearing with every type it may host cannot locate well enough
        best = crlb_of_layout(n, pr, np.ones(len(pr), bool), problem.assets,
                              celerity_jitter=problem.targets.celerity_jitter)
        bad_c = ~(best <= problem.targets.crlb_m)
    if not (bad_p.any() or bad_k.any() or bad_c.any()):
        return
    bad_k = bad_k | bad_c
    gap = 2.5 * problem.targets.demand_spacing_km * 1000.0
    parts, stretches = [], []
    ch = problem.demand.chainage_m
    for (a, b) in _stretches(ch, bad_p | bad_k, gap):
        sel = (ch >= a * 1000 - 100) & (ch <= b * 1000 + 100) & (bad_p | bad_k)
        worst_p = float(reach_p[sel].min())
        worst_k = int(best_k[sel].min())
        zones = sorted({z for z in problem.zone_of[sel] if z})
        what = []
        if bad_p[sel].any():
            what.append(f"has fewer than {redundancy} site(s) where an asset detects with "
                        f"P ≥ {q[sel].max():.2f} (all sites together would reach P={worst_p:.2f}; "
                        f"the target is {problem.required_p[sel].max():.2f})")
        if bad_c[sel].any():
            what.append(f"cannot be located to {problem.targets.crlb_m:g} m (CRLB) by the candidates")
        elif bad_k[sel].any():
            what.append(f"is seen by at most {worst_k} < {int(problem.required_k[sel].max())} sensors")
        where = f"km {a:.1f}–{b:.1f}" + (f" (zone {', '.join(zones)})" if zones else "")
        parts.append(f"{where} {' and '.join(what)}")
        stretches.append({"from_km": a, "to_km": b, "max_probability": round(worst_p, 4),
                          "max_sensors": worst_k, "zones": zones})
    more = f" (and {len(parts) - 5} more stretches)" if len(parts) > 5 else ""
    raise Infeasible("the targets cannot be met with these candidate sites and assets: "
                     + "; ".join(parts[:5]) + more
                     + ". Add candidate sites there, an asset with a longer range, or lower the target.",
                     stretches)


@dataclass(frozen=True)
class Solution:
    """One solve: which asset type each chosen site hosts, and how good the answer is."""

    site: np.ndarray                 # chosen site indices
    asset: np.ndarray                # the asset type index at each
    cost: float
    lp_bound: float                  # the whole problem's linear relaxation without the CRLB cuts (a lower bound)
    dual_bound: float                # the best lower bound known (HiGHS's on the whole line, or the LP bound)
    gap_to_lp: float                 # (cost − lp_bound) / cost
    mip_gap: float                   # the largest gap HiGHS left in a block
    status: str
    crlb_rounds: int
    cuts: int
    solve_s_note: str = ""           # filled by the shell (the core does not read the clock)


def covering_level(p: float, redundancy: int) -> float:
    """The detection probability ``q`` each of ``redundancy`` assets must reach at a point for
    the point to be detected with probability ``p``: ``1 − (1 − q)^m = p``."""
    return float(-np.expm1(np.log1p(-p) / redundancy))


def _matrices(problem: Problem, redundancy: int
              ) -> tuple[sp.csr_matrix, np.ndarray, sp.csr_matrix, np.ndarray, sp.csr_matrix]:
    """Detection rows, k-coverage rows and one-asset-per-site rows, all covering rows.

    A point's detection target ``p`` is met by ``redundancy`` = m assets that each detect there
    with probability at least ``q`` (:func:`covering_level`): independent detections then give
    at least ``p``, so the rows are a sufficient condition (the plan's achieved probability,
    with every asset's contribution, is reported beside). Covering rows keep the linear
    relaxation tight: the line is nearly one-dimensional and intervals cover it integrally."""
    pr = problem.pairs
    n_s, n_a, n_d = len(problem.sites), len(problem.assets), len(problem.demand)
    col = pr.s * n_a + pr.a
    q = np.array([covering_level(p, redundancy) for p in problem.required_p])
    good = pr.p >= q[pr.i] - 1e-12
    det = sp.csr_matrix((np.ones(int(good.sum())), (pr.i[good], col[good])), shape=(n_d, n_s * n_a))
    seen = pr.p >= 0.5
    kcov = sp.csr_matrix((np.ones(int(seen.sum())), (pr.i[seen], col[seen])), shape=(n_d, n_s * n_a))
    one = sp.csr_matrix((np.ones(n_s * n_a), (np.repeat(np.arange(n_s), n_a), np.arange(n_s * n_a))),
                        shape=(n_s, n_s * n_a))
    k_need = problem.required_k.astype(float)
    if problem.targets.crlb_m is not None:
        # a fix needs three arrival times (two for the position, one for the origin time) or
        # bearings: the localisation rows count the assets that hear and measure either
        locating = _locating(problem.assets)
        loc = seen & locating[pr.a]
        lrows = sp.csr_matrix((np.ones(int(loc.sum())), (pr.i[loc], col[loc])), shape=(n_d, n_s * n_a))
        kcov = sp.vstack([kcov, lrows]).tocsr()
        k_need = np.concatenate([k_need, np.full(n_d, 3.0)])
    return det, np.full(n_d, float(redundancy)), kcov, k_need, one


def _dominated(det: sp.csr_matrix, kcov: sp.csr_matrix, cost: np.ndarray, n_a: int) -> np.ndarray:
    """Columns (site × asset type) dominated by another type at the same site: no dearer, and
    covering a superset of its detection and k-coverage rows."""
    if n_a == 1:
        return np.zeros(det.shape[1], bool)
    both = sp.vstack([det, kcov]).tocsc()
    both.data[:] = 1.0
    out = np.zeros(det.shape[1], bool)
    n_s = det.shape[1] // n_a
    sizes = np.diff(both.indptr)
    for a in range(n_a):
        for b in range(n_a):
            if a == b:
                continue
            ca = np.arange(n_s) * n_a + a
            cb = np.arange(n_s) * n_a + b
            cheaper = (cost[cb] < cost[ca]) | ((cost[cb] == cost[ca]) & (b < a))
            # rows(a) ⊆ rows(b)  ⇔  |rows(a) ∩ rows(b)| == |rows(a)|
            inter = np.asarray(both[:, ca].multiply(both[:, cb]).sum(axis=0)).ravel()
            out[ca[cheaper & (inter == sizes[ca])]] = True
    return out


def with_probability(problem: Problem, p: float) -> Problem:
    """The same problem with the band's detection target set to ``p`` (zones keep theirs if higher)."""
    zone_p = problem.targets.zone_detection_probability
    in_zone = problem.zone_of != ""
    req = np.where(in_zone & (zone_p is not None), max(p, zone_p or 0.0), p)
    return replace(problem, required_p=req.astype(float),
                   targets=replace(problem.targets, detection_probability=p))


def _crlb_cut(problem: Problem, chosen_pairs: np.ndarray, bad: np.ndarray, strikes: np.ndarray,
              n_var: int) -> sp.csr_matrix:
    """Rows ``Σ info_j x_j / need ≥ 1``: each of the ``bad`` points' Fisher information along
    its weakest direction must reach ``2 / Y²`` (``λ_min ≥ 2/Y²`` gives ``tr(CRLB) ≤ Y²``),
    asking half as much again for each earlier round the point missed its target (``strikes``:
    1 the first time; the origin time eats some of the information)."""
    pr, n_a = problem.pairs, len(problem.assets)
    col = pr.s * n_a + pr.a
    terms = fisher_terms(pr, problem.assets, problem.targets.celerity_jitter)
    ux, uy = _weak_direction(len(problem.demand), pr, chosen_pairs, terms, bad, SOUND_SPEED_M_S)
    need = 2.0 / problem.targets.crlb_m ** 2 * (1.0 + 0.5 * (np.asarray(strikes, float) - 1.0))
    w, bxx, bxy, byy = terms
    g2 = (1.0 / SOUND_SPEED_M_S) ** 2
    rows = np.searchsorted(bad, pr.i)
    on = (rows < len(bad)) & (bad[np.minimum(rows, len(bad) - 1)] == pr.i)
    r = rows[on]
    du = ux[r] * pr.ux[on] + uy[r] * pr.uy[on]
    # the origin time is unknown: arrival times inform along u only by how much their directions
    # differ, Σ w (du − mean du)². The mean is the layout's so far (a sensor whose direction
    # differs from those already there counts for more; one in the same direction, for little)
    mine = chosen_pairs[on]
    sw = np.bincount(r[mine], weights=w[on][mine], minlength=len(bad))
    mean = np.bincount(r[mine], weights=(w[on] * du)[mine], minlength=len(bad)) / np.where(sw > 0, sw, 1.0)
    dev = du - mean[r]
    info = w[on] * dev * dev * g2 + bxx[on] * ux[r] ** 2 + 2 * bxy[on] * ux[r] * uy[r] + byy[on] * uy[r] ** 2
    return sp.csr_matrix((info / need[r], (r, col[on])), shape=(len(bad), n_var))


def _count_cut(problem: Problem, chosen_pairs: np.ndarray, bad: np.ndarray, n_var: int) -> sp.csr_matrix:
    """Rows asking each of the ``bad`` points for one more locating asset that hears it than
    the layout has: the directional cut works on the information without the origin time, so
    this one makes sure every round moves (the sets only grow: the rounds end)."""
    pr, n_a = problem.pairs, len(problem.assets)
    locating = _locating(problem.assets)
    loc = (pr.p >= 0.5) & locating[pr.a]
    have = np.bincount(pr.i[loc & chosen_pairs], minlength=len(problem.demand))
    rows = np.searchsorted(bad, pr.i)
    on = loc & (rows < len(bad)) & (bad[np.minimum(rows, len(bad) - 1)] == pr.i)
    r = rows[on]
    return sp.csr_matrix((1.0 / (have[bad][r] + 1.0), (r, (pr.s * n_a + pr.a)[on])), shape=(len(bad), n_var))


def _columns(rows: sp.csr_matrix, chosen: np.ndarray, upper: np.ndarray, n_a: int, n_sites: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, sp.csr_matrix]:
    """The columns a part of the problem needs (those in its ``rows`` and those already
    chosen), their bounds (a chosen column stays chosen; a site taken keeps its asset, so its
    other types are closed) and their one-asset-per-site rows."""
    cols = np.unique(np.concatenate([rows.indices, np.flatnonzero(chosen)]))
    lo = chosen[cols].astype(float)
    taken_site = np.zeros(n_sites, bool)
    taken_site[np.flatnonzero(chosen) // n_a] = True
    hi = np.maximum(np.where(taken_site[cols // n_a] & ~chosen[cols], 0.0, upper[cols]), lo)
    site_ids, site_row = np.unique(cols // n_a, return_inverse=True)
    one = sp.csr_matrix((np.ones(len(cols)), (site_row, np.arange(len(cols)))),
                        shape=(len(site_ids), len(cols)))
    return cols, lo, hi, one


def _within(x: np.ndarray, centres: np.ndarray, radius: float) -> np.ndarray:
    """Which of ``x`` lie within ``radius`` of one of ``centres`` (1-D)."""
    c = np.sort(centres)
    j = np.clip(np.searchsorted(c, x), 1, len(c) - 1) if len(c) > 1 else np.zeros(len(x), int)
    d = np.minimum(np.abs(x - c[j]), np.abs(x - c[np.maximum(j - 1, 0)]))
    return d <= radius


def _blocks(chainage_m: np.ndarray, block_m: float) -> list[tuple[float, float]]:
    lo, hi = float(chainage_m.min()), float(chainage_m.max()) + 1.0
    n = max(1, int(round((hi - lo) / block_m)))
    edges = np.linspace(lo, hi, n + 1)
    return list(zip(edges[:-1], edges[1:]))


def solve(problem: Problem, *, redundancy: int = 1, overlap_km: float = 60.0) -> Solution:
    """The minimum-cost layout where every point is covered by ``redundancy`` assets
    (:func:`_matrices`), with the CRLB target met by cutting planes; raises
    :class:`Infeasible` when it cannot be.

    The whole line is one programme, solved by HiGHS's branch and bound to ``mip_gap`` or
    ``time_limit_s``; its dual bound is kept. With ``targets.block_km`` a long line is solved in
    blocks instead, each with ``overlap_km`` of the next in view (a rolling horizon: the block's
    choices up to its end are kept, those in the overlap are solved again with the next block).
    A CRLB round re-solves only the sites within ``repair_km`` of the points that miss the
    target, the rest of the layout fixed (the whole block again if that cannot meet the cuts).
    The cost is compared with the linear relaxation of the whole problem, a lower bound on any
    layout that meets the rows."""
    t = problem.targets
    check_feasible(problem, redundancy)
    det, det_lb, kcov, k_lb, one = _matrices(problem, redundancy)
    n_a = len(problem.assets)
    n_var = det.shape[1]
    cost = np.tile(np.array([a.cost for a in problem.assets], float), len(problem.sites))
    # a tiny tie-break towards sites nearer the line keeps equal-cost answers stable
    cost = cost * (1.0 + 1e-9 * np.repeat(np.abs(problem.sites.offset_m) / 1000.0, n_a))
    # a column is left out when, at the same site, a type no dearer covers every row it does
    # (with a CRLB target the information it adds matters too, so nothing is left out)
    upper = np.ones(n_var)
    if t.crlb_m is None:
        upper[_dominated(det, kcov, cost, n_a)] = 0.0
    rows_all = sp.vstack([det, kcov]).tocsr()
    lb_all = np.concatenate([det_lb, k_lb])
    pr = problem.pairs
    col_of_pair = pr.s * n_a + pr.a
    site_ch = np.repeat(problem.sites.chainage_m, n_a)
    ch = problem.demand.chainage_m
    chosen = np.zeros(n_var, bool)
    cut_rows: list[sp.csr_matrix] = []
    rounds_total = 0
    worst_gap, statuses = 0.0, []
    hi_dual = -np.inf
    blocks = (_blocks(ch, t.block_km * 1000.0) if t.block_km else [(float(ch.min()), float(ch.max()) + 1.0)]
              ) if len(ch) else []
    options = {"mip_rel_gap": t.mip_gap, "time_limit": t.time_limit_s / max(len(blocks), 1)}
    for b, (c0, c1) in enumerate(blocks):
        last = b == len(blocks) - 1
        # the block's points, those of the overlap ahead, and those behind whose cover may have
        # counted on sites ahead of the last block's end (left open then)
        window = (ch >= c0 - overlap_km * 1000.0) & (ch < c1 + overlap_km * 1000.0)
        in_rows = np.tile(window, rows_all.shape[0] // len(ch)) & (lb_all > 0)
        sub = rows_all[in_rows]
        cols, lo, hi, one_sub = _columns(sub, chosen, upper, n_a, len(problem.sites))
        cons_base = [LinearConstraint(sub[:, cols], lb_all[in_rows], np.inf), LinearConstraint(one_sub, 0, 1)]
        res = milp(cost[cols], constraints=cons_base, integrality=np.ones(len(cols)),
                   bounds=Bounds(lo, hi), options=options)
        if res.x is None:
            hint = ("raise time_limit_s or solve in blocks (block_km)" if res.status == 1
                    else "check the targets")
            raise Infeasible(f"HiGHS found no layout for km {c0 / 1000:.0f}–{c1 / 1000:.0f} "
                             f"({str(res.message).strip()}); {hint}",
                             [{"from_km": round(c0 / 1000, 1), "to_km": round(c1 / 1000, 1)}])
        if len(blocks) == 1 and getattr(res, "mip_dual_bound", None) is not None:
            hi_dual = float(res.mip_dual_bound)        # the whole problem's: a valid bound
        statuses.append(str(res.message).strip())
        worst_gap = max(worst_gap, float(getattr(res, "mip_gap", 0.0) or 0.0))
        x_block = np.zeros(n_var, bool)
        x_block[cols[res.x > 0.5]] = True
        block_cuts: list[sp.csr_matrix] = []
        rounds = 0
        strikes = np.zeros(len(ch), int)
        while t.crlb_m is not None:
            bound = crlb_of_layout(len(problem.demand), pr, x_block[col_of_pair], problem.assets,
                                   celerity_jitter=t.celerity_jitter)
            bad = np.flatnonzero((bound > t.crlb_m * 1.0001) & window)
            if len(bad) == 0:
                break
            if rounds >= t.crlb_rounds:
                spans = _stretches(ch, np.isin(np.arange(len(ch)), bad), 5000.0)
                raise Infeasible(f"the CRLB target of {t.crlb_m:g} m is still missed after "
                                 f"{rounds} rounds of cuts at "
                                 + ", ".join(f"km {a:.1f}–{b:.1f}" for a, b in spans[:5])
                                 + " (raise crlb_rounds, add candidate sites there, or relax the target)",
                                 [{"from_km": a, "to_km": b} for a, b in spans])
            rounds += 1
            strikes[bad] += 1
            block_cuts.append(_crlb_cut(problem, x_block[col_of_pair], bad, strikes[bad], n_var))
            block_cuts.append(_count_cut(problem, x_block[col_of_pair], bad, n_var))
            cons = cons_base + [LinearConstraint(sp.vstack(block_cuts)[:, cols], 1.0, np.inf)]
            # re-solve near the misses with the rest of the layout fixed; the layout so far
            # meets every earlier row and cut, so only the new cuts can make this infeasible
            near = _within(site_ch[cols], ch[bad], t.repair_km * 1000.0)
            now = x_block[cols].astype(float)
            res = milp(cost[cols], constraints=cons, integrality=np.ones(len(cols)),
                       bounds=Bounds(np.where(near, lo, np.maximum(now, lo)), np.where(near, hi, now)),
                       options=options)
            if res.x is None:
                res = milp(cost[cols], constraints=cons, integrality=np.ones(len(cols)),
                           bounds=Bounds(lo, hi), options=options)
            if res.x is None:
                raise Infeasible(f"HiGHS found no layout for km {c0 / 1000:.0f}–{c1 / 1000:.0f} "
                                 f"({str(res.message).strip()}); the CRLB cuts made it infeasible: "
                                 "lower the CRLB target or add acoustic candidate sites there",
                                 [{"from_km": round(c0 / 1000, 1), "to_km": round(c1 / 1000, 1)}])
            x_block = np.zeros(n_var, bool)
            x_block[cols[res.x > 0.5]] = True
        rounds_total += rounds
        cut_rows += block_cuts
        keep = x_block & ((site_ch < c1) | last)
        chosen |= keep
    # where the line folds back, a point far behind a block's end by chainage can be near a
    # site beyond it: any row the kept choices leave short is repaired with them fixed
    short = np.flatnonzero((rows_all @ chosen.astype(float)) < lb_all - 1e-9)
    if len(short):
        sub = rows_all[short]
        cols, lo, hi, one_sub = _columns(sub, chosen, upper, n_a, len(problem.sites))
        res = milp(cost[cols], constraints=[LinearConstraint(sub[:, cols], lb_all[short], np.inf),
                                            LinearConstraint(one_sub, 0, 1)],
                   integrality=np.ones(len(cols)), bounds=Bounds(lo, hi),
                   options={"mip_rel_gap": t.mip_gap, "time_limit": t.time_limit_s})
        if res.x is None:
            raise Infeasible(f"HiGHS could not complete the layout ({str(res.message).strip()})")
        chosen[cols[res.x > 0.5]] = True
    # the whole problem's linear relaxation: a lower bound on any layout that meets the rows
    # (the CRLB cuts are left out: they grow round by round and block by block, so they are not
    # all valid for every layout that meets the target, and the bound without them still holds)
    cons = [LinearConstraint(rows_all[lb_all > 0], lb_all[lb_all > 0], np.inf), LinearConstraint(one, 0, 1)]
    lp = milp(cost, constraints=cons, integrality=np.zeros(n_var), bounds=Bounds(0, upper),
              options={"time_limit": t.time_limit_s})
    chosen_vars = np.flatnonzero(chosen)
    value = float(cost[chosen_vars].sum())
    lp_bound = float(lp.fun) if lp.x is not None else float("nan")
    return Solution(site=chosen_vars // n_a, asset=chosen_vars % n_a, cost=value, lp_bound=lp_bound,
                    dual_bound=min(max(lp_bound, hi_dual), value),
                    gap_to_lp=(value - lp_bound) / value if value > 0 else 0.0,
                    mip_gap=worst_gap, status="; ".join(sorted(set(statuses))),
                    crlb_rounds=rounds_total, cuts=int(sum(c.shape[0] for c in cut_rows)))


def solve_best(problem: Problem, redundancies: Sequence[int] = (1, 2, 3)) -> tuple[Solution, int]:
    """The cheapest of the layouts for each redundancy (each is a sufficient condition for the
    detection target, so the cheapest is the best plan these rows can certify), and its m."""
    best: tuple[Solution, int] | None = None
    last_error: Infeasible | None = None
    for m in redundancies:
        try:
            sol = solve(problem, redundancy=m)
        except Infeasible as exc:
            last_error = exc
            continue
        if best is None or sol.cost < best[0].cost:
            best = (sol, m)
    if best is None:
        assert last_error is not None
        raise last_error
    return best


# -- what the plan achieves ----------------------------------------------------------------------

def achieved(problem: Problem, solution: Solution) -> dict[str, np.ndarray]:
    """Per demand point: P(detected), sensors with P ≥ ½, and √tr(CRLB) for the layout."""
    pr, n_a = problem.pairs, len(problem.assets)
    chosen_vars = np.zeros(len(problem.sites) * n_a, bool)
    chosen_vars[solution.site * n_a + solution.asset] = True
    chosen = chosen_vars[pr.s * n_a + pr.a]
    n = len(problem.demand)
    log_miss = np.bincount(pr.i[chosen], weights=np.log1p(-np.minimum(pr.p[chosen], _P_CAP)), minlength=n)
    k = np.bincount(pr.i[chosen & (pr.p >= 0.5)], minlength=n)
    crlb = crlb_of_layout(n, pr, chosen, problem.assets, celerity_jitter=problem.targets.celerity_jitter)
    return {"probability": -np.expm1(log_miss), "k": k, "crlb_m": crlb,
            "locate_probability": at_least(n, pr.i[chosen], pr.p[chosen], LOCATE_MIN)}


#: the fusion engine accepts an event that at least this many sensors detect (docs/plan-check.md)
LOCATE_MIN = FusionParams().min_sensors


def at_least(n_points: int, point: np.ndarray, p: np.ndarray, k: int) -> np.ndarray:
    """P(at least ``k`` of a point's independent detections happen), per point (the Poisson
    binomial tail, by dynamic programming over each point's detections, all points at once)."""
    order = np.argsort(point, kind="stable")
    point, p = point[order], p[order]
    # dist[i, j] = P(j detections so far), j capped at k
    dist = np.zeros((n_points, k + 1))
    dist[:, 0] = 1.0
    rank = np.arange(len(point)) - np.searchsorted(point, point, side="left")
    for r in range(int(rank.max()) + 1 if len(rank) else 0):
        sel = rank == r
        i, q = point[sel], p[sel][:, None]
        d = dist[i]
        shifted = np.concatenate([np.zeros((len(i), 1)), d[:, :-1]], axis=1)
        new = d * (1 - q) + shifted * q
        new[:, k] += d[:, k] * q[:, 0]          # the capped bin keeps its mass
        dist[i] = new
    return dist[:, k]


def weakest_stretches(problem: Problem, got: Mapping[str, np.ndarray], n: int = 5) -> list[dict[str, Any]]:
    """The ``n`` stretches (``stretch_km`` long) with the least margin over the targets."""
    t = problem.targets
    ch = problem.demand.chainage_m
    bins = np.floor(ch / (t.stretch_km * 1000.0)).astype(int)
    out = []
    for b in np.unique(bins):
        sel = bins == b
        p = got["probability"][sel]
        margin = float(np.min(p - problem.required_p[sel]))
        crlb = got["crlb_m"][sel]
        out.append({"from_km": float(b * t.stretch_km), "to_km": float((b + 1) * t.stretch_km),
                    "min_probability": round(float(p.min()), 4),
                    "min_sensors": int(got["k"][sel].min()),
                    "max_crlb_m": None if not np.isfinite(crlb.max()) else round(float(crlb.max()), 1),
                    "margin": round(margin, 4)})
    out.sort(key=lambda d: (d["margin"], -(d["max_crlb_m"] or math.inf)))
    return out[:n]


def allocate_sectors(problem: Problem, solution: Solution,
                     contributions: Mapping[str, float]) -> list[dict[str, Any]]:
    """Contiguous stretches of the line for the contributing nations, in the order given, each
    taking the share of the plan's cost that its contribution is of the total (cut between
    sites, by chainage)."""
    if not contributions:
        return []
    total_c = float(sum(contributions.values()))
    if total_c <= 0 or any(v < 0 for v in contributions.values()):
        raise ValueError("contributions must be >= 0 with a positive total")
    length_km = float(problem.sites.chainage_m.max() / 1000.0) if len(problem.sites) else 0.0
    ch = problem.sites.chainage_m[solution.site]
    costs = np.array([problem.assets[a].cost for a in solution.asset])
    crews = np.array([problem.assets[a].crew_total for a in solution.asset])
    order = np.argsort(ch, kind="stable")
    ch, costs, crews, assets = ch[order], costs[order], crews[order], solution.asset[order]
    cum = np.cumsum(costs)
    total = float(cum[-1]) if len(cum) else 0.0
    out, start_idx, start_km, acc = [], 0, 0.0, 0.0
    names = list(contributions)
    for j, name in enumerate(names):
        acc += contributions[name] / total_c
        if j == len(names) - 1:
            end_idx = len(ch)
        else:
            end_idx = int(np.searchsorted(cum, acc * total - 1e-9, side="left")) + 1
            end_idx = min(max(end_idx, start_idx), len(ch))
        end_km = (length_km if j == len(names) - 1 or end_idx >= len(ch)
                  else float(0.5 * (ch[end_idx - 1] + ch[end_idx]) / 1000.0) if end_idx > 0 else start_km)
        part = slice(start_idx, end_idx)
        counts: dict[str, int] = {}
        for a in assets[part]:
            counts[problem.assets[a].id] = counts.get(problem.assets[a].id, 0) + 1
        cost = float(costs[part].sum())
        out.append({"nation": name, "from_km": round(start_km, 1), "to_km": round(end_km, 1),
                    "target_share": round(contributions[name] / total_c, 4),
                    "cost_share": round(cost / total, 4) if total else 0.0, "cost": cost,
                    "crew": int(crews[part].sum()), "assets": counts})
        start_idx, start_km = end_idx, end_km
    return out


def summary(problem: Problem, solution: Solution) -> dict[str, Any]:
    """Counts by asset type, crews (per shift and in total) and cost."""
    by_type = []
    for a_idx, a in enumerate(problem.assets):
        n = int((solution.asset == a_idx).sum())
        by_type.append({"asset": a.id, "kind": a.kind, "count": n, "cost": n * a.cost,
                        "crew_per_shift": n * a.crew_per_shift, "crew_total": n * a.crew_total})
    return {"sites": int(len(solution.site)), "by_type": by_type, "cost": solution.cost,
            "crew_per_shift": sum(b["crew_per_shift"] for b in by_type),
            "crew_total": sum(b["crew_total"] for b in by_type)}
