"""Incidents (事件) of one year: where (hotspots, grids), when (hour and day weights), what."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import shapely
from shapely import STRtree

from data.generate.common import DECIMALS, YEAR, _random_points_in, _transformer
from data.generate.people import _landline, _mobile, _person

DESCRIPTIONS = {
    "city_appearance": ["{r}路段生活垃圾堆放未及时清运", "{r}人行道破损积水", "{r}绿化带杂草丛生",
                        "{r}下水道井盖缺失", "{r}路面油污需清洗", "{r}旁公厕卫生较差"],
    "advertising": ["{r}沿线乱张贴小广告", "{r}店招店牌破损有坠落风险", "{r}电杆上乱贴办证广告",
                    "{r}违规设置落地广告牌"],
    "construction": ["{r}施工工地围挡破损", "{r}渣土车沿途撒漏", "{r}夜间施工噪音扰民",
                     "{r}施工占道未设警示标志"],
    "street_order": ["{r}占道经营", "{r}机动车乱停乱放", "{r}流动摊贩占道", "{r}店外经营影响通行",
                     "{r}共享单车无序停放"],
    "emergency": ["{r}发生交通事故需处置", "{r}附近民房起火", "{r}燃气泄漏气味明显", "{r}路面塌陷",
                  "{r}树木倒伏阻断道路"],
    "dispute": ["{r}附近邻里噪音纠纷", "{r}小区物业费纠纷", "{r}商户与顾客发生争执",
                "{r}附近务工人员讨薪", "{r}家庭矛盾需调解"],
    "safety_hazard": ["{r}路灯损坏夜间照明不足", "{r}附近有可疑人员徘徊", "{r}小区门禁损坏",
                      "{r}沿线护栏缺失", "{r}楼道内电动车违规充电"],
    "work_safety": ["{r}门店消防通道堵塞", "{r}餐馆液化气瓶违规存放", "{r}工地高处作业未系安全带",
                    "{r}小作坊电线私拉乱接"],
    "public_service": ["{r}附近居民反映停水", "{r}老年人申请居家养老服务", "{r}居民咨询医保办理",
                       "{r}附近小区停电", "{r}公交站台损坏"],
    "other": ["{r}附近流浪犬出没", "{r}居民反映其他问题", "{r}附近井盖异响"],
}
CATEGORY_SHARE = {"city_appearance": .28, "advertising": .08, "construction": .07, "street_order": .15,
                  "emergency": .02, "dispute": .10, "safety_hazard": .10, "work_safety": .04,
                  "public_service": .12, "other": .04}
PRIORITY_SHARE = {"emergency": [.45, .35, .15, .05], "safety_hazard": [.10, .30, .50, .10],
                  "work_safety": [.10, .35, .45, .10], "dispute": [.05, .25, .55, .15]}
DEFAULT_PRIORITY_SHARE = [.02, .13, .60, .25]
PRIORITIES = ["urgent", "high", "normal", "low"]
SOURCE_SHARE = {"patrol": .44, "video": .13, "public": .12, "hotline": .16, "wechat": .12,
                "higher_office": .03}
OPEN_STATES = ["reported", "accepted", "dispatched", "in_progress", "resolved"]
OPEN_PROGRESS = [.2, .3, .55, .85]  # share of its time-to-close after which an open incident is in the next state
SNAPSHOT_S = 365 * 86400  # the files show the district at the end of YEAR (seconds after 1 January, local)
HOUR_WEIGHT = [.2, .1, .08, .08, .1, .2, .5, 1.2, 2.5, 4.0, 4.2, 3.5, 1.8, 1.5, 3.2, 3.8, 3.6, 2.8,
               1.8, 1.4, 1.1, .8, .5, .3]
INCIDENT_COLUMNS = ["external_id", "category", "source", "description", "address", "lon", "lat",
                    "priority", "reported_at", "reporter_name", "reporter_phone", "state", "closed_at"]


def _day_weights():
    days = np.arange(365)
    dates = [datetime(YEAR, 1, 1) + timedelta(days=int(d)) for d in days]
    w = 1 + 0.18 * np.sin(2 * np.pi * (days - 100) / 365)  # busier in summer
    w *= np.array([0.65 if d.weekday() >= 5 else 1.0 for d in dates])
    w *= np.array([0.5 if datetime(YEAR, 1, 28) <= d <= datetime(YEAR, 2, 4) else
                   0.7 if datetime(YEAR, 10, 1) <= d <= datetime(YEAR, 10, 7) else 1.0 for d in dates])
    return w / w.sum()


def _state_at_snapshot(rng, reported_s, deadline_h):
    """State and closed_at of a (not voided) incident as the files see it, at the end of the year.

    Every incident takes a log-normal time to close around 45 % of its category/priority deadline
    (so ~13 % close late); one whose close would fall after the snapshot is still open, in the state
    its progress reached. The open ones are then the few recent ones with about the share of overdue
    a working district has, not a backlog that a later clock would turn all overdue.
    """
    dur = max(600.0, deadline_h * 3600 * rng.lognormal(math.log(0.45), 0.7))
    if reported_s + dur <= SNAPSHOT_S:
        return "closed", _stamp(reported_s + dur)
    progress = (SNAPSHOT_S - reported_s) / dur
    return OPEN_STATES[int(np.searchsorted(OPEN_PROGRESS, progress, side="right"))], ""


def _stamp(seconds):
    return (datetime(YEAR, 1, 1) + timedelta(seconds=int(seconds))).strftime("%Y-%m-%dT%H:%M:%S+08:00")


def incident_points(rng, n, grids, grids_m, hotspots, towns):
    """Incident locations (metres): hotspots, urban grids by households, town centres, rural grids."""
    urban = np.array([p["code"][6] == "0" for p, _ in grids])
    hh = np.array([p["households"] for p, _ in grids], float)

    def in_grids(idx_pool, weights, k):
        chosen = rng.choice(idx_pool, size=k, p=weights / weights.sum())
        out = []
        for g in np.unique(chosen):
            out.append(_random_points_in(rng, grids_m[g], int(np.sum(chosen == g))))
        return np.vstack(out) if out else np.empty((0, 2))

    counts = rng.multinomial(n, [.30, .42, .13, .15])
    hot_xy, hot_w = np.array([h for h, _ in hotspots]), np.array([w for _, w in hotspots])
    h = rng.choice(len(hot_xy), size=counts[0], p=hot_w / hot_w.sum())
    town_xy = np.array([towns[s] for s in sorted(towns)])
    t = rng.integers(0, len(town_xy), counts[2])
    parts = [hot_xy[h] + rng.normal(0, 120, (counts[0], 2)),
             in_grids(np.flatnonzero(urban), hh[urban], counts[1]),
             town_xy[t] + rng.normal(0, 350, (counts[2], 2)),
             in_grids(np.flatnonzero(~urban), np.ones((~urban).sum()), counts[3])]
    return np.vstack(parts), (lambda k: in_grids(np.flatnonzero(urban), hh[urban], k))


def build_incidents(rng, grids, grids_m, grids_ll, hotspots, towns, roads, names, members, categories):
    """Rows of incidents.csv over calendar year 2025, sorted by reported_at."""
    n = int(round(rng.normal(16000, 150)))
    xy, refill = incident_points(rng, n, grids, grids_m, hotspots, towns)
    tree = STRtree(grids_ll)
    tr = _transformer(False)
    while True:
        ll = np.round(np.column_stack(tr.transform(xy[:, 0], xy[:, 1])), DECIMALS)
        pi, gi = tree.query(shapely.points(ll), predicate="within")
        grid_of = np.full(len(xy), -1)
        grid_of[pi] = gi
        bad = np.flatnonzero(grid_of < 0)
        if len(bad) == 0:
            break
        xy[bad] = refill(len(bad))
    seconds = (rng.choice(365, n, p=_day_weights()) * 86400
               + rng.choice(24, n, p=np.array(HOUR_WEIGHT) / sum(HOUR_WEIGHT)) * 3600
               + rng.integers(0, 3600, n))
    order = np.lexsort((ll[:, 1], ll[:, 0], seconds))
    road_geoms = np.array([r["geom"] for r in roads])
    pi, ri = STRtree(road_geoms).query_nearest(shapely.points(xy))
    nearest = np.full(len(xy), -1)
    nearest[pi[::-1]] = ri[::-1]  # first hit wins on ties
    cats = {c["code"]: c for c in categories}
    cat_codes, cat_p = list(CATEGORY_SHARE), np.array(list(CATEGORY_SHARE.values()))
    sources, src_p = list(SOURCE_SHARE), np.array(list(SOURCE_SHARE.values()))
    by_grid = {}
    for m in members:
        by_grid.setdefault(m["grid_code"], []).append(m)
    phones, rows = set(), []
    operators = [(_person(rng), _landline(rng)) for _ in range(8)]
    offices = ["区综治中心", "区委社治委", "区数字化城管中心", "区应急管理局"]
    for serial, k in enumerate(order, start=1):
        props = grids[grid_of[k]][0]
        cat = str(rng.choice(cat_codes, p=cat_p / cat_p.sum()))
        pri = str(rng.choice(PRIORITIES, p=PRIORITY_SHARE.get(cat, DEFAULT_PRIORITY_SHARE)))
        src = str(rng.choice(sources, p=src_p / src_p.sum()))
        road = roads[nearest[k]]["name"]
        if src == "patrol":
            m = by_grid[props["code"]][int(rng.integers(len(by_grid[props["code"]])))]
            reporter = (m["name"], m["phone"])
        elif src == "video":
            reporter = operators[int(rng.integers(len(operators)))]
        elif src == "higher_office":
            reporter = (offices[int(rng.integers(len(offices)))], _landline(rng))
        else:
            reporter = (_person(rng), _mobile(rng, phones))
        state, closed_at = "voided", ""
        if rng.random() >= 0.01:
            state, closed_at = _state_at_snapshot(rng, seconds[k], float(cats[cat][f"{pri}_h"]))
        rows.append({
            "external_id": f"DA{YEAR}-{serial:06d}", "category": cat, "source": src,
            "description": str(rng.choice(DESCRIPTIONS[cat])).format(r=road),
            "address": f"自贡市大安区{names[props['street_code']]}{names[props['community_code']]}{road}附近",
            "lon": repr(float(ll[k, 0])), "lat": repr(float(ll[k, 1])), "priority": pri,
            "reported_at": _stamp(seconds[k]), "reporter_name": reporter[0],
            "reporter_phone": reporter[1], "state": state, "closed_at": closed_at})
    return rows


