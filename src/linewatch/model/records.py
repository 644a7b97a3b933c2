"""The mission's records and findings as immutable values.

Coordinates are ``(lon, lat)`` WGS84 degrees; times are timezone-aware UTC ``datetime``;
units are in the names (``radius_m``, ``window_s``). Every uncertainty region is the
95 % region of a bivariate normal distribution, whatever form the report gave it in.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

__all__ = ["EARLIEST_TIME", "FIRE_KINDS", "LATEST_TIME", "MAX_COUNT", "MAX_DELAY_MIN", "MAX_DISTANCE_M",
           "SIGMA_PER_R95", "ExplosionType", "Finding", "Kind", "Location", "ObserverFix", "Provenance",
           "Report", "SourceKind", "TimePrecision", "Verdict", "covariance_to_ellipse",
           "ellipse_to_covariance", "in_time_window"]

#: Scale from a 95 % radius (or semi-axis) to one standard deviation of a 2-D normal:
#: P(r <= R) = 1 - exp(-R**2 / (2 sigma**2)) = 0.95.
SIGMA_PER_R95 = 1.0 / math.sqrt(-2.0 * math.log(0.05))

# -- the bounds of a record (docs/record-formats.md, "Limits") ---------------------------------

#: The largest ``count``, ``killed`` or ``injured``: far above any one observation (the SMM's
#: largest daily totals were in the low thousands), far below any integer overflow in a sum.
MAX_COUNT = 100_000
#: The largest radius, semi-axis or observer distance, in metres: ten times ACLED's coarsest
#: (region-level, 100 km) precision. A place known less precisely locates nothing on a line.
MAX_DISTANCE_M = 1_000_000.0
#: The longest ``delay_min`` of a freedom-of-movement restriction: one week, in minutes (a
#: patrol held longer is denied passage, not delayed).
MAX_DELAY_MIN = 7 * 24 * 60.0
#: Every time a record or an allegation gives lies in ``[EARLIEST_TIME, LATEST_TIME)``: from
#: the first ceasefire lines drawn after the Second World War to the end of the century.
EARLIEST_TIME = datetime(1950, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2100, 1, 1, tzinfo=UTC)


def in_time_window(t: datetime) -> bool:
    """Whether an aware time lies in ``[EARLIEST_TIME, LATEST_TIME)``."""
    return EARLIEST_TIME <= t < LATEST_TIME


class Kind(StrEnum):
    """What a record reports. The first five are ceasefire violations as the OSCE SMM counted them."""

    EXPLOSION = "explosion"
    PROJECTILE_IN_FLIGHT = "projectile_in_flight"
    MUZZLE_FLASH = "muzzle_flash"
    ILLUMINATION_FLARE = "illumination_flare"
    BURSTS_AND_SHOTS = "bursts_and_shots"
    WEAPON_SIGHTING = "weapon_sighting"
    INFRASTRUCTURE_STRIKE = "infrastructure_strike"
    AIRCRAFT_SIGHTING = "aircraft_sighting"
    FOM_RESTRICTION = "fom_restriction"
    MINE_UXO = "mine_uxo"
    CIVILIAN_CASUALTY = "civilian_casualty"


#: Kinds that are ceasefire violations in the SMM's sense (any fire).
FIRE_KINDS = frozenset({
    Kind.EXPLOSION, Kind.PROJECTILE_IN_FLIGHT, Kind.MUZZLE_FLASH,
    Kind.ILLUMINATION_FLARE, Kind.BURSTS_AND_SHOTS,
})


class ExplosionType(StrEnum):
    """The SMM's explosion subtypes."""

    IMPACT = "impact"
    AIRBURST = "airburst"
    OUTGOING = "outgoing"
    UNDETERMINED = "undetermined"


class SourceKind(StrEnum):
    """Where a record came from."""

    PATROL = "patrol"
    OBSERVATION_POST = "observation_post"
    FIXED_CAMERA = "fixed_camera"
    UAV = "uav"
    ACOUSTIC_SENSOR = "acoustic_sensor"
    SATELLITE_IMAGERY = "satellite_imagery"
    PARTY_ALLEGATION = "party_allegation"
    OPEN_SOURCE = "open_source"
    SENSOR_FUSION = "sensor_fusion"


class TimePrecision(StrEnum):
    """How precisely the time is known: the true time lies in ``[time, time + window)``.

    ``exact`` means to the minute or better; a ``month`` window is the calendar month of
    ``time`` (see :attr:`Report.time_window_s`). ``day``, ``week`` and ``month`` are ACLED's
    ``time_precision`` codes 1, 2 and 3.
    """

    EXACT = "exact"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def window_s(self) -> float:
        return _PRECISION_WINDOW_S[self]


_PRECISION_WINDOW_S = {
    TimePrecision.EXACT: 0.0,
    TimePrecision.HOUR: 3600.0,
    TimePrecision.DAY: 86400.0,
    TimePrecision.WEEK: 7 * 86400.0,
    TimePrecision.MONTH: 30 * 86400.0,
}


class Verdict(StrEnum):
    """A rule's finding on one record."""

    VIOLATION = "violation"
    COMPLIANT = "compliant"
    INDETERMINATE = "indeterminate"


@dataclass(frozen=True, slots=True)
class Location:
    """A located point with its 95 % error ellipse.

    ``azimuth_deg`` is the direction of the major axis, clockwise from true north.
    ``observer`` keeps the original form when a monitor reported a bearing and a
    distance band from their own position; the ellipse is then its moment-matched
    normal approximation.
    """

    lon: float
    lat: float
    semi_major_m: float = 0.0
    semi_minor_m: float = 0.0
    azimuth_deg: float = 0.0
    observer: ObserverFix | None = None

    def __post_init__(self) -> None:
        if not (-180.0 <= self.lon <= 180.0) or not (-90.0 <= self.lat <= 90.0):
            raise ValueError(f"location ({self.lon}, {self.lat}) is outside lon/lat range")
        if self.semi_minor_m < 0 or self.semi_major_m < self.semi_minor_m:
            raise ValueError(
                f"ellipse semi axes must satisfy 0 <= minor <= major, got "
                f"{self.semi_minor_m} and {self.semi_major_m}")

    @classmethod
    def point(cls, lon: float, lat: float, radius_m: float = 0.0) -> Location:
        """A point with a 95 % error circle of ``radius_m``."""
        return cls(lon, lat, radius_m, radius_m, 0.0)

    @property
    def covariance_en_m2(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Covariance in local east/north metres."""
        return ellipse_to_covariance(self.semi_major_m, self.semi_minor_m, self.azimuth_deg)


@dataclass(frozen=True, slots=True)
class ObserverFix:
    """A monitor's report of the form "3-7 km south-west" from where they stood."""

    lon: float
    lat: float
    bearing_deg: float
    bearing_spread_deg: float
    distance_min_m: float
    distance_max_m: float


def ellipse_to_covariance(semi_major_m: float, semi_minor_m: float, azimuth_deg: float
                          ) -> tuple[tuple[float, float], tuple[float, float]]:
    """East/north covariance (m²) of the normal whose 95 % ellipse is given.

    A circle of 95 % radius ``R`` has variance ``(R * SIGMA_PER_R95)²`` east and north, and no
    correlation:

    >>> (cee, cen), (_, cnn) = ellipse_to_covariance(100.0, 100.0, 0.0)
    >>> round(cee, 1), round(cen, 1), round(cnn, 1)
    (1669.0, 0.0, 1669.0)
    """
    a = semi_major_m * SIGMA_PER_R95
    b = semi_minor_m * SIGMA_PER_R95
    az = math.radians(azimuth_deg)
    ue, un = math.sin(az), math.cos(az)  # major axis direction in east/north
    ve, vn = un, -ue
    cee = a * a * ue * ue + b * b * ve * ve
    cnn = a * a * un * un + b * b * vn * vn
    cen = a * a * ue * un + b * b * ve * vn
    return ((cee, cen), (cen, cnn))


def covariance_to_ellipse(cee: float, cen: float, cnn: float) -> tuple[float, float, float]:
    """The 95 % ellipse ``(semi_major_m, semi_minor_m, azimuth_deg)`` of an east/north covariance.

    The inverse of :func:`ellipse_to_covariance`; the azimuth is in ``[0, 180)``:

    >>> (cee, cen), (_, cnn) = ellipse_to_covariance(300.0, 100.0, 30.0)
    >>> [round(v, 6) for v in covariance_to_ellipse(cee, cen, cnn)]
    [300.0, 100.0, 30.0]
    >>> [round(v, 1) for v in covariance_to_ellipse(4000.0, 0.0, 1000.0)]  # wider east than north
    [154.8, 77.4, 90.0]
    """
    tr = cee + cnn
    det_term = math.sqrt(max(((cee - cnn) / 2.0) ** 2 + cen * cen, 0.0))
    l1 = max(tr / 2.0 + det_term, 0.0)
    l2 = max(tr / 2.0 - det_term, 0.0)
    angle = 0.5 * math.atan2(2.0 * cen, cee - cnn)  # from east, counter-clockwise
    azimuth = (90.0 - math.degrees(angle)) % 180.0
    return math.sqrt(l1) / SIGMA_PER_R95, math.sqrt(l2) / SIGMA_PER_R95, azimuth


@dataclass(frozen=True, slots=True)
class Provenance:
    """Who reported a record and when the mission received it."""

    source_kind: SourceKind
    source_id: str
    received_time: datetime | None = None
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """One logged observation. Kind-specific fields are ``None`` where they do not apply.

    ``party`` is the party the observed object belongs to or that the record attributes
    the act to (a weapon's owner, an aircraft's operator), when known. ``origin`` is the
    assessed firing point of an impact, when known (from crater analysis or from fusion).
    ``supersedes`` names the version this one corrects (another record id), and
    ``correction`` says why; the corrected version is kept, and no longer current.
    """

    id: str
    kind: Kind
    time: datetime
    location: Location
    provenance: Provenance
    time_precision: TimePrecision = TimePrecision.EXACT
    explosion_type: ExplosionType | None = None
    weapon_class: str | None = None
    count: int = 1
    in_storage: bool | None = None
    category: str | None = None
    aircraft_type: str | None = None
    party: str | None = None
    origin: Location | None = None
    killed: int | None = None
    injured: int | None = None
    corroborated: bool | None = None
    restriction: str | None = None
    delay_min: float | None = None
    live_fire_exercise: bool = False
    purpose: str | None = None
    description: str = ""
    geo_precision: int | None = None
    engine: str | None = None
    extra: tuple[tuple[str, str], ...] = field(default=())
    supersedes: str | None = None
    correction: str | None = None

    def __post_init__(self) -> None:
        if self.time.tzinfo is None or self.time.utcoffset() != timedelta(0):
            raise ValueError(f"record {self.id!r}: time must be timezone-aware UTC, got {self.time!r}")
        if not in_time_window(self.time):
            raise ValueError(f"record {self.id!r}: time {self.time.isoformat()} is outside "
                             f"[{EARLIEST_TIME.date()}, {LATEST_TIME.date()})")
        if self.supersedes is not None and self.supersedes == self.id:
            raise ValueError(f"record {self.id!r}: a version cannot supersede itself")
        for name in ("count", "killed", "injured"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= MAX_COUNT:
                raise ValueError(f"record {self.id!r}: {name} must be in [0, {MAX_COUNT}], got {value}")

    @property
    def is_fire(self) -> bool:
        return self.kind in FIRE_KINDS

    @property
    def time_window_s(self) -> float:
        """The length of the window the true time lies in; a month is its calendar month."""
        if self.time_precision is TimePrecision.MONTH:
            return calendar.monthrange(self.time.year, self.time.month)[1] * 86400.0
        return self.time_precision.window_s


@dataclass(frozen=True, slots=True)
class Finding:
    """A verdict of one rule on one record, with its probability and the evidence behind it.

    ``probability`` is the probability that the record's true place (and time) lies where
    the rule forbids the act; the verdict follows from it and the agreement's thresholds.
    """

    record_id: str
    rule_id: str
    rule_kind: str
    rule_text: str
    verdict: Verdict
    probability: float
    evidence: tuple[str, ...]
    party: str | None
    explanation: str
