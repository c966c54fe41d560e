"""Point → grid (网格) geocoding that is exact (PostGIS ``ST_Covers`` semantics) and fast.

:class:`GridIndex` lays a raster over the grids (built by :mod:`gis._cellcover`). Each cell is
classified once, at build time:

* *empty*: no grid touches or covers it → ``None`` without any test;
* *pure*: exactly one grid covers the whole closed cell and no grid boundary comes near it → that
  grid, by one array lookup;
* *line*: exactly one boundary segment (shared by the grids on its two sides, or the layer's outer
  edge) crosses the cell and no vertex lies in it → the sign of ``a·X + b·Y − c`` (the segment's line
  in cell coordinates) picks the grid left or right of it. The sign is trusted only beyond
  ``LINE_TOL`` (1e-7 cell, 300× the worst rounding error); a point on or that near the segment goes
  to the exact test;
* *boundary*: anything else near a boundary (vertices, several segments, overlapping grids) → split
  into ``SUB`` × ``SUB`` sub-cells classified the same way: a sub-cell no segment comes near holds
  its grid, one crossed by a single segment without a vertex holds that segment's line, and only the
  rest (a vertex, several segments) send their points to the exact test: the cell's few candidate
  grids tested with ``shapely.intersects_xy`` (for a point and a polygon that is ``covers``: the
  boundary counts as inside).

A point on a boundary shared by several grids gets the smallest code, as ``MIN(code)`` over a
PostGIS ``ST_Covers`` join would. Interior classification uses an even–odd scanline over all rings,
so holes and multipolygons need no special case; which side of a segment a grid lies on comes from
the ring's orientation (shells counter-clockwise, holes clockwise, as GEOS reports them); a grid
with an even number of edges on one segment (a zero-width spike, two parts sharing an edge) is the
same on both sides of it.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import shapely
from shapely import STRtree

from gis._cellcover import LINE_TOL, SUB, build_cover, firsts

_CHUNK = 1 << 16        # points per pass of the query pipeline
_MAX_WORKERS = 4        # threads for large queries (never more than the usable cores)


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def default_workers() -> int:
    """Threads :meth:`GridIndex.locate` uses by default: the usable cores, at most ``_MAX_WORKERS``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, _MAX_WORKERS))


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=_MAX_WORKERS, thread_name_prefix="gridindex")
        return _POOL


class GridIndex:
    """An in-memory index of grid polygons (EPSG:4326 lon/lat) answering ``locate(lon, lat)``.

    Build it with :meth:`from_frame` (or the constructor with codes and geometries); it is immutable
    and safe to share between threads.
    """

    def __init__(self, codes, geometries, *, max_cells: int | None = None):
        codes = np.asarray([str(c) for c in codes], dtype=object)
        geoms = np.asarray(geometries, dtype=object)
        keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        codes, geoms = codes[keep], geoms[keep]
        order = np.argsort(codes.astype(str), kind="stable")  # grid index order = code order: min index = min code
        self.codes = codes[order]
        self.geoms = geoms[order].copy()
        self._n = len(self.codes)
        self._code_or_none = np.append(self.codes, np.array([None], dtype=object))  # label n = no grid
        shapely.prepare(self.geoms)
        self._tree = STRtree(self.geoms)
        self._metric_tree = None
        self._build(max_cells)

    @classmethod
    def from_frame(cls, gdf, code: str = "code", **kw) -> "GridIndex":
        """Index a GeoDataFrame of grids (column ``code``; reprojected to EPSG:4326 if needed)."""
        if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
            gdf = gdf.to_crs(4326)
        return cls(gdf[code].to_numpy(), gdf.geometry.to_numpy(), **kw)

    def __len__(self) -> int:
        return self._n

    # -- build ------------------------------------------------------------------------------
    def _build(self, max_cells: int | None) -> None:
        cv = build_cover(self.geoms, self._tree, max_cells)
        self._x0, self._y0, self._inv, self._nx, self._ny = cv.x0, cv.y0, cv.inv, cv.nx, cv.ny
        self._labels, self._nline, self._line = cv.labels, cv.nline, cv.line
        self._ptr, self._cand, self._sub = cv.ptr, cv.cand, cv.sub
        if self._n:
            # GEOS builds a prepared polygon's point locator lazily, on its first point test: do it now
            b = shapely.bounds(self.geoms)
            shapely.intersects_xy(self.geoms, (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2)

    # -- query ------------------------------------------------------------------------------
    def _cell(self, v, origin: float, count: int, buf: np.ndarray, out: np.ndarray) -> None:
        """Raster column (or row) of each coordinate into ``out``; NaN and out-of-range go to the empty rim."""
        np.subtract(v, origin, out=buf)
        lo, hi = buf.min(), buf.max()                    # NaN anywhere makes both NaN: slow path
        with np.errstate(invalid="ignore"):
            if lo >= 0 and hi * self._inv < count - 1:
                # all inside the raster: truncation is floor, cast straight from the product
                np.multiply(buf, self._inv, out=out, casting="unsafe")
            else:
                np.multiply(buf, self._inv, out=buf)
                np.fmax(buf, 0.0, out=buf)               # fmax/fmin turn NaN into the bound
                np.fmin(buf, count - 1, out=buf)
                out[:] = buf

    def _lookup(self, x: np.ndarray, y: np.ndarray, workers: int | None = None) -> np.ndarray:
        """Grid index per point (int32), ``n`` (= ``len(self)``) where no grid covers it."""
        lab = np.empty(len(x), dtype=np.int32)
        chunks = -(-len(x) // _CHUNK)
        workers = max(1, min(default_workers() if workers is None else int(workers), chunks // 2))
        if workers == 1:
            self._lookup_range(x, y, lab, 0, len(x))
            return lab
        # NumPy and GEOS release the GIL in the heavy steps: split the chunks between threads
        edges = [k * chunks // workers * _CHUNK for k in range(workers)] + [len(x)]
        jobs = [_pool().submit(self._lookup_range, x, y, lab, a, b) for a, b in zip(edges[1:-1], edges[2:])]
        self._lookup_range(x, y, lab, edges[0], edges[1])
        for job in jobs:
            job.result()
        return lab

    def _lookup_range(self, x, y, lab, start: int, stop: int) -> None:
        n, nx = self._n, self._nx
        # chunks small enough that the temporaries stay in the CPU cache and are reused, not re-faulted
        m = min(stop - start, _CHUNK)
        buf, col, cell = np.empty(m), np.empty(m, dtype=np.intp), np.empty(m, dtype=np.intp)
        exact_pts, exact_j = [], []
        for i in range(start, stop, _CHUNK):
            xs, ys = x[i:min(i + _CHUNK, stop)], y[i:min(i + _CHUNK, stop)]
            k = len(xs)
            self._cell(ys, self._y0, self._ny, buf[:k], cell[:k])
            self._cell(xs, self._x0, nx, buf[:k], col[:k])
            c = cell[:k]
            c *= nx
            c += col[:k]
            out = lab[i:i + k]
            self._labels.take(c, out=out, mode="clip")   # indices are in range; "clip" skips a buffer
            sp = np.flatnonzero(out > n)
            if len(sp):
                j = out.take(sp)
                j -= n + 1
                res = self._resolve(xs, ys, sp, j)
                out[sp] = res
                miss = np.flatnonzero(res < 0)
                if len(miss):
                    exact_pts.append(sp[miss] + i)
                    exact_j.append(j[miss])
        if exact_pts:    # one GEOS call for the whole range: its fixed cost is paid once
            pts = np.concatenate(exact_pts)
            lab[pts] = self._exact(x, y, pts, np.concatenate(exact_j))

    def _resolve(self, x, y, pts, j) -> np.ndarray:
        """Grid of points ``pts`` in special cell ``j`` (−1: exact test needed; ``j`` is kept).

        Line cells by the side of their segment; boundary cells by their sub-cell: a grid (or none),
        the side of its segment, or the exact test.
        """
        n, nline, sub = self._n, self._nline, SUB
        # cell coordinates, computed exactly as _cell did: the same cell, and its fraction for sub-cells
        fx = x.take(pts)
        fx -= self._x0
        fx *= self._inv
        fy = y.take(pts)
        fy -= self._y0
        fy *= self._inv
        bnd = np.flatnonzero(j >= nline)
        if len(bnd):
            jb = j[bnd]
            bx, by = fx[bnd], fy[bnd]
            sx = ((bx - np.trunc(bx)) * sub).astype(np.intp)    # exact ×2^k of a fraction < 1: 0 … sub − 1
            sy = ((by - np.trunc(by)) * sub).astype(np.intp)
            v = self._sub.take((jb - nline) * (sub * sub) + sy * sub + sx)
            j[bnd] = np.where(v > n, v - (n + 1), 0)   # a line sub-cell's row; row 0 stands in for the rest
        rows = self._line.take(j)
        # the sign of a·X + b·Y − c is the side of the segment unless |·| is within LINE_TOL
        det = rows["a"] * fx
        det += rows["b"] * fy
        det -= rows["c"]
        side = rows["right"].copy()              # np.where on the strided fields is twice as slow
        np.copyto(side, rows["left"], where=det > 0)
        np.abs(det, out=det)
        side[det <= LINE_TOL] = -1              # on or near the segment: decide exactly
        if len(bnd):
            side[bnd] = np.where(v > n, side[bnd], v)  # a grid (or n) of a sub-cell, or −1: a vertex sub-cell
            j[bnd] = jb
        return side

    def _exact(self, x, y, pts, j) -> np.ndarray:
        start, cnt = self._ptr[j], self._ptr[j + 1] - self._ptr[j]
        pt = np.repeat(np.arange(len(pts)), cnt)
        pos = np.repeat(start - (np.cumsum(cnt) - cnt), cnt) + np.arange(len(pt))
        cand = self._cand[pos]
        hit = shapely.intersects_xy(self.geoms[cand], x[pts[pt]], y[pts[pt]])
        # pairs are ordered by point, then by ascending grid index: the first hit is the smallest code
        hp, hc = pt[hit], cand[hit]
        out = np.full(len(pts), self._n, dtype=np.int32)
        first = firsts(hp)
        out[hp[first]] = hc[first]
        return out

    def locate_index(self, lon, lat, *, workers: int | None = None) -> np.ndarray:
        """Index (into ``self.codes``) of the grid covering each point, smallest code on ties; -1 if none."""
        x = np.ascontiguousarray(lon, dtype=float).ravel()
        y = np.ascontiguousarray(lat, dtype=float).ravel()
        lab = self._lookup(x, y, workers).astype(np.int64)
        lab[lab == self._n] = -1
        return lab

    def locate(self, lon, lat, *, snap_m: float | None = None, workers: int | None = None):
        """Grid code covering each point (lon/lat, EPSG:4326), or None outside every grid.

        Parameters
        ----------
        lon, lat : float or array-like
            WGS-84 degrees.
        snap_m : float, optional
            Give a point outside every grid the nearest grid within this many metres (EPSG:4544).
        workers : int, optional
            Threads for large inputs (default: the usable cores, at most 4; 1 = this thread only).
            Answers do not depend on it.

        Returns
        -------
        codes : object ndarray of str or None (a scalar for scalar input)
        snapped : bool ndarray (or bool), only when ``snap_m`` is given: which points were snapped.
        """
        scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
        x = np.atleast_1d(np.asarray(lon, dtype=float))
        y = np.atleast_1d(np.asarray(lat, dtype=float))
        x, y = np.broadcast_arrays(x, y)
        shape = x.shape
        x, y = np.ascontiguousarray(x).ravel(), np.ascontiguousarray(y).ravel()
        lab = self._lookup(x, y, workers)
        snapped = np.zeros(len(lab), dtype=bool)
        if snap_m is not None and snap_m > 0:
            miss = np.flatnonzero((lab == self._n) & np.isfinite(x) & np.isfinite(y))
            if len(miss):
                near = self._nearest(x[miss], y[miss], snap_m)
                got = near >= 0
                lab[miss[got]] = near[got]
                snapped[miss[got]] = True
        codes = self._code_or_none.take(lab).reshape(shape)
        if scalar:
            return (codes[0], bool(snapped[0])) if snap_m is not None else codes[0]
        return (codes, snapped.reshape(shape)) if snap_m is not None else codes

    def _nearest(self, lon, lat, max_m: float) -> np.ndarray:
        from gis.crs import metric_transformer, to_metric

        if self._metric_tree is None:
            self._metric_geoms = to_metric(self.geoms)
            self._metric_tree = STRtree(self._metric_geoms)
        mx, my = metric_transformer().transform(lon, lat)
        pts = shapely.points(mx, my)
        pi, gi = self._metric_tree.query_nearest(pts, max_distance=max_m, all_matches=True)
        out = np.full(len(lon), -1, dtype=np.int64)   # query_nearest keeps only pairs within max_m (inclusive)
        order = np.lexsort((gi, pi))  # several equally near grids: the smallest code wins
        pi, gi = pi[order], gi[order]
        upi, first = np.unique(pi, return_index=True)
        out[upi] = gi[first]
        return out
