"""Camera placement planning (点位规划): where K new cameras cover the most demand, and how many new
cameras reach a target coverage.

New sites are modelled as domes (球机) seeing a disc of ``range_m`` around them: a demand point is
covered by a candidate site within ``range_m`` (EPSG:4544 metres). The maximal covering location
problem (MCLP) and the set covering problem (LSCP) are PySAL spopt's models (``spopt.locate.MCLP`` /
``LSCP``, which the tests use as the oracle) written in PuLP directly and solved exactly by PuLP's
bundled CBC.

Before the model is built the instance is reduced without changing its optimum: demand already
inside ``existing`` coverage is dropped (it counts as covered before and after), demand no candidate
reaches is dropped (no choice changes it), demand points covered by the same set of candidates are
merged (weights summed), and candidates covering the same set of demand are merged (the first kept).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pulp
import shapely

from gis.crs import METRIC_CRS, STORAGE_CRS
from gis.errors import InvalidData

#: view range (m) of a new dome camera, the default coverage radius of a site
DEFAULT_SITE_RANGE_M = 100.0
#: crossings closer than this (m) are one intersection (roads drawn with small gaps or overlaps)
INTERSECTION_SNAP_M = 1.0


@dataclass
class PlanResult:
    """Chosen sites and the demand they add.

    ``sites`` (GeoDataFrame, EPSG:4326) has one row per chosen site in *greedy order of the optimal
    set*: ``rank`` (1…k), ``candidate`` (the candidate's index label), ``gain`` (demand weight it
    adds given the sites ranked before it), ``cumulative`` (new demand covered by sites 1…rank) and
    ``share`` (fraction of all demand covered, existing coverage included, after sites 1…rank), plus
    ``<code>`` of the area holding it when areas were given. The ranking is not the optimum for
    each smaller k; the set as a whole is optimal for k.
    """

    sites: gpd.GeoDataFrame
    k: int
    total_demand: float
    existing_demand: float
    new_demand: float
    coverable_demand: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def share_before(self) -> float:
        return self.existing_demand / self.total_demand if self.total_demand > 0 else float("nan")

    @property
    def share_after(self) -> float:
        return (self.existing_demand + self.new_demand) / self.total_demand if self.total_demand > 0 else float("nan")


def _metric_points(frame) -> np.ndarray:
    geo = gpd.GeoSeries(frame.geometry if hasattr(frame, "geometry") else frame)
    if geo.crs is None:
        geo = geo.set_crs(STORAGE_CRS)
    return geo.to_crs(METRIC_CRS).to_numpy()


def road_intersections(roads: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Road intersections (路口): points where two or more road lines meet or cross, EPSG:4326.

    Shared end points and crossings in the middle of lines both count (the demo's roads are not split at
    crossings); points within ``INTERSECTION_SNAP_M`` are merged. Returns a GeoDataFrame with ``roads``
    (how many road pairs meet there).
    """
    lines = _metric_points(roads)
    if len(lines) < 2:
        return gpd.GeoDataFrame({"roads": []}, geometry=[], crs=STORAGE_CRS)
    a, b = shapely.STRtree(lines).query(lines, predicate="intersects")
    keep = a < b
    inter = shapely.intersection(lines[a[keep]], lines[b[keep]])
    parts = shapely.get_parts(inter)
    parts = parts[shapely.get_type_id(parts) == 0]  # points only: collinear overlaps are not crossings
    xy = shapely.get_coordinates(parts)
    if not len(xy):
        return gpd.GeoDataFrame({"roads": []}, geometry=[], crs=STORAGE_CRS)
    snapped = np.round(xy / INTERSECTION_SNAP_M).astype(np.int64)
    uniq, first, count = np.unique(snapped, axis=0, return_index=True, return_counts=True)
    order = np.sort(first)  # keep input order, deterministic
    counts = dict(zip(map(tuple, snapped[first]), count))
    pts = xy[order]
    return gpd.GeoDataFrame({"roads": [int(counts[tuple(s)]) for s in snapped[order]]},
                            geometry=shapely.points(pts), crs=METRIC_CRS).to_crs(STORAGE_CRS)


def area_demand(areas: gpd.GeoDataFrame, *, cell_m: float = 50.0, existing: gpd.GeoSeries | None = None
                ) -> gpd.GeoDataFrame:
    """Uncovered area as demand: centres of ``cell_m`` square cells (EPSG:4544 lattice) inside ``areas``
    and outside ``existing`` coverage, each with ``weight`` = cell area (m²). EPSG:4326 points."""
    targets = _metric_points(areas)
    if not len(targets):
        return gpd.GeoDataFrame({"weight": []}, geometry=[], crs=STORAGE_CRS)
    x0, y0, x1, y1 = shapely.total_bounds(targets)
    xs = np.arange(np.floor(x0 / cell_m), np.ceil(x1 / cell_m)) * cell_m + cell_m / 2
    ys = np.arange(np.floor(y0 / cell_m), np.ceil(y1 / cell_m)) * cell_m + cell_m / 2
    gx, gy = np.meshgrid(xs, ys)
    pts = shapely.points(gx.ravel(), gy.ravel())
    inside = np.zeros(len(pts), dtype=bool)
    inside[shapely.STRtree(targets).query(pts, predicate="intersects")[0]] = True
    if existing is not None and len(existing):
        cov = _metric_points(existing)
        inside[shapely.STRtree(cov).query(pts, predicate="intersects")[0]] = False
    return gpd.GeoDataFrame({"weight": np.full(int(inside.sum()), cell_m * cell_m)}, geometry=pts[inside],
                            crs=METRIC_CRS).to_crs(STORAGE_CRS)


@dataclass
class _Instance:
    """The reduced covering instance: ``cover[i]`` = sorted candidate columns covering demand row i."""

    weights: np.ndarray          # per merged demand row
    members: list[np.ndarray]    # per merged candidate column: original candidate positions
    pairs: tuple[np.ndarray, np.ndarray]  # (demand row, candidate column)
    total: float
    existing: float


def _groups(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, list[bytes]]:
    """(distinct keys ascending, the sorted ``values`` of each as bytes): the set each key maps to, as a
    hashable signature, without a pandas group per key (that was most of the time of a plan)."""
    order = np.lexsort((values, keys))
    k, v = keys[order], values[order]
    uniq, starts = np.unique(k, return_index=True)
    return uniq, [part.tobytes() for part in np.split(v, starts[1:])] if len(k) else []


def _instance(candidates, demand, range_m, existing, weight) -> _Instance:
    if weight not in demand.columns:
        raise InvalidData(f"demand has no {weight!r} column; give each demand point a weight")
    w = pd.to_numeric(demand[weight], errors="coerce").to_numpy(dtype=float)
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise InvalidData(f"demand {weight!r}: every weight must be a number ≥ 0")
    dem = _metric_points(demand)
    cand = _metric_points(candidates)
    open_ = w > 0
    if existing is not None and len(existing):
        hit = shapely.STRtree(_metric_points(existing)).query(dem, predicate="intersects")[0]
        open_[hit] = False
    total, already = float(w.sum()), float(w[~open_].sum())
    d_i, c_j = shapely.STRtree(cand).query(dem, predicate="dwithin", distance=range_m) if len(cand) and len(dem) \
        else (np.array([], int), np.array([], int))
    keep = open_[d_i]
    d_i, c_j = d_i[keep].astype(np.int64), c_j[keep].astype(np.int64)
    # merge candidates with the same demand set (the first, lowest position, stands for them) ...
    cands, sigs = _groups(c_j, d_i)
    col_of_sig: dict[bytes, int] = {}
    members: list[list[int]] = []
    col_of_cand = np.empty(len(cands), dtype=np.int64)
    for n, (cj, sig) in enumerate(zip(cands.tolist(), sigs)):
        col = col_of_sig.setdefault(sig, len(members))
        if col == len(members):
            members.append([])
        members[col].append(cj)
        col_of_cand[n] = col
    first_member = np.array([m[0] for m in members], dtype=np.int64)
    c_col = col_of_cand[np.searchsorted(cands, c_j)]
    uniq = first_member[c_col] == c_j  # one pair per (demand, merged column)
    d_i, c_col = d_i[uniq], c_col[uniq]
    # ... then demand rows covered by the same columns (their weights summed)
    dems, dsigs = _groups(d_i, c_col)
    row_of_sig: dict[bytes, int] = {}
    row_w: list[float] = []
    rows, cols = [], []
    for di, sig in zip(dems.tolist(), dsigs):
        row = row_of_sig.get(sig)
        if row is None:
            row = row_of_sig[sig] = len(row_w)
            row_w.append(0.0)
            sig_cols = np.frombuffer(sig, dtype=np.int64)
            rows.append(np.full(len(sig_cols), row, dtype=np.int64))
            cols.append(sig_cols)
        row_w[row] += w[di]
    pairs = (np.concatenate(rows), np.concatenate(cols)) if rows else (np.array([], int), np.array([], int))
    return _Instance(np.array(row_w), [np.array(m) for m in members], pairs, total, already)


def _covering_rows(inst: _Instance) -> list[np.ndarray]:
    """For each demand row, the candidate columns that cover it."""
    rows, cols = inst.pairs
    order = np.argsort(rows, kind="stable")
    return np.split(cols[order], np.searchsorted(rows[order], np.arange(1, len(inst.weights))))


def _binaries(prefix: str, n: int) -> list[pulp.LpVariable]:
    return [pulp.LpVariable(f"{prefix}[{i}]", lowBound=0, upBound=1, cat=pulp.LpInteger) for i in range(n)]


def _mclp(inst: _Instance, k: int) -> tuple[pulp.LpProblem, list]:
    """The maximal covering location problem (Church & ReVelle 1974) on the reduced instance: maximise
    Σ wᵢ yᵢ subject to yᵢ ≤ Σ_{j covers i} xⱼ and Σ xⱼ = k, x and y binary.

    The same model, variables and constraints as spopt's ``MCLP`` (tests compare the two), written in
    PuLP directly: importing spopt (libpysal, pointpats) took 3–4 s in every new worker process, more
    than the rest of a plan, and its ``from_cost_matrix`` writes a term per (demand, candidate) pair of
    a dense matrix.
    """
    prob = pulp.LpProblem("gridwatch_mclp", pulp.LpMaximize)
    x, y = _binaries("x", len(inst.members)), _binaries("y", len(inst.weights))
    prob += pulp.LpAffineExpression(zip(y, map(float, inst.weights)))
    for i, cols in enumerate(_covering_rows(inst)):
        prob += pulp.LpAffineExpression([(x[j], 1) for j in cols] + [(y[i], -1)]) >= 0
    prob += pulp.lpSum(x) == k
    return prob, x


def _lscp(inst: _Instance) -> tuple[pulp.LpProblem, list]:
    """The location set covering problem (cover every demand row with the fewest sites), as spopt's
    ``LSCP`` writes it, in PuLP directly (see :func:`_mclp`)."""
    prob = pulp.LpProblem("gridwatch_lscp", pulp.LpMinimize)
    x = _binaries("x", len(inst.members))
    prob += pulp.lpSum(x)
    for cols in _covering_rows(inst):
        prob += pulp.LpAffineExpression([(x[j], 1) for j in cols]) >= 1
    return prob, x


def _chosen(model) -> np.ndarray:
    prob, x = model
    prob.solve(pulp.PULP_CBC_CMD(msg=False))
    return np.array([j for j, v in enumerate(x) if v.value() is not None and v.value() > 0.5], int)


def _solve_mclp(inst: _Instance, k: int) -> np.ndarray:
    """Columns chosen by the MCLP for ``k`` sites (all columns when k ≥ their number)."""
    if k >= len(inst.members):
        return np.arange(len(inst.members))
    return _chosen(_mclp(inst, k))


def _covered_weight(inst: _Instance, chosen: np.ndarray) -> float:
    rows = np.unique(inst.pairs[0][np.isin(inst.pairs[1], chosen)])
    return float(inst.weights[rows].sum())


def _greedy_order(inst: _Instance, chosen: np.ndarray) -> tuple[list[int], list[float]]:
    """Order the chosen columns by the demand each adds to those before it (ties: column order)."""
    rows_of = {c: set(inst.pairs[0][inst.pairs[1] == c]) for c in chosen}
    covered: set[int] = set()
    order, gains = [], []
    left = list(chosen)
    while left:
        gains_now = [sum(inst.weights[r] for r in rows_of[c] - covered) for c in left]
        best = int(np.argmax(gains_now))
        order.append(left[best])
        gains.append(float(gains_now[best]))
        covered |= rows_of[left.pop(best)]
    return order, gains


def _result(candidates, inst: _Instance, chosen, k, areas, code) -> PlanResult:
    order, gains = _greedy_order(inst, chosen)
    pos = [int(inst.members[c][0]) for c in order]
    cum = np.cumsum(gains) if gains else np.array([])
    sites = gpd.GeoDataFrame({"rank": np.arange(1, len(pos) + 1), "candidate": candidates.index[pos].to_numpy(),
                              "gain": np.asarray(gains, float), "cumulative": cum,
                              "share": (inst.existing + cum) / inst.total if inst.total > 0 else np.nan},
                             geometry=gpd.GeoSeries(candidates.geometry.iloc[pos].to_numpy(),
                                                    crs=candidates.crs or STORAGE_CRS).to_crs(STORAGE_CRS).to_numpy(),
                             crs=STORAGE_CRS)
    if areas is not None and len(sites):
        tree = shapely.STRtree(_metric_points(areas))
        s_i, a_i = tree.query(_metric_points(sites), predicate="intersects")
        label = np.full(len(sites), None, dtype=object)
        label[s_i[::-1]] = areas[code].astype(str).to_numpy()[a_i[::-1]]  # first area wins
        sites[code] = label
    notes = []
    if len(pos) < k:
        notes.append(f"only {len(pos)} candidate site(s) add any demand; fewer than the {k} asked for")
    return PlanResult(sites, k, inst.total, inst.existing, float(cum[-1]) if len(cum) else 0.0,
                      float(inst.weights.sum()), notes)


def plan_sites(candidates: gpd.GeoDataFrame, demand: gpd.GeoDataFrame, k: int, *,
               range_m: float = DEFAULT_SITE_RANGE_M, existing: gpd.GeoSeries | None = None, weight: str = "weight",
               areas: gpd.GeoDataFrame | None = None, code: str = "code") -> PlanResult:
    """Choose ``k`` new sites among ``candidates`` that cover the most demand weight (MCLP, CBC).

    Parameters
    ----------
    candidates : GeoDataFrame
        Candidate sites (points, any CRS), e.g. :func:`road_intersections`.
    demand : GeoDataFrame
        Demand points with a ``weight`` column (≥ 0), e.g. incidents weighted by category or
        :func:`area_demand` cells.
    k : int
        Number of new sites (≥ 1).
    range_m : float
        Coverage radius of a new site (m).
    existing : GeoSeries, optional
        Existing coverage polygons (e.g. ``view_sectors(cameras)``); demand inside is already covered
        and not counted as a gain.
    areas : GeoDataFrame, optional
        Areas with ``code``, to label each chosen site with the area (grid) it stands in.

    Returns
    -------
    PlanResult
        The optimal set for k, listed in greedy order with each site's gain and the cumulative share.
    """
    if int(k) != k or k < 1:
        raise InvalidData(f"k: {k!r}; give a whole number of new sites ≥ 1")
    inst = _instance(candidates, demand, range_m, existing, weight)
    chosen = _solve_mclp(inst, int(k)) if len(inst.members) else np.array([], int)
    return _result(candidates, inst, chosen, int(k), areas, code)


def min_sites_for(target_share: float, candidates: gpd.GeoDataFrame, demand: gpd.GeoDataFrame, *,
                  range_m: float = DEFAULT_SITE_RANGE_M, existing: gpd.GeoSeries | None = None,
                  weight: str = "weight", areas: gpd.GeoDataFrame | None = None, code: str = "code") -> PlanResult:
    """The fewest new sites that bring covered demand to ``target_share`` (0–1) of all demand.

    The set covering problem (LSCP) gives the sites needed to cover all demand the candidates can reach;
    the minimum for a partial target is then the smallest k whose MCLP optimum reaches it (binary
    search: the optimum grows with k), so the answer is exact, not greedy.
    Raises ``InvalidData`` when even every candidate cannot reach the target.
    """
    if not 0 < target_share <= 1:
        raise InvalidData(f"target: {target_share!r}; give a share between 0 and 1, e.g. 0.8")
    inst = _instance(candidates, demand, range_m, existing, weight)
    need = target_share * inst.total - inst.existing
    tol = 1e-9 * max(inst.total, 1.0)
    if need <= tol:
        return PlanResult(gpd.GeoDataFrame({"rank": [], "candidate": [], "gain": [], "cumulative": [], "share": []},
                                           geometry=[], crs=STORAGE_CRS), 0, inst.total, inst.existing, 0.0,
                          float(inst.weights.sum()), ["the existing cameras already reach the target"])
    best = (inst.existing + inst.weights.sum()) / inst.total if inst.total > 0 else 0.0
    if inst.weights.sum() < need - tol:
        raise InvalidData(f"target {target_share:.0%} cannot be reached: new sites at every candidate reach "
                          f"{best:.1%}; lower --target or add candidate sites")
    full = _chosen(_lscp(inst))
    lo, hi, plan = 1, len(full), full
    while lo < hi:
        mid = (lo + hi) // 2
        chosen = _solve_mclp(inst, mid)
        if _covered_weight(inst, chosen) >= need - tol:
            hi, plan = mid, chosen
        else:
            lo = mid + 1
    return _result(candidates, inst, plan, lo, areas, code)
