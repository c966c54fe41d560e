"""Point → grid (网格) geocoding that is exact (PostGIS ``ST_Covers`` semantics) and fast.

:class:`GridIndex` lays a fine raster over the grids. Each cell is classified once, at build time:

* *empty*: no grid touches or covers it → ``None`` without any test;
* *pure*: exactly one grid covers the whole closed cell and no grid boundary comes near it → that
  grid, by one array lookup;
* *boundary*: a grid boundary passes through (or within 1e-6 cell of) it, or grids overlap there →
  its few candidate grids are tested exactly with ``shapely.intersects_xy`` (which, for a point and a
  polygon, is ``covers``: the boundary counts as inside).

A point on a boundary shared by several grids gets the smallest code, as ``MIN(code)`` over a
PostGIS ``ST_Covers`` join would. Interior classification uses an even–odd scanline over all rings,
so holes and multipolygons need no special case.
"""
from __future__ import annotations

import numpy as np
import shapely
from shapely import STRtree

_EPS_CELL = 1e-6        # boundary marking slack in cell units: far above float error, far below a cell
_MAX_CELLS = 1 << 24    # 64 MB of int32 labels at most
_MIN_CELLS = 1 << 22
_CELLS_PER_GRID = 2048


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
        return len(self.codes)

    # -- build ------------------------------------------------------------------------------
    def _build(self, max_cells: int | None) -> None:
        n = len(self.geoms)
        if n == 0:
            self._x0 = self._y0 = 0.0
            self._inv = 1.0
            self._nx = self._ny = 0
            self._labels = np.zeros(0, dtype=np.int32)
            self._ptr = np.zeros(1, dtype=np.int64)
            self._cand = np.zeros(0, dtype=np.int32)
            return
        w, s, e, nn = shapely.total_bounds(self.geoms)
        target = max_cells or min(_MAX_CELLS, max(_MIN_CELLS, n * _CELLS_PER_GRID))
        width, height = max(e - w, 1e-9), max(nn - s, 1e-9)
        size = np.sqrt(width * height / target)
        self._inv = 1.0 / size
        # one spare cell each side: outer edges and float slack stay inside the raster
        self._x0, self._y0 = w - size, s - size
        self._nx = int(np.ceil(width / size)) + 3
        self._ny = int(np.ceil(height / size)) + 3

        ex0, ey0, ex1, ey1, egid = self._edges()
        bcells, bgid = self._touching(ex0, ey0, ex1, ey1, egid)
        iv_key0, iv_key1, count, total = self._scanline(ex0, ey0, ex1, ey1, egid)

        labels = np.full(self._nx * self._ny, -1, dtype=np.int32)
        pure = count == 1
        labels[pure] = total[pure]
        # cells touched by a boundary: candidates = touching grids + grids covering them from afar
        ucells, first = np.unique(bcells, return_index=True)
        row = bcells // self._nx
        col = bcells % self._nx
        inside = self._centre_inside(iv_key0, iv_key1, bgid, row, col)
        pos = np.searchsorted(ucells, bcells)
        in_count = np.bincount(pos, weights=inside, minlength=len(ucells))
        in_total = np.bincount(pos, weights=np.where(inside, bgid, 0), minlength=len(ucells))
        hidden = count[ucells] - np.rint(in_count).astype(np.int64)
        hidden_gid = total[ucells] - np.rint(in_total).astype(np.int64)
        pairs_cell = [bcells]
        pairs_gid = [bgid.astype(np.int64)]
        one = hidden == 1
        pairs_cell.append(ucells[one])
        pairs_gid.append(hidden_gid[one])
        # rare: several grids overlap over a cell (untouched overlaps, or overlaps at a boundary)
        untouched_overlap = np.flatnonzero(count >= 2)
        untouched_overlap = untouched_overlap[~np.isin(untouched_overlap, ucells)]
        hard = np.concatenate([ucells[(hidden >= 2) | (hidden < 0)], untouched_overlap])
        if len(hard):
            hc, hg = self._query_cells(hard)
            pairs_cell.append(hc)
            pairs_gid.append(hg)
        cells = np.concatenate(pairs_cell)
        gids = np.concatenate(pairs_gid)
        key = np.unique(cells * (len(self.geoms) + 1) + gids)
        cells, gids = key // (len(self.geoms) + 1), key % (len(self.geoms) + 1)
        special, start = np.unique(cells, return_index=True)
        self._ptr = np.append(start, len(cells)).astype(np.int64)
        self._cand = gids.astype(np.int32)
        labels[special] = -2 - np.arange(len(special), dtype=np.int32)
        self._labels = labels

    def _edges(self):
        """All ring edges in cell units, with their grid index."""
        parts, part_gid = shapely.get_parts(self.geoms, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        coords, ring_id = shapely.get_coordinates(rings, return_index=True)
        gx = (coords[:, 0] - self._x0) * self._inv
        gy = (coords[:, 1] - self._y0) * self._inv
        same = ring_id[1:] == ring_id[:-1]
        gid = part_gid[ring_part[ring_id[:-1][same]]]
        return gx[:-1][same], gy[:-1][same], gx[1:][same], gy[1:][same], gid

    def _touching(self, x0, y0, x1, y1, gid):
        """(cell, grid) pairs for every cell a ring edge passes through or near (conservative)."""
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
        pg = gid[eid].astype(np.int64)
        cells, gids = [], []
        for dc in range(3):  # a piece spans at most 1 cell + slack, i.e. at most 3 columns and 3 rows
            for dr in range(3):
                ok = (c0 + dc <= c1) & (r0 + dr <= r1)
                cells.append(((r0 + dr) * self._nx + c0 + dc)[ok])
                gids.append(pg[ok])
        key = np.unique(np.concatenate(cells) * (len(self.geoms) + 1) + np.concatenate(gids))
        return key // (len(self.geoms) + 1), key % (len(self.geoms) + 1)

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
    def locate_index(self, lon, lat) -> np.ndarray:
        """Index (into ``self.codes``) of the grid covering each point, smallest code on ties; -1 if none."""
        x = np.asarray(lon, dtype=float).ravel()
        y = np.asarray(lat, dtype=float).ravel()
        out = np.full(len(x), -1, dtype=np.int64)
        if self._nx == 0 or len(x) == 0:
            return out
        with np.errstate(invalid="ignore"):
            cx = np.floor((x - self._x0) * self._inv)
            cy = np.floor((y - self._y0) * self._inv)
        inr = (cx >= 0) & (cx < self._nx) & (cy >= 0) & (cy < self._ny)
        pidx = np.flatnonzero(inr)
        lab = self._labels[cy[pidx].astype(np.int64) * self._nx + cx[pidx].astype(np.int64)]
        out[pidx] = np.where(lab >= 0, lab, -1)
        bpts = pidx[lab <= -2]
        if len(bpts):
            k = -2 - lab[lab <= -2].astype(np.int64)
            start, n = self._ptr[k], self._ptr[k + 1] - self._ptr[k]
            pt = np.repeat(bpts, n)
            pos = np.repeat(start - (np.cumsum(n) - n), n) + np.arange(len(pt))
            cand = self._cand[pos]
            hit = shapely.intersects_xy(self.geoms[cand], x[pt], y[pt])
            # pairs are ordered by point, then by ascending grid index: the first hit is the smallest code
            hp, hc = pt[hit], cand[hit]
            upt, first = np.unique(hp, return_index=True)
            out[upt] = hc[first]
        return out

    def locate(self, lon, lat, *, snap_m: float | None = None):
        """Grid code covering each point (lon/lat, EPSG:4326), or None outside every grid.

        Parameters
        ----------
        lon, lat : float or array-like
            WGS-84 degrees.
        snap_m : float, optional
            Give a point outside every grid the nearest grid within this many metres (EPSG:4544).

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
        idx = self.locate_index(x, y)
        snapped = np.zeros(len(idx), dtype=bool)
        if snap_m is not None and snap_m > 0:
            miss = np.flatnonzero((idx < 0) & np.isfinite(x.ravel()) & np.isfinite(y.ravel()))
            if len(miss):
                near = self._nearest(x.ravel()[miss], y.ravel()[miss], snap_m)
                got = near >= 0
                idx[miss[got]] = near[got]
                snapped[miss[got]] = True
        codes = np.empty(len(idx), dtype=object)
        codes[idx >= 0] = self.codes[idx[idx >= 0]]
        codes = codes.reshape(shape)
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
