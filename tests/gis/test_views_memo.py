"""The view polygons remembered by content (gis.coverage._sectors): the same answer as building them, never a
stale one when a camera changes, and no caller can change what is remembered."""
from __future__ import annotations

import numpy as np
import shapely

from gis import coverage, viewshed


def _cams(n=50, seed=3):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0, 5000, n), rng.uniform(0, 5000, n), rng.uniform(0, 360, n), rng.uniform(30, 120, n),
            rng.uniform(50, 300, n), rng.random(n) < 0.2)


def test_remembered_views_equal_fresh_ones_and_follow_a_change():
    x, y, az, fov, r, disc = _cams()
    first = coverage._sectors(x, y, az, fov, r, disc)
    again = coverage._sectors(x.copy(), y.copy(), az.copy(), fov.copy(), r.copy(), disc.copy())
    fresh = viewshed.sectors_metric(x, y, az, fov, r, disc)
    assert all(shapely.equals_exact(a, b, 0) for a, b in zip(again, fresh))
    assert again is not first
    az2 = az.copy()
    az2[7] = (az2[7] + 90) % 360  # one camera turned: its polygon changes, the others do not
    turned = coverage._sectors(x, y, az2, fov, r, disc)
    changed = [i for i, (a, b) in enumerate(zip(turned, fresh)) if not shapely.equals_exact(a, b, 0)]
    assert changed == [7]


def test_a_caller_changing_its_array_does_not_change_the_memory():
    x, y, az, fov, r, disc = _cams(seed=4)
    got = coverage._sectors(x, y, az, fov, r, disc)
    keep = got[0]
    got[0] = shapely.Point(0, 0)
    assert shapely.equals_exact(coverage._sectors(x, y, az, fov, r, disc)[0], keep, 0)
