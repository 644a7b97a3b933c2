"""The fusion engine's parameters: one frozen value that every step of the engine reads."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FusionParams"]


@dataclass(frozen=True)
class FusionParams:
    """The fusion engine's parameters (lengths in metres, times in seconds)."""

    temperature_c: float | None = None     # None: the detections' median temperature, else 15 °C
    celerity_jitter: float = 0.002         # per-path relative sound-speed noise
    wind_allowance_m_s: float = 1.0        # unmodelled wind during association, as per-path noise
    estimate_wind: bool = True             # estimate a wind per block and relocate with it
    wind_block_s: float = 3600.0
    wind_min_events: int = 3
    wind_residual_m_s: float = 0.5         # what the estimated wind leaves, as per-path noise
    #: associate again with the hour's estimated wind (engine 2 needed it: fewer fragments of
    #: events whose far arrivals the wind pushed out of its gates; engine 3's wider gate and
    #: trimming give the same F1 and ρ without it, at under half the work)
    reassociate: bool = False
    #: rounds in which every detection goes to the incident that explains it best, and the
    #: incidents are refitted (and dropped if they no longer hold): merged and split events
    reassign_rounds: int = 2
    wind_m_s: tuple[float, float] = (0.0, 0.0)  # the wind (east, north) fits assume
    min_sensors: int = 7                   # distinct sensors with an arrival time
    expected_share: float = 0.5            # of the detections the network should have made
    min_expected: float = 8.0              # where the network hears less, clutter wins: no search
    near_m: float = 4_000.0                # sensors this close to a source hear it nearly always:
    near_silent: int = 1                   # more silent ones than this (and than this share)
    near_silent_share: float = 0.25        # make the incident a ghost
    #: distance at which a sensor hears half the events: a quiet source (for the share test)
    #: and a loud one (for where searching is worth it at all)
    detection_range_m: tuple[float, float] = (8_000.0, 15_000.0)
    #: the association: ``"stack"`` (back-projection, best-first, ghost test by detection
    #: pattern) or ``"windows"`` (the search window by window of engine 2)
    association: str = "stack"
    stack_bin_s: float = 1.0               # origin-time bin of the back-projection
    recount_s: float = 1.6                 # a candidate's support: implied origins this close
    gather_s: float = 2.5                  # a candidate's refinement reads arrivals this close
    gather_sigma: float = 4.0              # gate of the gathering, the fit's covariance included
    trim_quantile: float = 0.995           # a fit's χ² above this quantile: drop its worst
    strong_floor: int = 10                 # first pass: sources heard by this many sensors
    #: later passes, on what is left: their floors, each candidate tested against clutter
    weak_floors: tuple[int, ...] = (7, 5)
    ghost_llr: float = 20.0                # log-likelihood ratio event/clutter to accept
    #: the compiled inner loops (numba; :mod:`linewatch.fusion.kernels`) where numba is
    #: installed, else their numpy twins (the same results)
    compiled: bool = True
    max_range_m: float = 25_000.0          # farthest sensor-source distance considered
    grid_m: float = 1_000.0                # coarse search cell
    window_s: float = 30.0                 # origin-time window of the coarse search
    block_s: float = 600.0                 # time block whose candidates compete best-first
    #: how incidents are released: ``"hour"`` (each engine hour once the detections have come
    #: past it, pairs an hour later: what ``fuse`` and the reprocessing do by default) or
    #: ``"watermark"`` (a step of ``step_s`` as soon as every arrival of its events has come,
    #: revised when a pair or the hour's wind is known: :mod:`linewatch.fusion.watermark`,
    #: what the streaming worker does by default)
    release: str = "hour"
    #: the watermark engine's step (:mod:`linewatch.fusion.watermark`): a block of origin
    #: times released once every arrival of its events has come
    step_s: float = 30.0
    step_overlap_s: float = 30.0           # its candidates up to this far past it compete
    #: candidates up to this far past a block compete too (and hold their detections), so an
    #: event just after the block's end is not carved into wrong fits that the block can keep
    block_overlap_s: float = 60.0
    tile_m: float = 60_000.0               # tile core length along the line
    tile_margin_m: float = 25_000.0        # a tile's sensors reach this far beyond its core
    search_margin_m: float = 15_000.0      # and its search this far (sources that compete)
    gate_sigma: float = 3.5                # outlier gate on whitened residuals
    max_chi2_per_dof: float = 3.0
    projectile_speed_m_s: tuple[float, float] = (150.0, 700.0)
    max_flight_m: float = 45_000.0
    side_threshold: float = 0.95
    #: regions of the line fused on their own (their own tiles, hourly wind and detections
    #: taken), each with ``region_margin_m`` of sensors beyond its core, so the line can be
    #: reprocessed in parallel (docs/reprocess.md); None: the whole line as one region
    region_m: float | None = None
    region_margin_m: float = 40_000.0

    def __post_init__(self) -> None:
        ratio = self.wind_block_s / self.block_s
        if self.block_s <= 0 or ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(f"block_s ({self.block_s!r}) must divide wind_block_s "
                             f"({self.wind_block_s!r})")
        if self.association not in ("stack", "windows"):
            raise ValueError(f"association ({self.association!r}) must be 'stack' or 'windows'")
        if self.release not in ("hour", "watermark"):
            raise ValueError(f"release ({self.release!r}) must be 'hour' or 'watermark'")
        if self.release == "watermark" and self.region_m is not None:
            raise ValueError("region_m is for the hourly release (the reprocessing); the watermark "
                             "engine fuses the line as one region")
        steps = self.wind_block_s / self.step_s if self.step_s > 0 else 0.0
        if self.step_s <= 0 or steps < 1 or abs(steps - round(steps)) > 1e-9:
            raise ValueError(f"step_s ({self.step_s!r}) must divide wind_block_s "
                             f"({self.wind_block_s!r})")
        if 2 * self.tile_margin_m >= self.tile_m:
            raise ValueError(f"tile_margin_m ({self.tile_margin_m!r}) must be under half of "
                             f"tile_m ({self.tile_m!r}): tiles two apart must not overlap")
        if self.region_m is not None and not self.region_m > 0:
            raise ValueError(f"region_m ({self.region_m!r}) must be positive")
        if self.region_margin_m < self.max_range_m:
            raise ValueError(f"region_margin_m ({self.region_margin_m!r}) must be at least "
                             f"max_range_m ({self.max_range_m!r}): every sensor that hears an "
                             "event at a region's edge must be in the region")
