"""Point → grid (网格) geocoding that is exact (PostGIS ``ST_Covers`` semantics) and fast.

:class:`GridIndex` lays a raster over the grids. Each cell is classified once, at build time:

* *empty*: no grid touches or covers it → ``None`` without any test;
* *pure*: exactly one grid covers the whole closed cell and no grid boundary comes near it → that
  grid, by one array lookup;
* *line*: exactly one boundary segment (shared by the grids on its two sides, or the layer's outer
  edge) crosses the cell and no vertex lies in it → one orientation test against that segment picks
  the grid left or right of it. The floating-point sign is used only when it is certain (Shewchuk's
  error bound); a point on or within rounding of the segment goes to the exact test below;
* *boundary*: anything else near a boundary (vertices, several segments, overlapping grids) → its
  few candidate grids are tested exactly with ``shapely.intersects_xy`` (for a point and a polygon
  that is ``covers``: the boundary counts as inside).

A point on a boundary shared by several grids gets the smallest code, as ``MIN(code)`` over a
PostGIS ``ST_Covers`` join would. Interior classification uses an even–odd scanline over all rings,
so holes and multipolygons need no special case; which side of a segment a grid lies on comes from
the ring's orientation (shells counter-clockwise, holes clockwise, as GEOS reports them).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import shapely
from shapely import STRtree

_EPS_CELL = 1e-6        # boundary marking slack in cell units: far above float error, far below a cell
_MAX_CELLS = 1 << 22    # 16 MB of int32 labels: the lookup stays cache-friendly, line cells do the rest
_MIN_CELLS = 1 << 20
_CELLS_PER_GRID = 1024
_RIM = 2                # empty cells around the layer: clamped out-of-range points land there
_CHUNK = 1 << 16        # points per pass of the query pipeline
_MAX_WORKERS = 4        # threads for large queries (never more than the usable cores)
_ORIENT_ERR = 1e-15     # > Shewchuk's ccwerrboundA (3.3e-16): |det| above this × magnitude has a certain sign


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


def _unique(a: np.ndarray) -> np.ndarray:
    """Sorted unique values (NumPy 2.4's hash-based ``np.unique`` is slow on tens of millions of int64)."""
    a = np.sort(a)
    if len(a) == 0:
        return a
    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def _firsts(sorted_values: np.ndarray) -> np.ndarray:
    """Mask of the first element of each run of equal values in a sorted array."""
    first = np.ones(len(sorted_values), dtype=bool)
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=first[1:])
    return first


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
        n = self._n
        self._nline = 0
        self._line = np.zeros((0, 4))
        self._sides = np.zeros((0, 2), dtype=np.int32)
        if n == 0:
            self._x0 = self._y0 = 0.0
            self._inv = 1.0
            self._nx = self._ny = 1
            self._labels = np.zeros(1, dtype=np.int32)
            self._ptr = np.zeros(1, dtype=np.int64)
            self._cand = np.zeros(0, dtype=np.int32)
            return
        w, s, e, nn = shapely.total_bounds(self.geoms)
        target = max_cells or min(_MAX_CELLS, max(_MIN_CELLS, n * _CELLS_PER_GRID))
        width, height = max(e - w, 1e-9), max(nn - s, 1e-9)
        size = max(np.sqrt(width * height / target), max(width, height) / 65536)  # long thin layers stay small
        self._inv = 1.0 / size
        # _RIM cells each side that no grid reaches even with the slack: points clamped there are outside
        self._x0, self._y0 = w - _RIM * size, s - _RIM * size
        self._nx = int(np.ceil(width / size)) + 2 * _RIM + 1
        self._ny = int(np.ceil(height / size)) + 2 * _RIM + 1
        nx = self._nx

        ox0, oy0, ox1, oy1, egid, eleft = self._edges()
        gx0, gy0 = (ox0 - self._x0) * self._inv, (oy0 - self._y0) * self._inv
        gx1, gy1 = (ox1 - self._x0) * self._inv, (oy1 - self._y0) * self._inv
        seg, segs, lmin, rmin, seg_ptr, seg_gid = self._segments(ox0, oy0, ox1, oy1, egid, eleft)
        nseg = len(lmin)
        raw_cell, raw_edge = self._touching(gx0, gy0, gx1, gy1)
        key = _unique(raw_cell * nseg + seg[raw_edge])
        del raw_cell, raw_edge
        pc, ps = key // nseg, key % nseg                   # distinct (cell, segment) pairs, by cell
        first = _firsts(pc)
        ucells, ustart = pc[first], np.flatnonzero(first)
        segs_in_cell = np.diff(np.append(ustart, len(pc)))
        # (cell, grid) pairs: every grid owning a segment that touches the cell
        cnt = seg_ptr[ps + 1] - seg_ptr[ps]
        pos = np.repeat(seg_ptr[ps] - (np.cumsum(cnt) - cnt), cnt) + np.arange(int(cnt.sum()))
        gkey = _unique(np.repeat(pc, cnt) * (n + 1) + seg_gid[pos])
        bcells, bgid = gkey // (n + 1), gkey % (n + 1)
        del key, pc, pos, gkey

        iv_key0, iv_key1, count, total = self._scanline(gx0, gy0, gx1, gy1, egid)
        labels = np.full(self._nx * self._ny, n, dtype=np.int32)
        pure = count == 1
        labels[pure] = total[pure]
        # grids covering a boundary cell's centre without touching it ("hidden"): overlaps, islands
        inside = self._centre_inside(iv_key0, iv_key1, bgid, bcells // nx, bcells % nx)
        where = np.searchsorted(ucells, bcells)
        in_count = np.bincount(where, weights=inside, minlength=len(ucells))
        in_total = np.bincount(where, weights=np.where(inside, bgid, 0), minlength=len(ucells))
        hidden = count[ucells] - np.rint(in_count).astype(np.int64)
        hidden_gid = total[ucells] - np.rint(in_total).astype(np.int64)

        # line cells: one segment, no vertex in the (slack-widened) cell, at most one hidden grid
        s1 = ps[ustart]
        col, row = ucells % nx, ucells // nx
        line = (segs_in_cell == 1) & (hidden >= 0) & (hidden <= 1)
        for sx, sy in ((segs[0], segs[1]), (segs[2], segs[3])):
            px, py = (sx[s1] - self._x0) * self._inv, (sy[s1] - self._y0) * self._inv
            line &= ((px < col - 2 * _EPS_CELL) | (px > col + 1 + 2 * _EPS_CELL)
                     | (py < row - 2 * _EPS_CELL) | (py > row + 1 + 2 * _EPS_CELL))
        hid = np.where(hidden == 1, hidden_gid, n)
        self._nline = int(line.sum())
        ls = s1[line]
        # one row per line cell: a and b − a (lon/lat), and the grid left and right of a→b
        self._line = np.column_stack([segs[0, ls], segs[1, ls], segs[2, ls] - segs[0, ls], segs[3, ls] - segs[1, ls]])
        self._sides = np.column_stack([np.minimum(lmin[ls], hid[line]),
                                       np.minimum(rmin[ls], hid[line])]).astype(np.int32)

        # candidate grids of every special cell, for the exact test
        pairs_cell = [bcells, ucells[hidden == 1]]
        pairs_gid = [bgid, hidden_gid[hidden == 1]]
        mark = np.zeros(len(labels), dtype=bool)
        mark[ucells] = True
        untouched_overlap = np.flatnonzero((count >= 2) & ~mark)   # rare: grids overlapping away from edges
        hard = np.concatenate([ucells[(hidden >= 2) | (hidden < 0)], untouched_overlap])
        if len(hard):
            hc, hg = self._query_cells(hard)
            pairs_cell.append(hc)
            pairs_gid.append(hg)
        special = np.concatenate([ucells[line], ucells[~line], untouched_overlap])
        labels[special] = n + 1 + np.arange(len(special), dtype=np.int32)   # line cells first
        j = labels[np.concatenate(pairs_cell)].astype(np.int64) - (n + 1)
        ckey = _unique(j * (n + 1) + np.concatenate(pairs_gid))
        self._ptr = np.searchsorted(ckey // (n + 1), np.arange(len(special) + 1)).astype(np.int64)
        self._cand = (ckey % (n + 1)).astype(np.int32)
        rim = labels.reshape(self._ny, self._nx)
        assert (rim[[0, -1], :] == n).all() and (rim[:, [0, -1]] == n).all(), "rim cells must stay empty"
        self._labels = labels
        # GEOS builds a prepared polygon's point locator lazily, on its first point test: do it now
        b = shapely.bounds(self.geoms)
        shapely.intersects_xy(self.geoms, (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2)

    def _edges(self):
        """Every non-degenerate ring edge (lon/lat), its grid index and whether the grid lies on its left."""
        parts, part_gid = shapely.get_parts(self.geoms, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        shell = _firsts(ring_part)                       # get_rings lists the exterior first
        left = shapely.is_ccw(rings) == shell            # interior is left of a CCW shell and of a CW hole
        coords, ring_id = shapely.get_coordinates(rings, return_index=True)
        same = ring_id[1:] == ring_id[:-1]
        x0, y0, x1, y1 = coords[:-1, 0][same], coords[:-1, 1][same], coords[1:, 0][same], coords[1:, 1][same]
        rid = ring_id[:-1][same]
        keep = (x0 != x1) | (y0 != y1)
        rid = rid[keep]
        return x0[keep], y0[keep], x1[keep], y1[keep], part_gid[ring_part[rid]], left[rid]

    def _segments(self, x0, y0, x1, y1, gid, left):
        """Merge identical edges (shared by neighbours) into segments ordered a < b.

        Returns each edge's segment id, the segments' (ax, ay, bx, by), the smallest grid left and right
        of each (``n`` if none), and the grids of each segment (CSR ``ptr``, ``gid``).
        """
        n = self._n
        swap = (x0 > x1) | ((x0 == x1) & (y0 > y1))
        ends = np.stack([np.where(swap, x1, x0), np.where(swap, y1, y0), np.where(swap, x0, x1), np.where(swap, y0, y1)])
        on_left = left != swap
        order = np.lexsort(ends[::-1])
        srt = ends[:, order]
        new = np.ones(len(order), dtype=bool)
        new[1:] = (srt[:, 1:] != srt[:, :-1]).any(axis=0)
        seg = np.empty(len(order), dtype=np.int64)
        seg[order] = np.cumsum(new) - 1
        nseg = int(new.sum())
        lmin = np.full(nseg, n, dtype=np.int64)
        rmin = np.full(nseg, n, dtype=np.int64)
        np.minimum.at(lmin, seg[on_left], gid[on_left])
        np.minimum.at(rmin, seg[~on_left], gid[~on_left])
        ptr = np.append(np.flatnonzero(new), len(order))
        return seg, srt[:, new], lmin, rmin, ptr, gid[order].astype(np.int64)

    def _touching(self, x0, y0, x1, y1):
        """(cell, edge) pairs, with repeats, for every cell an edge passes through or near (conservative)."""
        pieces = np.maximum(np.ceil(np.maximum(np.abs(x1 - x0), np.abs(y1 - y0))).astype(np.int64), 1)
        eid = np.repeat(np.arange(len(x0)), pieces)
        k = np.arange(len(eid)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        t0 = k / pieces[eid]
        t1 = (k + 1) / pieces[eid]
        dx, dy = x1 - x0, y1 - y0
        ax, bx = x0[eid] + t0 * dx[eid], x0[eid] + t1 * dx[eid]
        ay, by = y0[eid] + t0 * dy[eid], y0[eid] + t1 * dy[eid]
        c0 = np.floor(np.minimum(ax, bx) - _EPS_CELL).astype(np.int64)
        c1 = np.floor(np.maximum(ax, bx) + _EPS_CELL).astype(np.int64)
        r0 = np.floor(np.minimum(ay, by) - _EPS_CELL).astype(np.int64)
        r1 = np.floor(np.maximum(ay, by) + _EPS_CELL).astype(np.int64)
        cells, edges = [], []
        for dc in range(3):  # a piece spans at most 1 cell + slack, i.e. at most 3 columns and 3 rows
            for dr in range(3):
                ok = (c0 + dc <= c1) & (r0 + dr <= r1)
                cells.append(((r0 + dr) * self._nx + c0 + dc)[ok])
                edges.append(eid[ok])
        return np.concatenate(cells), np.concatenate(edges)

    def _scanline(self, x0, y0, x1, y1, gid):
        """Even–odd fill at cell centres: per-(grid, row) column intervals, and per-cell count/sum of grids."""
        nx, ny = self._nx, self._ny
        lo, hi = np.minimum(y0, y1), np.maximum(y0, y1)
        first = np.ceil(lo - 0.5).astype(np.int64)          # rows whose centre r+0.5 is in [lo, hi)
        last = np.ceil(hi - 0.5).astype(np.int64)
        nrows = np.maximum(last - first, 0)
        eid = np.repeat(np.arange(len(x0)), nrows)
        r = np.repeat(first, nrows) + (np.arange(len(eid)) - np.repeat(np.cumsum(nrows) - nrows, nrows))
        yc = r + 0.5
        xc = x0[eid] + (yc - y0[eid]) * (x1[eid] - x0[eid]) / (y1[eid] - y0[eid])
        g = gid[eid].astype(np.int64)
        order = np.lexsort((xc, r, g))
        g, r, xc = g[order], r[order], xc[order]
        a, b = slice(0, None, 2), slice(1, None, 2)
        ca = np.clip(np.ceil(xc[a] - 0.5), 0, nx).astype(np.int64)   # centre columns with xa <= c+0.5 < xb
        cb = np.clip(np.ceil(xc[b] - 0.5), 0, nx).astype(np.int64)
        gi, ri = g[a], r[a]
        keep = cb > ca
        gi, ri, ca, cb = gi[keep], ri[keep], ca[keep], cb[keep]
        width = nx + 1
        size = ny * width
        starts = ri * width + ca
        ends = ri * width + cb
        count = (np.bincount(starts, minlength=size) - np.bincount(ends, minlength=size)).reshape(ny, width)
        total = (np.bincount(starts, weights=gi, minlength=size)
                 - np.bincount(ends, weights=gi, minlength=size)).reshape(ny, width)
        count = np.cumsum(count, axis=1)[:, :nx].ravel()
        total = np.rint(np.cumsum(total, axis=1)[:, :nx]).astype(np.int64).ravel()
        base = (gi * ny + ri) * width
        return base + ca, base + cb, count, total

    def _centre_inside(self, key0, key1, gid, row, col):
        """Whether each (grid, cell) pair's cell centre lies in that grid's scanline intervals."""
        q = (gid.astype(np.int64) * self._ny + row) * (self._nx + 1) + col
        order = np.argsort(key0, kind="stable")
        k0, k1 = key0[order], key1[order]
        idx = np.searchsorted(k0, q, side="right") - 1
        ok = idx >= 0
        res = np.zeros(len(q), dtype=bool)
        res[ok] = k1[idx[ok]] > q[ok]
        return res

    def _query_cells(self, cells):
        row, col = cells // self._nx, cells % self._nx
        size = 1.0 / self._inv
        slack = _EPS_CELL * size
        boxes = shapely.box(self._x0 + col * size - slack, self._y0 + row * size - slack,
                            self._x0 + (col + 1) * size + slack, self._y0 + (row + 1) * size + slack)
        bi, gi = self._tree.query(boxes, predicate="intersects")
        return cells[bi], gi.astype(np.int64)

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
                out[sp] = self._resolve(xs, ys, sp, out.take(sp) - (n + 1))

    def _resolve(self, x, y, pts, j) -> np.ndarray:
        """Points ``pts`` in special cell ``j``: line cells by one orientation test, the rest exactly."""
        res = np.full(len(pts), -1, dtype=np.int32)
        on_line = j < self._nline
        li = None if on_line.all() else np.flatnonzero(on_line)
        jl = j if li is None else j[li]
        if len(jl):
            p = pts if li is None else pts[li]
            ax, ay, dx, dy = self._line.take(jl, axis=0).T     # 32-byte rows: NumPy's fast take path
            left, right = self._sides.take(jl, axis=0).T
            # orient(a, b, p) = dx·(py − ay) − dy·(px − ax) > 0: p is left of a→b. Each product has two
            # rounded differences, as in Shewchuk's orient2d, so his error bound (3 + 16ε)ε holds.
            u = y.take(p)
            u -= ay
            u *= dx
            v = x.take(p)
            v -= ax
            v *= dy
            det = u - v
            side = np.where(det > 0, left, right)
            np.abs(u, out=u)
            np.abs(v, out=v)
            u += v
            u *= _ORIENT_ERR
            np.abs(det, out=det)
            side[det <= u] = -1                 # on or within rounding of the segment
            if li is None:
                res[:] = side
            else:
                res[li] = side
        rest = np.flatnonzero(res < 0)          # not a line cell, or on/near the segment: decide exactly
        if len(rest):
            res[rest] = self._exact(x, y, pts[rest], j[rest])
        return res

    def _exact(self, x, y, pts, j) -> np.ndarray:
        start, cnt = self._ptr[j], self._ptr[j + 1] - self._ptr[j]
        pt = np.repeat(np.arange(len(pts)), cnt)
        pos = np.repeat(start - (np.cumsum(cnt) - cnt), cnt) + np.arange(len(pt))
        cand = self._cand[pos]
        hit = shapely.intersects_xy(self.geoms[cand], x[pts[pt]], y[pts[pt]])
        # pairs are ordered by point, then by ascending grid index: the first hit is the smallest code
        hp, hc = pt[hit], cand[hit]
        out = np.full(len(pts), self._n, dtype=np.int32)
        first = _firsts(hp)
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
        (pi, gi), dist = self._metric_tree.query_nearest(pts, max_distance=max_m, return_distance=True,
                                                         all_matches=True)
        out = np.full(len(lon), -1, dtype=np.int64)
        ok = dist <= max_m
        pi, gi = pi[ok], gi[ok]
        order = np.lexsort((gi, pi))  # several equally near grids: the smallest code wins
        pi, gi = pi[order], gi[order]
        upi, first = np.unique(pi, return_index=True)
        out[upi] = gi[first]
        return out
