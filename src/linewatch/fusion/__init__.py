"""Fusion: raw detections into located incidents with honest uncertainty, launches paired
with impacts, and the side of the line the fire came from.

Core: imports ``model``, ``geo`` and ``errors``; an agreement (``linewatch.agreement.Agreement``)
is passed in and named in type annotations only. Pure: no files, no clock, no printing.

The modules, in the order the data flows through them:

* ``params``: :class:`FusionParams`, every knob of the engine.
* ``estimation``: measurement models, Fisher information and the Cramér–Rao bound,
  Levenberg–Marquardt, the wind common to located events.
* ``columns``: detections and sensors as columns in the working frame.
* ``fitting``: locating a given group (grid start, robust maximum likelihood).
* ``stacking``, ``search``, ``ghosts``, ``association``: one tile and time block, from the
  candidates by back-projection through the best-first search to the test of each incident
  against clutter (``candidates`` and ``refinement``: engine 2's window search).
* ``locating``: the hour's wind, the incident records; locating known groups (the oracle).
* ``layout``: the frame, position along the line, the tiles.
* ``region_engine``: one region's engine, an hour at a time, with flat memory.
* ``regions``: the line cut into regions, and their incidents reconciled at the seams.
* ``pairing``: launches paired with impacts, and attributed a side.
* ``engine``: the entry points :func:`fuse` and :func:`fuse_chunks`.
* ``watermark``: the engine on a watermark: incidents out within two minutes, revised with
  their pair and the hour's wind, resumable from a snapshot.
* ``reprocess``: a reprocessing run cut into partitions of region and time.
* ``latency`` and ``metrics``: streaming latency as data, and scores against a truth.
"""

from __future__ import annotations

from linewatch.fusion.association import BlockTask, associate_block, reassign, run_block
from linewatch.fusion.candidates import TileGrid, tile_grid
from linewatch.fusion.columns import Prepared, prepare, sound_speed_for
from linewatch.fusion.engine import ENGINE_VERSION, FusedHour, FusionResult, engine_label, fuse, fuse_chunks
from linewatch.fusion.estimation import (
    Measurements,
    chan_ho,
    crlb_position,
    estimate_wind,
    fisher_information,
    gauss_newton,
    jacobian_rows,
    per_detection_chi2,
    position_covariance,
    residuals,
    toa_sd,
    travel_time,
)
from linewatch.fusion.fitting import Fit, fit_rows, grid_start, n_meas, one_per_sensor
from linewatch.fusion.latency import (
    FIELDS,
    IncidentLatency,
    drain_floor,
    incident_latency,
    percentiles,
    replay_from,
    summarize,
)
from linewatch.fusion.layout import pairing_layout
from linewatch.fusion.locating import locate_group, locate_groups, measurements_for
from linewatch.fusion.metrics import (
    CHI2_95_2D,
    AssociationScores,
    LocalizationScores,
    Scores,
    SideScores,
    association_scores,
    crlb_trace_at,
    error_statistics,
    heard_by,
    localization_scores,
    match_events,
    offsets_en_m,
    pool_scores,
    score_incidents,
    side_scores,
    truth_detection_sets,
)
from linewatch.fusion.pairing import Pairer, attribute
from linewatch.fusion.params import FusionParams
from linewatch.fusion.region_engine import EngineState, HourOutput, RegionEngine
from linewatch.fusion.regions import Combined, Combiner, Region, RegionSetup, plan_regions, reconcile_seams
from linewatch.fusion.reprocess import (
    PartitionResult,
    PartitionSpec,
    Reprocessed,
    Settled,
    Window,
    assemble,
    plan_partitions,
    plan_windows,
    reach_s,
    region_chunks,
    rerun_spec,
    run_partition,
    settle,
)
from linewatch.fusion.watermark import Release, Snapshot, WatermarkEngine, final_versions, fuse_watermark

__all__ = [
    "AssociationScores",
    "BlockTask",
    "CHI2_95_2D",
    "Combined",
    "Combiner",
    "ENGINE_VERSION",
    "EngineState",
    "FIELDS",
    "Fit",
    "FusedHour",
    "FusionParams",
    "FusionResult",
    "HourOutput",
    "IncidentLatency",
    "LocalizationScores",
    "Measurements",
    "Pairer",
    "PartitionResult",
    "PartitionSpec",
    "Prepared",
    "Region",
    "RegionEngine",
    "RegionSetup",
    "Release",
    "Reprocessed",
    "Scores",
    "Settled",
    "SideScores",
    "Snapshot",
    "TileGrid",
    "WatermarkEngine",
    "Window",
    "assemble",
    "associate_block",
    "association_scores",
    "attribute",
    "chan_ho",
    "crlb_position",
    "crlb_trace_at",
    "drain_floor",
    "engine_label",
    "error_statistics",
    "estimate_wind",
    "final_versions",
    "fisher_information",
    "fit_rows",
    "fuse",
    "fuse_chunks",
    "fuse_watermark",
    "gauss_newton",
    "grid_start",
    "heard_by",
    "incident_latency",
    "jacobian_rows",
    "localization_scores",
    "locate_group",
    "locate_groups",
    "match_events",
    "measurements_for",
    "n_meas",
    "offsets_en_m",
    "one_per_sensor",
    "pairing_layout",
    "per_detection_chi2",
    "percentiles",
    "plan_partitions",
    "plan_regions",
    "plan_windows",
    "pool_scores",
    "position_covariance",
    "prepare",
    "reach_s",
    "reassign",
    "reconcile_seams",
    "region_chunks",
    "replay_from",
    "rerun_spec",
    "residuals",
    "run_block",
    "run_partition",
    "score_incidents",
    "settle",
    "side_scores",
    "sound_speed_for",
    "summarize",
    "tile_grid",
    "toa_sd",
    "travel_time",
    "truth_detection_sets",
]
