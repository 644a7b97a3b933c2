"""A seeded, realistic day of monitoring reports along an agreement's line (for the demo).

Pure: the same agreement, day and seed give the same records. Records come out in the
canonical dict form that the JSONL format holds (see ``docs/record-formats.md``).

What a day holds: fire (explosions of every subtype, projectiles in flight, muzzle flashes,
illumination flares, bursts and shots) clustered in a few hot stretches and mostly at night,
reported by observation posts the SMM way ("3-7 km south-west"), by cameras, UAVs and
acoustic sensors with ellipses; weapon sightings inside and beyond the withdrawal zones,
in and out of storage; a strike on an energy site; freedom-of-movement restrictions; mines
and UXO; civilian casualties; a few live-fire exercises; and some impacts whose firing
point was assessed. Both parties act alike, so the scenario is impartial by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from linewatch.agreement import Agreement, BufferZoneC, SiteC
from linewatch.geo import GEOD
from linewatch.model import utc_iso

__all__ = ['Post', 'generate_day', 'observation_posts']

_COMPASS = ["north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west"]
_FIRE_KINDS = ["explosion", "bursts_and_shots", "projectile_in_flight", "muzzle_flash",
               "illumination_flare"]
_FIRE_P = [0.45, 0.35, 0.12, 0.04, 0.04]
_EXPLOSION_TYPES = ["impact", "airburst", "outgoing", "undetermined"]
_EXPLOSION_P = [0.2, 0.1, 0.25, 0.45]

#: A record in the canonical dict form of the JSONL format.
Record = dict[str, Any]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Post:
    """A mission observation post, on a party's side of the line."""

    id: str
    lon: float
    lat: float
    party_side: str


class _Line:
    """Points at a chainage and signed offset from the agreement's line (working frame)."""

    def __init__(self, agreement: Agreement) -> None:
        if agreement.line_index is None:
            raise ValueError(f"agreement {agreement.id!r} has no line: the demo scenario needs one")
        self.ag = agreement
        self.li = agreement.line_index
        self.length_m = self.li.length_m

    def at(self, chainage_m: Floats, offset_m: Floats) -> tuple[Floats, Floats]:
        """WGS84 points at a chainage and a signed offset (positive on the left) from the line."""
        li = self.li
        seg = np.clip(np.searchsorted(li.chain0, chainage_m, side="right") - 1, 0, li.n_segments - 1)
        t = np.clip((chainage_m - li.chain0[seg]) / li.geo_len[seg], 0, 1)
        length = np.sqrt(li.len2[seg])
        nx, ny = -li.dy[seg] / length, li.dx[seg] / length
        x = li.ax[seg] + t * li.dx[seg] + nx * offset_m
        y = li.ay[seg] + t * li.dy[seg] + ny * offset_m
        return self.ag.frame.to_lonlat(x, y)

    def sign(self, party: str) -> float:
        """+1 for the party on the line's left, -1 for the other."""
        return 1.0 if self.ag.side_of[party] == "left" else -1.0


def observation_posts(agreement: Agreement, *, spacing_km: float = 20.0) -> list[Post]:
    """Mission posts along the line on both sides, 3-6 km back from it."""
    line = _Line(agreement)
    posts = []
    for p_i, party in enumerate(agreement.party_ids):
        ch = np.arange(spacing_km / 2 + p_i * spacing_km / 2, line.length_m / 1000, spacing_km) * 1000
        back = (3000 + 3000 * ((np.arange(len(ch)) * 7919) % 10) / 10) * line.sign(party)
        lon, lat = line.at(ch, back)
        posts += [Post(f"OP-{party.upper()}-{i + 1:03d}", float(a), float(b), party)
                  for i, (a, b) in enumerate(zip(lon, lat))]
    return posts


def generate_day(agreement: Agreement, day: date, *, seed: int, intensity: float = 1.0) -> list[Record]:
    """The records of one day, sorted by id."""
    rng = np.random.default_rng([seed, day.toordinal()])
    line = _Line(agreement)
    posts = observation_posts(agreement)
    post_lon = np.array([p.lon for p in posts])
    post_lat = np.array([p.lat for p in posts])
    start = datetime.combine(day, time(0), tzinfo=UTC)
    out: list[Record] = []
    out += _fire(rng, agreement, line, posts, post_lon, post_lat, start, day, intensity)
    out += _weapons(rng, agreement, line, start, day, intensity)
    out += _incidents(rng, agreement, line, start, day)
    out.sort(key=lambda r: r["id"])
    return out


def _night_times(rng: np.random.Generator, start: datetime, n: int) -> list[datetime]:
    # most fire at dusk and night: hours weighted towards 17:00-05:00 UTC
    w = np.array([3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 4, 4, 4, 4, 3, 3], float)
    hours = rng.choice(24, size=n, p=w / w.sum())
    secs = hours * 3600 + rng.integers(0, 3600, size=n)
    return [start + timedelta(seconds=int(s)) for s in secs]


def _fire(rng: np.random.Generator, ag: Agreement, line: _Line, posts: list[Post], post_lon: Floats,
          post_lat: Floats, start: datetime, day: date, intensity: float) -> list[Record]:
    n = int(rng.poisson(320 * intensity))
    hot = rng.uniform(0.05, 0.95, size=6) * line.length_m
    from_hot = rng.random(n) < 0.75
    ch = np.where(from_hot, rng.choice(hot, size=n) + rng.normal(0, 15_000, size=n),
                  rng.uniform(0, line.length_m, size=n))
    ch = np.clip(ch, 0, line.length_m)
    shooter = rng.choice(ag.party_ids, size=n)
    kinds = rng.choice(_FIRE_KINDS, size=n, p=_FIRE_P)
    etypes = rng.choice(_EXPLOSION_TYPES, size=n, p=_EXPLOSION_P)
    times = _night_times(rng, start, n)
    out = []
    for i in range(n):
        kind, etype, party = str(kinds[i]), str(etypes[i]), str(shooter[i])
        other = ag.other_party(party)
        # where the thing was seen: the firing position for outgoing fire and muzzle flashes,
        # the receiving side for impacts, either side for the rest
        if kind == "muzzle_flash" or (kind == "explosion" and etype == "outgoing"):
            off = line.sign(party) * rng.uniform(1500, 12000)
        elif kind == "explosion" and etype in ("impact", "airburst"):
            off = line.sign(other) * rng.uniform(300, 8000)
        else:
            off = rng.choice([-1, 1]) * rng.uniform(200, 6000)
        at_lon, at_lat = line.at(np.array([ch[i]]), np.array([off]))
        lon, lat = float(at_lon[0]), float(at_lat[0])
        rec: Record = {"kind": kind, "time": utc_iso(times[i])}
        if kind == "explosion":
            rec["explosion_type"] = etype
        live_fire = kind == "bursts_and_shots" and rng.random() < 0.05
        if live_fire:
            lon, lat = (float(v[0]) for v in line.at(np.array([ch[i]]), np.array(
                [line.sign(party) * rng.uniform(30_000, 45_000)])))
            rec["live_fire_exercise"] = True
            rec["party"] = party
        _observe(rng, rec, lon, lat, posts, post_lon, post_lat, times[i])
        if kind == "explosion" and etype == "impact" and rng.random() < 0.12:
            olon, olat = line.at(np.array([ch[i] + rng.normal(0, 2000)]),
                                 np.array([line.sign(party) * rng.uniform(4000, 15000)]))
            rec["origin"] = {"lon": round(float(olon[0]), 5), "lat": round(float(olat[0]), 5),
                             "radius_m": 2000.0}
        rec["id"] = f"{_prefix(rec['source_kind'])}-{day.isoformat()}-F{i:04d}"
        out.append(rec)
    return out


def _prefix(source_kind: str) -> str:
    return {"observation_post": "op", "patrol": "pt", "fixed_camera": "cam", "uav": "uav",
            "acoustic_sensor": "ac", "open_source": "os"}.get(source_kind, "x")


def _observe(rng: np.random.Generator, rec: Record, lon: float, lat: float, posts: list[Post],
             post_lon: Floats, post_lat: Floats, t: datetime) -> None:
    """Who saw it, and how they reported where."""
    _, _, dist = GEOD.inv(post_lon, post_lat, np.full(len(posts), lon), np.full(len(posts), lat))
    j = int(np.argmin(dist))
    u = rng.random()
    rec["received_time"] = utc_iso(t + timedelta(minutes=int(rng.integers(20, 180))))
    if dist[j] < 9000 and u < 0.6:
        post = posts[j]
        az, _, d = GEOD.inv(post.lon, post.lat, lon, lat)
        word = _COMPASS[int(((az % 360) + 22.5) // 45) % 8]
        d_km = d / 1000
        lo = max(0.0, math.floor(d_km) - 2)
        rec.update(source_kind="observation_post", source_id=post.id,
                   observer_lon=round(post.lon, 5), observer_lat=round(post.lat, 5),
                   direction=word, distance_min_m=lo * 1000, distance_max_m=(lo + 4) * 1000)
    elif u < 0.75:
        rec.update(source_kind="fixed_camera", source_id=f"CAM-{int(rng.integers(1, 13)):02d}",
                   lon=round(lon + rng.normal(0, 0.002), 5), lat=round(lat + rng.normal(0, 0.0015), 5),
                   semi_major_m=600.0, semi_minor_m=250.0, azimuth_deg=float(rng.integers(0, 180)))
    elif u < 0.9:
        rec.update(source_kind="acoustic_sensor", source_id=f"AC-{int(rng.integers(1, 40)):02d}",
                   lon=round(lon + rng.normal(0, 0.001), 5), lat=round(lat + rng.normal(0, 0.0008), 5),
                   radius_m=250.0)
    else:
        rec.update(source_kind="uav", source_id=f"UAV-{int(rng.integers(1, 5))}",
                   lon=round(lon + rng.normal(0, 0.0005), 5), lat=round(lat + rng.normal(0, 0.0004), 5),
                   radius_m=80.0)


def _weapons(rng: np.random.Generator, ag: Agreement, line: _Line, start: datetime, day: date,
             intensity: float) -> list[Record]:
    classes = list(ag.weapon_classes.values())
    if not classes:
        return []
    n = int(rng.poisson(45 * intensity))
    out = []
    for i in range(n):
        w = classes[int(rng.integers(len(classes)))]
        party = str(rng.choice(ag.party_ids))
        zones = [ag.zones[z] for z in w.banned_from]
        widths = [z.width_m.get(party, 0) for z in zones if isinstance(z, BufferZoneC) and z.width_m]
        limit = max(widths) if widths else 20_000
        inside = rng.random() < 0.3
        dist = rng.uniform(2000, limit * 0.9) if inside else rng.uniform(limit * 1.1, limit * 1.1 + 40_000)
        lon, lat = line.at(np.array([rng.uniform(0, line.length_m)]),
                           np.array([line.sign(party) * dist]))
        example = w.examples[int(rng.integers(len(w.examples)))] if w.examples else w.id
        t = start + timedelta(seconds=int(rng.integers(6 * 3600, 18 * 3600)))
        src = "uav" if rng.random() < 0.4 else "patrol"
        out.append({
            "id": f"{_prefix(src)}-{day.isoformat()}-W{i:03d}", "kind": "weapon_sighting",
            "time": utc_iso(t), "lon": round(float(lon[0]), 5), "lat": round(float(lat[0]), 5),
            "radius_m": 100.0 if src == "uav" else 300.0, "source_kind": src,
            "source_id": f"{'UAV' if src == 'uav' else 'PATROL'}-{int(rng.integers(1, 30)):02d}",
            "received_time": utc_iso(t + timedelta(hours=2)), "weapon_class": example,
            "count": int(rng.integers(1, 5)), "party": party,
            "in_storage": bool(not inside and rng.random() < 0.5),
        })
    return out


def _incidents(rng: np.random.Generator, ag: Agreement, line: _Line, start: datetime, day: date) -> list[Record]:
    out: list[Record] = []

    def t(h: int) -> datetime:
        return start + timedelta(hours=h, minutes=int(rng.integers(0, 60)))

    sites = [(z, z.point) for z in ag.zones.values() if isinstance(z, SiteC) and z.point is not None
             and z.category in ("energy", "electricity", "water", "nuclear")]
    if sites:
        site, point = sites[int(rng.integers(len(sites)))]
        when = t(int(rng.integers(0, 5)))
        out.append({"id": f"pt-{day.isoformat()}-S001", "kind": "infrastructure_strike",
                    "time": utc_iso(when), "lon": point[0], "lat": point[1], "radius_m": 400.0,
                    "category": site.category, "source_kind": "patrol", "source_id": "PATROL-07",
                    "received_time": utc_iso(when + timedelta(hours=5)),
                    "description": f"Damage to {site.name} observed; assessed as caused by artillery."})
    def places(n: int, lo: float, hi: float) -> tuple[Floats, Floats]:
        return line.at(rng.uniform(0, line.length_m, n), rng.choice([-1, 1], n) * rng.uniform(lo, hi, n))

    lon, lat = places(3, 1000, 15000)
    what = [("denial", 0.0, "Armed personnel denied passage at a checkpoint."),
            ("delay", 115.0, "Patrol delayed at a checkpoint for 1 hour and 55 minutes."),
            ("uav_jamming", 0.0, "Mid-range UAV experienced GPS signal interference.")]
    for i, (kind, delay, text) in enumerate(what):
        when = t(8 + 2 * i)
        out.append({"id": f"pt-{day.isoformat()}-R{i + 1:03d}", "kind": "fom_restriction",
                    "time": utc_iso(when), "lon": round(float(lon[i]), 5), "lat": round(float(lat[i]), 5),
                    "radius_m": 200.0, "restriction": kind, "delay_min": delay or None,
                    "party": str(ag.party_ids[i % 2]), "source_kind": "patrol",
                    "source_id": f"PATROL-{10 + i:02d}", "received_time": utc_iso(when + timedelta(hours=1)),
                    "description": text})
    lon, lat = places(4, 500, 8000)
    for i in range(4):
        when = t(9 + i)
        out.append({"id": f"pt-{day.isoformat()}-M{i + 1:03d}", "kind": "mine_uxo",
                    "time": utc_iso(when), "lon": round(float(lon[i]), 5), "lat": round(float(lat[i]), 5),
                    "radius_m": 50.0, "source_kind": "patrol", "source_id": f"PATROL-{20 + i:02d}",
                    "received_time": utc_iso(when + timedelta(hours=1)),
                    "description": "Anti-tank mines seen for the first time near the road."})
    lon, lat = places(2, 2000, 12000)
    for i in range(2):
        when = t(12 + i)
        out.append({"id": f"pt-{day.isoformat()}-C{i + 1:03d}", "kind": "civilian_casualty",
                    "time": utc_iso(when), "lon": round(float(lon[i]), 5), "lat": round(float(lat[i]), 5),
                    "radius_m": 1000.0, "killed": int(i == 0), "injured": 1 + i,
                    "corroborated": bool(i == 0), "source_kind": "patrol",
                    "source_id": f"PATROL-{25 + i:02d}", "received_time": utc_iso(when + timedelta(hours=3)),
                    "description": "Hospital staff confirmed a civilian injured by shelling."
                    if i == 0 else "Residents reported a civilian injured; not yet corroborated."})
    return out
