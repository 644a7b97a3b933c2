"""The compiled inner loops (numba) and their numpy twins give the same results: the votes of
the back-projection on random geometry and bearings, and whole fusion runs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.test_fusion import AGREEMENT, PAIR, shots

from linewatch.fusion import FusionParams, fuse
from linewatch.fusion.candidates import Geometry
from linewatch.fusion.kernels import compiled_available, stack_votes

pytestmark = pytest.mark.skipif(not compiled_available(), reason="numba is not installed")


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 6), st.integers(0, 60), st.integers(0, 2**31))
def test_compiled_votes_equal_numpys(n_cells, n_sensors, n_det, seed):
    rng = np.random.default_rng(seed)
    r = rng.uniform(0.0, 30_000.0, (n_cells, n_sensors))
    geo = Geometry(np.arange(n_sensors), r / 340.0, r <= 25_000.0,
                   rng.uniform(-np.pi, np.pi, (n_cells, n_sensors)),
                   rng.uniform(0.0, 0.2, (n_cells, n_sensors)))
    t = np.sort(rng.uniform(0.0, 200.0, n_det))
    cols = rng.integers(0, n_sensors, n_det)
    bearing = np.where(rng.random(n_det) < 0.4, rng.uniform(-4.0, 4.0, n_det), np.nan)
    sd = rng.uniform(0.01, 0.3, n_det)
    nb = int(rng.integers(1, 200))
    a = stack_votes(t, cols, bearing, sd, geo, 20.0, 1.0, nb, compiled=True)
    b = stack_votes(t, cols, bearing, sd, geo, 20.0, 1.0, nb, compiled=False)
    assert a.dtype == b.dtype and np.array_equal(a, b)


def test_fusion_is_the_same_with_and_without_the_compiled_loops():
    """A launch, its impact and clutter, arrays with bearings among the sensors: the same
    incidents."""
    sensors, det, _, _ = shots(list(PAIR), clutter=40, seed=3)
    params = FusionParams(temperature_c=15.0)
    a = fuse(sensors, det, agreement=AGREEMENT, params=params)
    b = fuse(sensors, det, agreement=AGREEMENT, params=replace(params, compiled=False))
    assert len(a.incidents) >= 2
    assert [(i.id, i.lon, i.lat, i.time_s) for i in a.incidents] == \
        [(i.id, i.lon, i.lat, i.time_s) for i in b.incidents]
