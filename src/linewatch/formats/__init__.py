"""File formats: reading what comes in and writing what goes out, as the docs define them.

Shell. It may import the core packages only (``model``, ``geo``, ``coverage``, ``planning``,
``sim``, ...), never another shell package: the store, the services, the CLI and the web
service call it. Readers turn text into domain objects and never drop a bad row silently: a
good record comes out as :class:`Parsed`, a bad one as :class:`Rejected` (file, line, field,
reason, raw text) for the quarantine; only a file that cannot be read as a whole raises
:class:`~linewatch.errors.InputError`.

The rooms:

- records (``docs/record-formats.md``): :mod:`~linewatch.formats.records` (the canonical
  record, its cross-field checks and content id), :mod:`~linewatch.formats.record_schema` (every
  field typed and bounded), :mod:`~linewatch.formats.lines` (lines read with a size cap, bounded
  excerpts and quotes of bad input), :mod:`~linewatch.formats.record_files` (detect, read,
  write and open a record file), one module per format — :mod:`~linewatch.formats.jsonl`,
  :mod:`~linewatch.formats.csvfmt`, :mod:`~linewatch.formats.geojson`,
  :mod:`~linewatch.formats.acled`;
- allegations (``docs/allegation-formats.md``): :mod:`~linewatch.formats.allegations`;
- sensor data (``docs/fusion-formats.md``): :mod:`~linewatch.formats.sensor_list`,
  :mod:`~linewatch.formats.detections`, :mod:`~linewatch.formats.truth`,
  :mod:`~linewatch.formats.scenario`, gathered in :mod:`~linewatch.formats.sensors`; the
  value checks they share in :mod:`~linewatch.formats.fields`;
- the sensor network (``docs/coverage.md``): :mod:`~linewatch.formats.network`;
- planning inputs (``docs/planning.md``): :mod:`~linewatch.formats.planning`; elevation
  rasters (``docs/terrain.md``): :mod:`~linewatch.formats.dem`;
- the data bundled with the package (borders, settlements): :mod:`~linewatch.formats.resources`.

The record formats' names are imported here directly; the others are loaded from their
modules on first use, so that ``import linewatch.formats`` does not load rasterio or the
simulator.
"""

from __future__ import annotations

from importlib import import_module as _import_module
from typing import TYPE_CHECKING

from linewatch.formats.record_files import FORMATS, detect_format, open_records, read_records, write_records
from linewatch.formats.records import (
    Parsed,
    Rejected,
    content_id,
    parse_direction,
    record_from_dict,
    record_to_dict,
)

if TYPE_CHECKING:
    from linewatch.formats.allegations import (
        ParsedAllegation,
        allegation_from_stored,
        allegation_to_dict,
        is_allegation_header,
        is_allegation_object,
        parse_allegation,
        read_allegations,
    )
    from linewatch.formats.canonical import content_hash, record_from_canonical, stored_json
    from linewatch.formats.dem import read_dem, synthetic_elevation, write_synthetic_dem
    from linewatch.formats.detections import iter_detection_chunks, read_detections, write_detections
    from linewatch.formats.fields import open_text
    from linewatch.formats.network import (
        network_to_dict,
        parse_network,
        read_network,
        write_network,
        write_sim_network,
    )
    from linewatch.formats.planning import read_assets, read_candidates, read_targets
    from linewatch.formats.record_schema import StrictModel
    from linewatch.formats.resources import load_boundaries, load_gazetteer
    from linewatch.formats.scenario import write_scenario
    from linewatch.formats.sensor_list import read_sensors, write_sensors
    from linewatch.formats.truth import read_truth, write_truth

__all__ = [
    # records
    "FORMATS", "Parsed", "Rejected", "content_id", "detect_format", "open_records", "parse_direction",
    "read_records", "record_from_dict", "record_to_dict", "write_records",
    # the canonical form the store keeps
    "StrictModel", "content_hash", "record_from_canonical", "stored_json",
    # allegations
    "ParsedAllegation", "allegation_from_stored", "allegation_to_dict", "is_allegation_header",
    "is_allegation_object", "parse_allegation", "read_allegations",
    # sensor data and the network
    "iter_detection_chunks", "network_to_dict", "open_text", "parse_network", "read_detections",
    "read_network", "read_sensors", "read_truth", "write_detections", "write_network", "write_scenario",
    "write_sensors", "write_sim_network", "write_truth",
    # planning inputs, elevation, bundled data
    "load_boundaries", "load_gazetteer", "read_assets", "read_candidates", "read_dem", "read_targets",
    "synthetic_elevation", "write_synthetic_dem",
]

#: The module each name not imported above is loaded from.
_HOME = {
    **dict.fromkeys(("ParsedAllegation", "allegation_from_stored", "allegation_to_dict",
                     "is_allegation_header", "is_allegation_object", "parse_allegation",
                     "read_allegations"), "allegations"),
    **dict.fromkeys(("content_hash", "record_from_canonical", "stored_json"), "canonical"),
    "StrictModel": "record_schema",
    **dict.fromkeys(("iter_detection_chunks", "read_detections", "write_detections"), "detections"),
    **dict.fromkeys(("read_sensors", "write_sensors"), "sensor_list"),
    **dict.fromkeys(("read_truth", "write_truth"), "truth"),
    "write_scenario": "scenario",
    "open_text": "fields",
    **dict.fromkeys(("network_to_dict", "parse_network", "read_network", "write_network",
                     "write_sim_network"), "network"),
    **dict.fromkeys(("read_assets", "read_candidates", "read_targets"), "planning"),
    **dict.fromkeys(("read_dem", "synthetic_elevation", "write_synthetic_dem"), "dem"),
    **dict.fromkeys(("load_boundaries", "load_gazetteer"), "resources"),
}


def __getattr__(name: str) -> object:
    """Load a public name from its module on first use."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
