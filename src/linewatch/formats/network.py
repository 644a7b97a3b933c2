"""The network file: the sensors with their outages, camera views, UAV flights and patrols.

A JSON document (``docs/coverage.md`` is the contract)::

    {"format": "linewatch-network", "version": 1,
     "sensors": "sensors.csv",
     "outages": [{"sensor_id": "MIC-0003", "start": "2025-06-15T00:00:00Z", "end": null}],
     "camera_views": [{"sensor_id": "CAM-0001", "azimuth_deg": 148.6, "half_fov_deg": 45,
                       "range_m": 8000}],
     "flights": [{"sensor_id": "UAV-0001", "start": "...", "end": "...", "radius_m": 6000}],
     "patrols": [{"patrol_id": "P-01", "track": [{"lon": 37.8, "lat": 48.3, "time": "..."}]}],
     "detectability": [{"asset_kind": "camera", "event_kind": "launch", "p_max": 0.8,
                        "r50_m": 6000, "width_m": 700}]}

``sensors`` is a sensors file (``docs/fusion-formats.md``), relative to the network file.
Times are ISO 8601 with a zone (converted to UTC). Every problem raises
:class:`~linewatch.errors.InputError` naming the file and the field
(``network.json: outages[2].end: ...``); bad rows of the sensors file come back as
:class:`~linewatch.formats.records.Rejected`, as ``read_sensors`` returns them.
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from linewatch.coverage import ASSET_KINDS, COVERAGE_KINDS, CameraView, Detectability, Flight, Network, Outage, Patrol
from linewatch.errors import InputError
from linewatch.formats.fields import open_text
from linewatch.formats.records import Rejected
from linewatch.formats.sensor_list import read_sensors, write_sensors
from linewatch.model import utc_iso
from linewatch.sim import network_from_simulation, simulated_network

__all__ = ["NETWORK_FORMAT", "NETWORK_VERSION", "read_network", "parse_network",
           "network_to_dict", "write_network", "write_sim_network"]

NETWORK_FORMAT = "linewatch-network"
NETWORK_VERSION = 1
_TOP = ("format", "version", "sensors", "outages", "camera_views", "flights", "patrols",
        "detectability")
_ITEM_KEYS = {
    "outages": (("sensor_id", "start", "end"), ("sensor_id",)),
    "camera_views": (("sensor_id", "azimuth_deg", "half_fov_deg", "range_m"),
                     ("sensor_id", "azimuth_deg", "half_fov_deg", "range_m")),
    "flights": (("sensor_id", "start", "end", "radius_m", "track"), ("sensor_id", "start", "end")),
    "patrols": (("patrol_id", "track"), ("patrol_id", "track")),
    "detectability": (("asset_kind", "event_kind", "p_max", "r50_m", "width_m", "basis"),
                      ("asset_kind", "event_kind", "p_max", "r50_m", "width_m")),
}


class _Where:
    """Builds errors that name the file and the field path."""

    def __init__(self, name: str) -> None:
        self.name = name

    def error(self, path: str, what: str) -> InputError:
        return InputError(f"{self.name}: {path}: {what}" if path else f"{self.name}: {what}")

    def obj(self, v: Any, path: str, keys: tuple[str, ...], required: tuple[str, ...]) -> dict:
        if not isinstance(v, dict):
            raise self.error(path, f"expected an object, got {type(v).__name__}")
        unknown = sorted(set(v) - set(keys))
        if unknown:
            raise self.error(f"{path}.{unknown[0]}" if path else unknown[0],
                             f"unknown field (expected {', '.join(keys)})")
        for k in required:
            if v.get(k) is None:
                raise self.error(f"{path}.{k}" if path else k, "is required")
        return v

    def number(self, v: Any, path: str, *, lo: float = -math.inf, hi: float = math.inf,
               lo_open: bool = False) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise self.error(path, f"must be a finite number, got {v!r}")
        if v < lo or v > hi or (lo_open and v == lo):
            raise self.error(path, f"{v!r} is out of range {'(' if lo_open else '['}{lo:g}, {hi:g}]")
        return float(v)

    def string(self, v: Any, path: str) -> str:
        if not isinstance(v, str) or not v or v != v.strip() or len(v) > 200:
            raise self.error(path, f"must be a string of 1-200 characters without surrounding "
                                   f"spaces, got {v!r}")
        return v

    def time(self, v: Any, path: str, *, open_end: float | None = None) -> float:
        if v is None and open_end is not None:
            return open_end
        if not isinstance(v, str):
            raise self.error(path, f"must be an ISO 8601 time with a zone, got {v!r}")
        try:
            dt = datetime.fromisoformat(v.strip())
        except ValueError:
            raise self.error(path, f"{v!r} is not an ISO 8601 date and time") from None
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise self.error(path, f"{v!r} has no time zone; add 'Z' (UTC)")
        return dt.timestamp()

    def items(self, doc: dict, key: str) -> list:
        v = doc.get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            raise self.error(key, f"expected a list, got {type(v).__name__}")
        keys, required = _ITEM_KEYS[key]
        return [self.obj(item, f"{key}[{i}]", keys, required) for i, item in enumerate(v)]

    def track(self, v: Any, path: str) -> tuple[tuple[float, float, float], ...]:
        if not isinstance(v, list) or not v:
            raise self.error(path, "expected a non-empty list of {lon, lat, time} points")
        out: list[tuple[float, float, float]] = []
        for j, pt in enumerate(v):
            p = f"{path}[{j}]"
            self.obj(pt, p, ("lon", "lat", "time"), ("lon", "lat", "time"))
            t = self.time(pt["time"], f"{p}.time")
            if out and t <= out[-1][2]:
                raise self.error(f"{p}.time", f"{pt['time']!r} is not after the previous point's time")
            out.append((self.number(pt["lon"], f"{p}.lon", lo=-180, hi=180),
                        self.number(pt["lat"], f"{p}.lat", lo=-90, hi=90), t))
        return tuple(out)


def read_network(path: str | os.PathLike[str]) -> tuple[Network, list[Rejected]]:
    """A network file and the sensors file it names; the sensors file's rejected rows."""
    name = os.fspath(path)
    with open_text(name) as f:
        try:
            text = f.read()
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_network(text, name=name, base_dir=Path(name).parent)


def parse_network(text: str, *, name: str, base_dir: str | os.PathLike[str] = "."
                  ) -> tuple[Network, list[Rejected]]:
    """A network from the text of a network file; ``sensors`` is read relative to ``base_dir``."""
    w = _Where(name)
    try:
        doc = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}") from None
    w.obj(doc, "", _TOP, ("format", "version", "sensors"))
    if doc["format"] != NETWORK_FORMAT:
        raise w.error("format", f"{doc['format']!r} is not {NETWORK_FORMAT!r}")
    if doc["version"] != NETWORK_VERSION or isinstance(doc["version"], bool):
        raise w.error("version", f"{doc['version']!r} is not supported (expected {NETWORK_VERSION})")
    sensors_path = Path(base_dir) / w.string(doc["sensors"], "sensors")
    if not sensors_path.is_file():
        raise w.error("sensors", f"no such file {os.fspath(sensors_path)!r}")
    with open_text(sensors_path) as f:
        sensors, rejected = read_sensors(f, name=os.fspath(sensors_path))
    parts = _Parts(w, doc, {str(i): str(k) for i, k in zip(sensors.ids, sensors.kind)})
    outages = parts.outages()
    views = parts.camera_views()
    flights = parts.flights()
    patrols = parts.patrols()
    table = parts.detectability()
    try:
        net = Network(sensors, outages, views, flights, patrols, table or None)
    except ValueError as exc:
        raise InputError(f"{name}: {exc}") from None
    return net, rejected


class _Parts:
    """The lists of a network document, checked against its sensors (id to kind)."""

    def __init__(self, w: _Where, doc: dict[str, Any], kinds: dict[str, str]) -> None:
        self.w, self.doc, self.kinds = w, doc, kinds

    def sensor(self, item: dict[str, Any], path: str, kind: str | None = None) -> str:
        """The item's sensor id: a sensor of the sensors file (of ``kind``, if given)."""
        w, kinds = self.w, self.kinds
        sid = w.string(item["sensor_id"], f"{path}.sensor_id")
        if sid not in kinds:
            raise w.error(f"{path}.sensor_id", f"unknown sensor {sid!r} (not in {self.doc['sensors']})")
        if kind is not None and kinds[sid] != kind:
            raise w.error(f"{path}.sensor_id", f"{sid!r} is a {kinds[sid]}, not a {kind}")
        return sid

    def window(self, item: dict[str, Any], path: str, *, open_ends: bool) -> tuple[float, float]:
        """The item's start and end (missing ends open, if ``open_ends``); start before end."""
        w = self.w
        t0 = w.time(item.get("start"), f"{path}.start", open_end=-math.inf if open_ends else None)
        t1 = w.time(item.get("end"), f"{path}.end", open_end=math.inf if open_ends else None)
        if not t0 < t1:
            raise w.error(f"{path}.end", f"{item.get('end')!r} is not after start {item.get('start')!r}")
        return t0, t1

    def outages(self) -> tuple[Outage, ...]:
        out = []
        for i, o in enumerate(self.w.items(self.doc, "outages")):
            p = f"outages[{i}]"
            out.append(Outage(self.sensor(o, p), *self.window(o, p, open_ends=True)))
        return tuple(out)

    def camera_views(self) -> tuple[CameraView, ...]:
        w = self.w
        views, seen = [], set()
        for i, v in enumerate(w.items(self.doc, "camera_views")):
            p = f"camera_views[{i}]"
            sid = self.sensor(v, p, "camera")
            if sid in seen:
                raise w.error(f"{p}.sensor_id", f"a second view for camera {sid!r}")
            seen.add(sid)
            views.append(CameraView(sid, w.number(v["azimuth_deg"], f"{p}.azimuth_deg", lo=0, hi=360),
                                    w.number(v["half_fov_deg"], f"{p}.half_fov_deg", lo=0, hi=180,
                                             lo_open=True),
                                    w.number(v["range_m"], f"{p}.range_m", lo=0, hi=1e6, lo_open=True)))
        return tuple(views)

    def flights(self) -> tuple[Flight, ...]:
        w = self.w
        flights = []
        for i, f in enumerate(w.items(self.doc, "flights")):
            p = f"flights[{i}]"
            sid = self.sensor(f, p, "uav")
            t0, t1 = self.window(f, p, open_ends=False)
            radius = (None if f.get("radius_m") is None
                      else w.number(f["radius_m"], f"{p}.radius_m", lo=0, hi=1e6, lo_open=True))
            track = w.track(f["track"], f"{p}.track") if f.get("track") is not None else ()
            flights.append(Flight(sid, t0, t1, radius, track))
        return tuple(flights)

    def patrols(self) -> tuple[Patrol, ...]:
        w = self.w
        patrols, ids = [], set()
        for i, q in enumerate(w.items(self.doc, "patrols")):
            p = f"patrols[{i}]"
            pid = w.string(q["patrol_id"], f"{p}.patrol_id")
            if pid in self.kinds or pid in ids:
                raise w.error(f"{p}.patrol_id", f"{pid!r} is already a sensor's or a patrol's id")
            ids.add(pid)
            patrols.append(Patrol(pid, w.track(q["track"], f"{p}.track")))
        return tuple(patrols)

    def detectability(self) -> dict[tuple[str, str], Detectability]:
        w = self.w
        table: dict[tuple[str, str], Detectability] = {}
        for i, d in enumerate(w.items(self.doc, "detectability")):
            p = f"detectability[{i}]"
            ak, ek = d["asset_kind"], d["event_kind"]
            if ak not in ASSET_KINDS:
                raise w.error(f"{p}.asset_kind", f"{ak!r} is not one of {', '.join(ASSET_KINDS)}")
            if ek not in COVERAGE_KINDS:
                raise w.error(f"{p}.event_kind", f"{ek!r} is not one of {', '.join(COVERAGE_KINDS)}")
            if (ak, ek) in table:
                raise w.error(p, f"a second entry for ({ak}, {ek})")
            table[ak, ek] = Detectability(
                w.number(d["p_max"], f"{p}.p_max", lo=0, hi=1),
                w.number(d["r50_m"], f"{p}.r50_m", lo=0, hi=1e6),
                w.number(d["width_m"], f"{p}.width_m", lo=0, hi=1e6, lo_open=True),
                w.string(d["basis"], f"{p}.basis") if d.get("basis") is not None else "network file")
        return table


def _time_or_none(t: float) -> str | None:
    return utc_iso(t, timespec="microseconds") if math.isfinite(t) else None


def _track(track: tuple) -> list[dict]:
    return [{"lon": round(lon, 7), "lat": round(lat, 7), "time": _time_or_none(t)} for lon, lat, t in track]


def network_to_dict(network: Network, *, sensors_file: str = "sensors.csv") -> dict[str, Any]:
    """The network file's document (times to the microsecond, positions to 1e-7°)."""
    doc: dict[str, Any] = {"format": NETWORK_FORMAT, "version": NETWORK_VERSION,
                           "sensors": sensors_file}
    doc["outages"] = [{"sensor_id": o.sensor_id, "start": _time_or_none(o.start_s), "end": _time_or_none(o.end_s)}
                      for o in network.outages]
    doc["camera_views"] = [{"sensor_id": v.sensor_id, "azimuth_deg": round(v.azimuth_deg, 4),
                            "half_fov_deg": v.half_fov_deg, "range_m": v.range_m}
                           for v in network.camera_views]
    flights = []
    for f in network.flights:
        item: dict[str, Any] = {"sensor_id": f.sensor_id, "start": _time_or_none(f.start_s),
                                "end": _time_or_none(f.end_s)}
        if f.radius_m is not None:
            item["radius_m"] = f.radius_m
        if f.track:
            item["track"] = _track(f.track)
        flights.append(item)
    doc["flights"] = flights
    doc["patrols"] = [{"patrol_id": p.patrol_id, "track": _track(p.track)} for p in network.patrols]
    if network.detectability:
        doc["detectability"] = [{"asset_kind": a, "event_kind": e, "p_max": d.p_max,
                                 "r50_m": d.r50_m, "width_m": d.width_m, "basis": d.basis}
                                for (a, e), d in sorted(network.detectability.items())]
    return doc


def write_network(network: Network, path: str | os.PathLike[str], *,
                  sensors_file: str = "sensors.csv", write_sensors_file: bool = False) -> Path:
    """Write the network file (and, with ``write_sensors_file``, the sensors CSV it names,
    next to it); returns the network file's path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if write_sensors_file:
        with open(path.parent / sensors_file, "w", encoding="utf-8", newline="") as f:
            write_sensors(network.sensors, f)
    with open(path, "w", encoding="utf-8") as f:
        f.write(_dumps(network_to_dict(network, sensors_file=sensors_file)))
    return path


def _dumps(doc: dict[str, Any]) -> str:
    """JSON with one list item a line (readable, and diffs show what changed)."""
    def one(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False, allow_nan=False)

    lines = []
    for k, v in doc.items():
        if isinstance(v, list) and v:
            body = ",\n".join(f"  {one(item)}" for item in v)
            lines.append(f" {one(k)}: [\n{body}\n ]")
        else:
            lines.append(f" {one(k)}: {one(v)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def write_sim_network(agreement: Any, params: Any, seed: int, out_dir: str | os.PathLike[str]
                      ) -> Path:
    """``network.json`` for a simulated scenario, next to the ``sensors.csv`` that
    ``write_scenario`` writes (the same agreement, parameters and seed); returns its path."""
    net = network_from_simulation(simulated_network(agreement, params, seed=seed))
    return write_network(net, Path(out_dir) / "network.json", sensors_file="sensors.csv")
