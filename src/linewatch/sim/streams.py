"""The simulator's seeded random streams: one generator per (seed, stream, index).

Streams: ``0`` the layout (clock biases, outages, observers' depth), ``1`` the wind per hour,
``2`` the events and clutter per block, ``3`` the UAV sorties per hour. Each draws from its
own seed sequence, so a run's outcome does not depend on the order in which blocks and hours
are generated.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["BLOCKS", "LAYOUT", "SORTIES", "WIND", "rng_stream", "tnormal"]

LAYOUT, WIND, BLOCKS, SORTIES = range(4)


def rng_stream(seed: int, stream: int, index: int = 0) -> np.random.Generator:
    """The generator of one stream (and block or hour) of a run's seed."""
    return np.random.default_rng(np.random.SeedSequence([seed, stream, index]))


def tnormal(rng: np.random.Generator, n: int, limit: float = 5.0) -> npt.NDArray[np.float64]:
    """Standard normal draws truncated (clipped) at ±``limit``.

    Examples:
        >>> z = tnormal(rng_stream(1, 2), 10_000, limit=2.0)
        >>> float(z.min()), float(z.max())
        (-2.0, 2.0)
    """
    return np.clip(rng.standard_normal(n), -limit, limit)
