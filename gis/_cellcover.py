"""Build-time half of :class:`gis.geocode.GridIndex`: the raster cell cover of a grid (网格) layer.

:func:`build_cover` classifies every cell of a raster laid over the grids (lon/lat, EPSG:4326) as
*empty*, *pure*, *line* or *boundary* (see :mod:`gis.geocode`), and splits each boundary cell into
``SUB`` × ``SUB`` sub-cells classified the same way, so that only sub-cells near a vertex (or with
several segments) leave their points to the exact test. Cell coordinates are ``(lon − x0)·inv`` and
``(lat − y0)·inv``: one unit is one cell, the same scale on both axes.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import shapely

_EPS_CELL = 1e-6        # boundary marking slack in cell units: far above float error, far below a cell
_MAX_CELLS = 1 << 22    # 16 MB of int32 labels: the lookup stays cache-friendly, line cells do the rest
_MIN_CELLS = 1 << 20
_CELLS_PER_GRID = 1024
_RIM = 2                # empty cells around the layer: clamped out-of-range points land there
SUB = 4                 # sub-cells per side of a boundary cell (a power of two: u·SUB < SUB exactly)
LINE_TOL = 1e-7         # a line test's sign is certain beyond this (cell units); rounding stays below 3e-10
_CLIP = 1e-2            # segments are clipped to their boundary cell widened by this (sub-cell units)
LINE_DTYPE = np.dtype([("a", "f8"), ("b", "f8"), ("c", "f8"), ("left", "i4"), ("right", "i4")])


def _unique(a: np.ndarray) -> np.ndarray:
    """Sorted unique values (NumPy 2.4's hash-based ``np.unique`` is slow on tens of millions of int64)."""
    a = np.sort(a)
    if len(a) == 0:
        return a
    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def firsts(sorted_values: np.ndarray) -> np.ndarray:
    """Mask of the first element of each run of equal values in a sorted array."""
    first = np.ones(len(sorted_values), dtype=bool)
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=first[1:])
    return first


def _ranges(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs of ``counts[i]`` items: the run of each item and its position in its run."""
    run = np.repeat(np.arange(len(counts)), counts)
    return run, np.arange(len(run)) - np.repeat(np.cumsum(counts) - counts, counts)


def empty_cover() -> SimpleNamespace:
    return SimpleNamespace(x0=0.0, y0=0.0, inv=1.0, nx=1, ny=1, labels=np.zeros(1, dtype=np.int32), nline=0,
                           line=np.zeros(1, dtype=LINE_DTYPE), ptr=np.zeros(1, dtype=np.int64),
                           cand=np.zeros(0, dtype=np.int32), sub=np.zeros(0, dtype=np.int32))


def line_rows(segs, ids, left, right, x0: float, y0: float, inv: float) -> np.ndarray:
    """Segment ``ids`` as lines ``a·X + b·Y = c`` in cell coordinates, with the grid left and right.

    ``(a, b)`` is the left normal ``(−dy, dx)`` of a→b scaled to ``|a| + |b| = 1``, taken from the
    lon/lat differences (the map to cell coordinates is a translation and one positive scale, so it
    keeps directions and sides); ``c`` puts the line through ``a``. For a point in the raster
    (coordinates below 2¹⁶ + 8 cells) ``a·X + b·Y − c`` computed in doubles from the rounded cell
    coordinates differs from the true scaled orientation ``orient(a, b, p)`` by less than 3e-10
    cell; the query trusts its sign only beyond ``LINE_TOL`` (1e-7 cell, a 300× margin).
    """
    ax, ay, bx, by = segs[0, ids], segs[1, ids], segs[2, ids], segs[3, ids]
    dx, dy = bx - ax, by - ay
    norm = np.abs(dx) + np.abs(dy)
    rows = np.empty(len(ids), dtype=LINE_DTYPE)
    rows["a"], rows["b"] = -dy / norm, dx / norm
    rows["c"] = rows["a"] * ((ax - x0) * inv) + rows["b"] * ((ay - y0) * inv)
    rows["left"], rows["right"] = left, right
    return rows



def build_cover(geoms: np.ndarray, tree, max_cells: int | None) -> SimpleNamespace:
    """Classify the raster cells (and boundary sub-cells) of ``geoms``, sorted by code; see the module doc."""
    n = len(geoms)
    if n == 0:
        return empty_cover()
    w, s, e, nn = shapely.total_bounds(geoms)
    target = max_cells or min(_MAX_CELLS, max(_MIN_CELLS, n * _CELLS_PER_GRID))
    width, height = max(e - w, 1e-9), max(nn - s, 1e-9)
    size = max(np.sqrt(width * height / target), max(width, height) / 65536)  # long thin layers stay small
    cv = SimpleNamespace(inv=1.0 / size, x0=w - _RIM * size, y0=s - _RIM * size,
                         nx=int(np.ceil(width / size)) + 2 * _RIM + 1, ny=int(np.ceil(height / size)) + 2 * _RIM + 1)
    nx = cv.nx

    ox0, oy0, ox1, oy1, egid, eleft = _edges(geoms)
    gx0, gy0 = (ox0 - cv.x0) * cv.inv, (oy0 - cv.y0) * cv.inv
    gx1, gy1 = (ox1 - cv.x0) * cv.inv, (oy1 - cv.y0) * cv.inv
    seg, segs, lmin, rmin, seg_ptr, seg_gid, seg_flip = _segments(n, ox0, oy0, ox1, oy1, egid, eleft)
    nseg = len(lmin)
    raw_cell, raw_edge = _touching(gx0, gy0, gx1, gy1, nx)
    key = _unique(raw_cell * nseg + seg[raw_edge])
    del raw_cell, raw_edge
    pc, ps = key // nseg, key % nseg                   # distinct (cell, segment) pairs, by cell
    first = firsts(pc)
    ucells, ustart = pc[first], np.flatnonzero(first)
    segs_in_cell = np.diff(np.append(ustart, len(pc)))
    # (cell, grid) pairs: every grid owning a segment that touches the cell (the exact test's candidates),
    # and those that change across such a segment (the others are the same all over the cell)
    cnt = seg_ptr[ps + 1] - seg_ptr[ps]
    run, k = _ranges(cnt)
    e = seg_ptr[ps[run]] + k
    pair = pc[run] * (n + 1) + seg_gid[e]
    gkey, fkey = _unique(pair), _unique(pair[seg_flip[e]])
    bcells, bgid = gkey // (n + 1), gkey % (n + 1)
    fcells, fgid = fkey // (n + 1), fkey % (n + 1)
    del key, run, k, e, pair, gkey, fkey

    iv_key0, iv_key1, count, total = _scanline(gx0, gy0, gx1, gy1, egid, nx, cv.ny)
    labels = np.full(nx * cv.ny, n, dtype=np.int32)
    pure = count == 1
    labels[pure] = total[pure]
    # grids covering a boundary cell's centre that change across none of its segments ("hidden"):
    # overlaps, islands, a grid around a spike
    inside = _centre_inside(iv_key0, iv_key1, fgid, fcells // nx, fcells % nx, nx, cv.ny)
    where = np.searchsorted(ucells, fcells)
    in_count = np.bincount(where, weights=inside, minlength=len(ucells))
    in_total = np.bincount(where, weights=np.where(inside, fgid, 0), minlength=len(ucells))
    # never negative: a flipping grid whose centre test says inside is one of the intervals counted there
    hidden = count[ucells] - np.rint(in_count).astype(np.int64)
    hidden_gid = total[ucells] - np.rint(in_total).astype(np.int64)

    # line cells: one segment, no vertex in the (slack-widened) cell, at most one hidden grid
    s1 = ps[ustart]
    line = (segs_in_cell == 1) & (hidden <= 1)
    line &= ~_has_vertex(segs, s1, ucells % nx, ucells // nx, cv)
    hid = np.where(hidden == 1, hidden_gid, n)[line]
    ls = s1[line]
    cv.nline = len(ls)
    parent_rows = line_rows(segs, ls, np.minimum(lmin[ls], hid), np.minimum(rmin[ls], hid), cv.x0, cv.y0, cv.inv)

    # candidate grids of every special cell, for the exact test
    pairs_cell = [bcells, ucells[hidden == 1]]
    pairs_gid = [bgid, hidden_gid[hidden == 1]]
    mark = np.zeros(len(labels), dtype=bool)
    mark[ucells] = True
    untouched_overlap = np.flatnonzero((count >= 2) & ~mark)   # rare: grids overlapping away from edges
    hard = np.concatenate([ucells[hidden >= 2], untouched_overlap])
    if len(hard):
        hc, hg = _query_cells(tree, hard, cv)
        pairs_cell.append(hc)
        pairs_gid.append(hg)
    boundary = np.concatenate([ucells[~line], untouched_overlap])
    special = np.concatenate([ucells[line], boundary])
    labels[special] = n + 1 + np.arange(len(special), dtype=np.int32)   # line cells first
    j = labels[np.concatenate(pairs_cell)].astype(np.int64) - (n + 1)
    ckey = _unique(j * (n + 1) + np.concatenate(pairs_gid))
    cv.ptr = np.searchsorted(ckey // (n + 1), np.arange(len(special) + 1)).astype(np.int64)
    cv.cand = (ckey % (n + 1)).astype(np.int32)
    rim = labels.reshape(cv.ny, nx)
    assert (rim[[0, -1], :] == n).all() and (rim[:, [0, -1]] == n).all(), "rim cells must stay empty"
    cv.labels = labels

    # boundary cells' (cell, segment) pairs, numbered by boundary cell
    bmask = ~line[np.searchsorted(ucells, pc)]
    bnum = np.cumsum(~line) - 1
    pb, pbs = bnum[np.searchsorted(ucells, pc[bmask])], ps[bmask]
    sub, sub_rows = _sub_cover(geoms, cv, boundary, pb, pbs, segs, lmin, rmin, seg_ptr, seg_gid, seg_flip,
                               len(parent_rows))
    cv.sub = sub
    # row 0 must exist: the query reads it for points whose result comes from elsewhere
    cv.line = np.concatenate([parent_rows, sub_rows, np.zeros(1, dtype=LINE_DTYPE)])
    return cv


def _has_vertex(segs, ids, col, row, cv) -> np.ndarray:
    """Whether an end of segment ``ids`` lies in cell (col, row) of the raster ``cv``, widened by 2 slacks."""
    out = np.zeros(len(ids), dtype=bool)
    pad = 2 * _EPS_CELL
    for sx, sy in ((segs[0], segs[1]), (segs[2], segs[3])):
        px, py = (sx[ids] - cv.x0) * cv.inv, (sy[ids] - cv.y0) * cv.inv
        out |= (px >= col - pad) & (px <= col + 1 + pad) & (py >= row - pad) & (py <= row + 1 + pad)
    return out


def _sub_cover(geoms, cv, boundary, pb, pbs, segs, lmin, rmin, seg_ptr, seg_gid, seg_flip, line0):
    """Sub-cell labels of the boundary cells and the rows of their line sub-cells.

    Returns ``sub`` (int32, ``SUB²`` per boundary cell, row-major: a grid index, ``n`` for none,
    ``n + 1 + L`` for line row ``L``, −1 for the exact test) and the new line rows (numbered from
    ``line0``). A sub-cell no segment comes near is covered by the same grids everywhere, so its
    centre decides; in a line sub-cell only the segment's own grids change across it.
    """
    n, S = len(geoms), SUB
    nb = len(boundary)
    bcol, brow = boundary % cv.nx, boundary // cv.nx
    # each (boundary cell, segment) pair clipped to the widened cell, in sub-cell units from its corner
    ax = ((segs[0, pbs] - cv.x0) * cv.inv - bcol[pb]) * S
    ay = ((segs[1, pbs] - cv.y0) * cv.inv - brow[pb]) * S
    dx = ((segs[2, pbs] - cv.x0) * cv.inv - bcol[pb]) * S - ax
    dy = ((segs[3, pbs] - cv.y0) * cv.inv - brow[pb]) * S - ay
    t0, t1 = np.zeros(len(ax)), np.ones(len(ax))
    with np.errstate(divide="ignore", invalid="ignore"):
        for a, d in ((ax, dx), (ay, dy)):
            ta, tb = (-_CLIP - a) / d, (S + _CLIP - a) / d
            moving = d != 0
            t0 = np.where(moving, np.maximum(t0, np.minimum(ta, tb)), t0)
            t1 = np.where(moving, np.minimum(t1, np.maximum(ta, tb)), t1)
    keep = t0 <= t1
    pb, pbs, ax, ay, dx, dy, t0, t1 = (v[keep] for v in (pb, pbs, ax, ay, dx, dy, t0, t1))
    cx0, cy0, cx1, cy1 = ax + t0 * dx, ay + t0 * dy, ax + t1 * dx, ay + t1 * dy
    cells, edges = _touching(cx0, cy0, cx1, cy1, S, eps=_EPS_CELL * S, inside=S)
    key = _unique((pb[edges] * S * S + cells) * len(lmin) + pbs[edges])   # (boundary sub-cell, segment)
    psub, pseg = key // len(lmin), key % len(lmin)
    nseg_sub = np.bincount(psub, minlength=nb * S * S)
    one = np.flatnonzero(nseg_sub == 1)
    one_seg = pseg[np.searchsorted(psub, one)]
    b1, r1 = one // (S * S), one % (S * S)
    vertex = _has_vertex(segs, one_seg, bcol[b1] * S + r1 % S, brow[b1] * S + r1 // S,
                         SimpleNamespace(x0=cv.x0, y0=cv.y0, inv=cv.inv * S))
    lsub, lseg = one[~vertex], one_seg[~vertex]
    free = np.flatnonzero(nseg_sub == 0)
    # which candidates of the parent cover each free or line sub-cell's centre (owners of the line excepted)
    tested = np.concatenate([free, lsub])
    tseg = np.concatenate([np.full(len(free), -1), lseg])
    j = cv.nline + tested // (S * S)
    cnt = cv.ptr[j + 1] - cv.ptr[j]
    run, k = _ranges(cnt)
    g = cv.cand[cv.ptr[j[run]] + k].astype(np.int64)
    owners = _unique((np.repeat(np.arange(len(lmin)), np.diff(seg_ptr)) * (n + 1) + seg_gid)[seg_flip])
    q = tseg[run] * (n + 1) + g
    pos = np.minimum(np.searchsorted(owners, q), len(owners) - 1)
    test = (tseg[run] < 0) | (owners[pos] != q)
    run, g = run[test], g[test]
    tb, tr = tested[run] // (S * S), tested[run] % (S * S)
    size = 1.0 / cv.inv
    px = cv.x0 + (bcol[tb] + (tr % S + 0.5) / S) * size
    py = cv.y0 + (brow[tb] + (tr // S + 0.5) / S) * size
    hit = shapely.intersects_xy(geoms[g], px, py)
    cover = np.full(len(tested), n, dtype=np.int64)
    np.minimum.at(cover, run[hit], g[hit])
    sub = np.full(nb * S * S, -1, dtype=np.int32)
    sub[free] = cover[: len(free)]
    lcov = cover[len(free):]
    rows = line_rows(segs, lseg, np.minimum(lmin[lseg], lcov), np.minimum(rmin[lseg], lcov), cv.x0, cv.y0, cv.inv)
    sub[lsub] = n + 1 + line0 + np.arange(len(lsub), dtype=np.int32)
    return sub, rows


def _edges(geoms):
    """Every non-degenerate ring edge (lon/lat), its grid index and whether the grid lies on its left."""
    parts, part_gid = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    shell = firsts(ring_part)                        # get_rings lists the exterior first
    left = shapely.is_ccw(rings) == shell            # interior is left of a CCW shell and of a CW hole
    coords, ring_id = shapely.get_coordinates(rings, return_index=True)
    same = ring_id[1:] == ring_id[:-1]
    x0, y0, x1, y1 = coords[:-1, 0][same], coords[:-1, 1][same], coords[1:, 0][same], coords[1:, 1][same]
    rid = ring_id[:-1][same]
    keep = (x0 != x1) | (y0 != y1)
    rid = rid[keep]
    return x0[keep], y0[keep], x1[keep], y1[keep], part_gid[ring_part[rid]], left[rid]


def _segments(n, x0, y0, x1, y1, gid, left):
    """Merge identical edges (shared by neighbours) into segments ordered a < b.

    Returns each edge's segment id, the segments' (ax, ay, bx, by), the smallest grid left and right
    of each (``n`` if none; only grids that change across it), the grids of each segment (CSR ``ptr``,
    ``gid``: every grid with an edge on it) and ``flip``, aligned with ``gid``: whether that grid changes
    across the segment (the even–odd rule: an odd number of its edges lie on it).
    """
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
    sseg, sgid = seg[order], gid[order].astype(np.int64)
    # a grid changes across a segment only if an odd number of its edges lie on it: the two edges of a
    # zero-width spike (or of two parts sharing an edge) cancel, and that grid is the same on both sides
    ukey, inv, cnt = np.unique(sseg * (n + 1) + sgid, return_inverse=True, return_counts=True)
    net = np.bincount(inv, weights=np.where(on_left[order], 1.0, -1.0), minlength=len(ukey))
    flip = (cnt % 2 == 1)[inv]
    on_l = flip & (net > 0)[inv]
    on_r = flip & ~on_l
    lmin = np.full(nseg, n, dtype=np.int64)
    rmin = np.full(nseg, n, dtype=np.int64)
    np.minimum.at(lmin, sseg[on_l], sgid[on_l])
    np.minimum.at(rmin, sseg[on_r], sgid[on_r])
    ptr = np.append(np.flatnonzero(new), len(order))
    return seg, srt[:, new], lmin, rmin, ptr, sgid, flip


def _touching(x0, y0, x1, y1, nx: int, eps: float = _EPS_CELL, inside: int | None = None):
    """(cell, edge) pairs, with repeats, for every cell an edge passes through or near (conservative).

    With ``inside``, only cells with 0 ≤ column, row < ``inside`` are kept (the sub-cells of one cell).
    """
    pieces = np.maximum(np.ceil(np.maximum(np.abs(x1 - x0), np.abs(y1 - y0))).astype(np.int64), 1)
    eid, k = _ranges(pieces)
    t0 = k / pieces[eid]
    t1 = (k + 1) / pieces[eid]
    dx, dy = x1 - x0, y1 - y0
    ax, bx = x0[eid] + t0 * dx[eid], x0[eid] + t1 * dx[eid]
    ay, by = y0[eid] + t0 * dy[eid], y0[eid] + t1 * dy[eid]
    c0 = np.floor(np.minimum(ax, bx) - eps).astype(np.int64)
    c1 = np.floor(np.maximum(ax, bx) + eps).astype(np.int64)
    r0 = np.floor(np.minimum(ay, by) - eps).astype(np.int64)
    r1 = np.floor(np.maximum(ay, by) + eps).astype(np.int64)
    cells, edges = [], []
    for dc in range(3):  # a piece spans at most 1 cell + slack, i.e. at most 3 columns and 3 rows
        for dr in range(3):
            c, r = c0 + dc, r0 + dr
            ok = (c <= c1) & (r <= r1)
            if inside is not None:
                ok &= (c >= 0) & (c < inside) & (r >= 0) & (r < inside)
            cells.append((r * nx + c)[ok])
            edges.append(eid[ok])
    return np.concatenate(cells), np.concatenate(edges)


def _scanline(x0, y0, x1, y1, gid, nx: int, ny: int):
    """Even–odd fill at cell centres: per-(grid, row) column intervals, and per-cell count/sum of grids."""
    lo, hi = np.minimum(y0, y1), np.maximum(y0, y1)
    first = np.ceil(lo - 0.5).astype(np.int64)          # rows whose centre r+0.5 is in [lo, hi)
    last = np.ceil(hi - 0.5).astype(np.int64)
    eid, k = _ranges(np.maximum(last - first, 0))
    r = first[eid] + k
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


def _centre_inside(key0, key1, gid, row, col, nx: int, ny: int):
    """Whether each (grid, cell) pair's cell centre lies in that grid's scanline intervals."""
    q = (gid.astype(np.int64) * ny + row) * (nx + 1) + col
    order = np.argsort(key0, kind="stable")
    k0, k1 = key0[order], key1[order]
    idx = np.searchsorted(k0, q, side="right") - 1
    ok = idx >= 0
    res = np.zeros(len(q), dtype=bool)
    res[ok] = k1[idx[ok]] > q[ok]
    return res


def _query_cells(tree, cells, cv):
    row, col = cells // cv.nx, cells % cv.nx
    size = 1.0 / cv.inv
    slack = _EPS_CELL * size
    boxes = shapely.box(cv.x0 + col * size - slack, cv.y0 + row * size - slack,
                        cv.x0 + (col + 1) * size + slack, cv.y0 + (row + 1) * size + slack)
    bi, gi = tree.query(boxes, predicate="intersects")
    return cells[bi], gi.astype(np.int64)
