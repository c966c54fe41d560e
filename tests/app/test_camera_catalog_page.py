"""The catalog tree in the interface (issue 15): the camera page's catalog section (the platform by its name, the
path of nodes from the root to the camera's parent, the business group, the GB/T 28181 attributes by name), and the
``node`` / ``platform`` filter of the list and ``/api/cameras`` checked against a brute-force walk in Python over
the same rows (real PostGIS; catalog_nodes and the cameras' catalog columns written directly, as the sync would)."""
from __future__ import annotations

import random
import re
import time
from html import unescape
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from app.cameras import service
from camera_registry.models import LIFECYCLES
from tests.app.dash_helpers import lead_grid, login  # noqa: F401  (lead_grid: a fixture)

P = "51030400002000000001"   # a platform (its SIP server's ID)
Q = "51030400002000000002"   # another platform
G1, G2 = "51030400002150000001", "51030400002150000002"                    # business groups
V1, V2, V3 = "51030400002160000001", "51030400002160000002", "51030400002160000003"  # virtual organisations
VX = "51030400002160000004"                                                # a virtual organisation named with markup
C1, C2 = "51030400002160000011", "51030400002160000012"                    # a cycle: C1 → C2 → C1
QV = "51030400002160000021"                                                # under G1 in Q's tree
UNKNOWN = "51030400002160000099"                                           # named by cameras, not in the catalog
AREA = "510304"
XSS = '<img src=x onerror="window.__x=1">'
OPERATOR = SimpleNamespace(role="operator")  # an account that sees the whole district
PLATFORM_NAME = "区级视频平台"

#: (platform, node_id, kind, name, parent_id, business_group_id)
NODES = [
    (P, P, "sip", "区平台 SIP", None, None),
    (P, AREA, "area", "大安区", P, None),
    (P, G1, "group", "天网业务组", P, None),
    (P, G2, "group", "雪亮业务组", P, None),
    (P, V1, "virtual", "东片区", G1, G1),
    (P, V2, "virtual", "东片区一组", V1, G1),
    (P, V3, "virtual", "西片区", None, G1),            # under G1 by its business group only
    (P, VX, "virtual", XSS, G2, G2),
    (P, C1, "virtual", "环甲", C2, None),
    (P, C2, "virtual", "环乙", C1, None),
    (Q, G1, "group", "Q 平台的天网组", None, None),    # the same ID in another platform's tree
    (Q, QV, "virtual", "Q 东片区", G1, G1),
]


@pytest.fixture
def settings(tmp_path):
    from app.config import Settings
    from tests.conftest import ROOT

    return Settings({"var_dir": str(tmp_path / "var"), "secret_key": "test-secret", "data_dir": str(ROOT / "data"),
                     "video_platforms": {P: {"name": PLATFORM_NAME, "crs": "wgs84"}}},
                    environ={}, config_file=tmp_path / "none.toml")


def _q(demo_db, sql, **params):
    with demo_db.Session() as s:
        return s.execute(text(sql), params).all()


@pytest.fixture
def tree(demo_db, lead_grid):
    """The nodes above, and 120 cameras placed in the trees at random (fixed seed): P's and Q's nodes, the
    cycle, an unknown parent, the area, no parent; some without a platform (from files) naming P's nodes."""
    rng = random.Random(15)
    with demo_db.session() as s:
        for platform, node_id, kind, name, parent, group in NODES:
            s.execute(text("INSERT INTO catalog_nodes (platform, node_id, kind, name, parent_id, business_group_id) "
                           "VALUES (:p, :n, :k, :name, :parent, :g)"),
                      {"p": platform, "n": node_id, "k": kind, "name": name, "parent": parent, "g": group})
        ids = [r[0] for r in s.execute(text("SELECT device_id FROM cameras ORDER BY device_id LIMIT 120"))]
        parents = [V1, V2, V3, VX, G2, C1, C2, P, AREA, UNKNOWN, None]
        for i, did in enumerate(ids):
            platform = rng.choice([P, P, P, Q, None])
            parent = QV if platform == Q and rng.random() < 0.6 else rng.choice(parents)
            group = rng.choice([G1, G2, None])
            s.execute(text("UPDATE cameras SET platform = :p, parent_id = :parent, business_group_id = :g "
                           "WHERE device_id = :d"), {"p": platform, "parent": parent, "g": group, "d": did})
    return ids


def _brute_force(demo_db, node: str, platform: str | None, grids=None) -> list[str]:
    """The cameras under ``node`` by a walk in Python over the rows as stored: the node itself (of ``platform``,
    or of any platform), then every node whose parent or business group is in the set (same platform), at most
    ``service.CATALOG_DEPTH_MAX`` levels; a camera belongs when its parent or group is in the set (of its own
    platform)."""
    nodes = _q(demo_db, "SELECT platform, node_id, parent_id, business_group_id FROM catalog_nodes")
    found = {(platform, node)}
    frontier = set(found)
    for _ in range(service.CATALOG_DEPTH_MAX):
        frontier = {(pl, nid) for pl, nid, parent, group in nodes
                    for tp, tid in frontier if (tp is None or pl == tp) and tid in (parent, group)} - found
        if not frontier:
            break
        found |= frontier
    cams = _q(demo_db, "SELECT device_id, platform, parent_id, business_group_id, grid_code FROM cameras")
    return sorted(did for did, pl, parent, group, grid in cams
                  if (grids is None or grid in grids)
                  and any((tp is None or pl == tp) and tid in (parent, group) for tp, tid in found))


CASES = [(n, None) for n in (P, AREA, G1, G2, V1, V2, V3, VX, C1, C2, QV, UNKNOWN)] + \
        [(G1, P), (G1, Q), (V1, Q), (QV, Q), (C2, P), (UNKNOWN, P)]


def test_the_subtree_filter_selects_what_a_walk_over_the_rows_selects(demo_db, tree):
    every = service.CameraFilter(lifecycles=list(LIFECYCLES))
    sizes = []
    with demo_db.Session() as s:
        for node, platform in CASES:
            flt = service.CameraFilter(lifecycles=list(LIFECYCLES), node=node, platform=platform)
            got = service.filtered_ids(s, flt, OPERATOR)
            assert got == _brute_force(demo_db, node, platform), (node, platform)
            sizes.append(len(got))
        assert len(service.filtered_ids(s, every, OPERATOR)) > max(sizes)
    # the cases are not all empty or all alike: the filter has something to get wrong
    assert min(sizes) >= 0 and len(set(sizes)) >= 5 and max(sizes) > 20


def test_the_api_filters_by_node_and_platform(client, demo_db, tree):
    login(client, "operator")
    for node, platform in [(G1, None), (G1, Q), (V1, None), (C1, P)]:
        query = {"node": node, "lifecycle": "all", "limit": 500, **({"platform": platform} if platform else {})}
        r = client.get("/api/cameras", query_string=query)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert sorted(x["device_id"] for x in body["rows"]) == _brute_force(demo_db, node, platform)
        assert body["total"] == len(body["rows"]) and body["filters"]["node"] == node
    # a platform alone: its cameras
    rows = client.get("/api/cameras", query_string={"platform": Q, "lifecycle": "all", "limit": 500}).get_json()["rows"]
    assert sorted(x["device_id"] for x in rows) == sorted(
        r[0] for r in _q(demo_db, "SELECT device_id FROM cameras WHERE platform = :p", p=Q))


def test_a_cycle_in_the_tree_ends(demo_db, tree):
    with demo_db.Session() as s:
        start = time.monotonic()
        ids = service.filtered_ids(s, service.CameraFilter(lifecycles=list(LIFECYCLES), node=C1, platform=P), OPERATOR)
        assert time.monotonic() - start < 5
        both = {r[0] for r in _q(demo_db, "SELECT device_id FROM cameras WHERE platform = :p AND parent_id IN (:a, :b)",
                                 p=P, a=C1, b=C2)}
        assert both and both <= set(ids)  # C2 is under C1 (and C1 under C2): both cycles' cameras


def test_a_chain_deeper_than_the_bound_is_followed_to_the_bound_only(demo_db, tree):
    chain = [f"5103040000216{i:07d}" for i in range(1001, 1001 + service.CATALOG_DEPTH_MAX + 5)]
    with demo_db.session() as s:
        for i, node in enumerate(chain):
            s.execute(text("INSERT INTO catalog_nodes (platform, node_id, kind, name, parent_id) "
                           "VALUES (:p, :n, 'virtual', :name, :parent)"),
                      {"p": Q, "n": node, "name": f"层 {i}", "parent": chain[i - 1] if i else None})
        cams = [r[0] for r in s.execute(text("SELECT device_id FROM cameras ORDER BY device_id DESC LIMIT 2"))]
        s.execute(text("UPDATE cameras SET platform = :p, parent_id = :n WHERE device_id = :d"),
                  {"p": Q, "n": chain[service.CATALOG_DEPTH_MAX], "d": cams[0]})      # at the bound: found
        s.execute(text("UPDATE cameras SET platform = :p, parent_id = :n WHERE device_id = :d"),
                  {"p": Q, "n": chain[service.CATALOG_DEPTH_MAX + 1], "d": cams[1]})  # one below: not
    with demo_db.Session() as s:
        got = service.filtered_ids(s, service.CameraFilter(lifecycles=list(LIFECYCLES), node=chain[0]), OPERATOR)
    assert got == _brute_force(demo_db, chain[0], None) and cams[0] in got and cams[1] not in got


def test_a_grid_lead_filtering_by_node_still_sees_only_its_grids(client, demo_db, tree, lead_grid):
    with demo_db.session() as s:  # some of the lead's cameras into G1's tree
        s.execute(text("UPDATE cameras SET platform = :p, parent_id = :v WHERE grid_code = :g"),
                  {"p": P, "v": V2, "g": lead_grid})
    login(client, "lead")
    rows = client.get("/api/cameras", query_string={"node": G1, "lifecycle": "all", "limit": 500}).get_json()["rows"]
    expected = _brute_force(demo_db, G1, None, grids={lead_grid})
    assert expected and sorted(x["device_id"] for x in rows) == expected
    assert len(_brute_force(demo_db, G1, None)) > len(expected)  # others' cameras are in the tree too


@pytest.mark.parametrize("query, field", [
    ({"node": "abc"}, "node"), ({"node": "5"}, "node"), ({"node": "1" * 21}, "node"), ({"node": "５１０３"}, "node"),
    ({"node": G1, "platform": "a b"}, "platform"), ({"platform": "x" * 21}, "platform"),
])
def test_a_bad_node_or_platform_is_a_422_naming_it(client, lead_grid, query, field):
    login(client, "operator")
    r = client.get("/api/cameras", query_string=query)
    assert r.status_code == 422
    assert [e["field"] for e in r.get_json()["errors"]] == [field]
    assert client.get("/cameras", query_string=query).status_code == 422


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-id="([0-9]{20})">', html)


def test_the_list_page_offers_the_groups_and_virtual_organisations_by_name_and_filters(client, demo_db, tree):
    login(client, "planner")
    html = client.get("/cameras").get_data(as_text=True)
    select = re.search(r'<select name="node" id="cam-node">(.*?)</select>', html, re.S).group(1)
    offered = re.findall(r'<option value="(\d+)" data-kind="(\w+)"', select)
    assert sorted(offered) == sorted((n, k) for _p, n, k, *_ in NODES if k in ("group", "virtual"))
    assert "天网业务组" in select and "东片区一组" in select and "虚拟组织" in select and "业务分组" in select
    assert "区平台 SIP" not in select and ">大安区" not in select  # SIP servers and areas are not offered
    assert XSS not in html and "&lt;img src=x" in select          # a node's name is text
    assert f'label="{PLATFORM_NAME}"' in select and f'label="{Q}"' in select  # the platform by its name, else the ID
    platforms = re.search(r'<select name="platform" id="cam-platform">(.*?)</select>', html, re.S).group(1)
    assert re.findall(r'<option value="(\d+)"\s*>([^<]+)</option>', platforms) == [(P, PLATFORM_NAME), (Q, Q)]
    # V2 sits under V1 under G1: indented by its depth
    assert re.search(r'value="' + V2 + r'"[^>]*>　　东片区一组', select)
    # choosing a group filters the list to its subtree
    page = client.get("/cameras", query_string={"node": G2, "lifecycle": "all"}).get_data(as_text=True)
    expected = _brute_force(demo_db, G2, None)
    assert f'data-total="{len(expected)}"' in page and sorted(_rows(page)) == expected[:service.PAGE_DEFAULT]
    assert re.search(r'<option value="' + G2 + r'" data-kind="group" selected', page)


def _camera(demo_db, **values) -> str:
    did = _q(demo_db, "SELECT device_id FROM cameras WHERE lifecycle = 'active' ORDER BY device_id DESC LIMIT 1")[0][0]
    sets = ", ".join(f"{k} = :{k}" for k in values)
    with demo_db.session() as s:
        s.execute(text(f"UPDATE cameras SET {sets} WHERE device_id = :d"), {**values, "d": did})
    return did


def _section(html: str) -> str:
    return re.search(r'<section class="cam-catalog" id="cam-catalog">(.*?)</section>', html, re.S).group(1)


def test_the_camera_page_shows_its_place_in_the_catalog_and_the_attributes_by_name(client, demo_db, tree):
    did = _camera(demo_db, platform=P, parent_id=V2, business_group_id=G1, manufacturer="海康威视", model="DS-2DE4",
                  owner="大安分局", civil_code="510304", parental=1, secrecy=1, direction_type=6, azimuth=45.0,
                  azimuth_approx=True)
    login(client, "operator")
    html = client.get(f"/cameras/{did}").get_data(as_text=True)
    sec = _section(html)
    assert PLATFORM_NAME in sec and P in sec
    path = re.findall(r'<li data-node="(\d+)" data-kind="(\w+)">\s*<a href="([^"]+)"[^>]*>([^<]*)</a>\s*'
                      r'<small class="gw-hint">([^<]*)</small>', sec)
    assert [(n, k, name, kind) for n, k, _u, name, kind in path] == [
        (P, "sip", "区平台 SIP", "SIP 服务器"), (G1, "group", "天网业务组", "业务分组"),
        (V1, "virtual", "东片区", "虚拟组织"), (V2, "virtual", "东片区一组", "虚拟组织")]
    # each node links to the list filtered to it (in the camera's platform), and that list holds the camera
    url = unescape(path[-1][2])
    assert f"node={V2}" in url and f"platform={P}" in url
    assert did in _rows(client.get(url).get_data(as_text=True))
    group = re.search(r'<td id="cam-group">(.*?)</td>', sec, re.S).group(1)
    assert "天网业务组" in group and "业务分组" in group
    for shown in ("海康威视", "DS-2DE4", "大安分局", "510304", "有子设备", "涉密", "东北"):
        assert f"<td>{shown}</td>" in sec, shown
    assert re.search(r'<tr data-field="azimuth_approx"><th>方位角为估算</th><td>是</td>', sec)
    assert "方位角为估算" in re.search(r'<tr data-field="azimuth">(.*?)</tr>', html, re.S).group(1)
    for name in ("manufacturer", "parent_id", "business_group_id", "platform", "direction_type"):
        assert html.count(f'<tr data-field="{name}">') == 1, name  # in the catalog section only


def test_the_camera_page_survives_a_cycle_an_unknown_parent_and_no_platform(client, demo_db, tree):
    login(client, "operator")
    cyc = _camera(demo_db, platform=P, parent_id=C1, business_group_id=None, azimuth_approx=False)
    start = time.monotonic()
    sec = _section(client.get(f"/cameras/{cyc}").get_data(as_text=True))
    assert time.monotonic() - start < 5
    assert re.findall(r'<li data-node="(\d+)"', sec) == [C2, C1]  # each node once, the walk stopped
    assert re.search(r'<tr data-field="azimuth_approx"><th>方位角为估算</th><td>否</td>', sec)
    unknown = _camera(demo_db, platform=Q, parent_id=UNKNOWN, business_group_id=G2)
    sec = _section(client.get(f"/cameras/{unknown}").get_data(as_text=True))
    assert re.findall(r'<li data-node="(\d+)">', sec) == [UNKNOWN] and "目录中无此节点" in sec
    assert Q in sec and PLATFORM_NAME not in sec  # a platform without a name in the settings: its ID
    assert G2 in re.search(r'<td id="cam-group">(.*?)</td>', sec, re.S).group(1)  # not in Q's catalog: the ID
    plain = _camera(demo_db, platform=None, parent_id=None, business_group_id=None)
    sec = _section(client.get(f"/cameras/{plain}").get_data(as_text=True))
    assert "此摄像机不来自视频平台的目录" in sec and "<li" not in sec


def test_a_node_name_with_markup_is_shown_as_text_on_the_camera_page(client, demo_db, tree):
    did = _camera(demo_db, platform=P, parent_id=VX, business_group_id=G2)
    login(client, "operator")
    html = client.get(f"/cameras/{did}").get_data(as_text=True)
    assert XSS not in html and "&lt;img src=x onerror=&#34;window.__x=1&#34;&gt;" in _section(html)


def test_the_english_page_names_kinds_and_flags_in_english(client, demo_db, tree):
    did = _camera(demo_db, platform=P, parent_id=V1, parental=0, secrecy=0, direction_type=2)
    login(client, "operator")
    sec = _section(client.get(f"/cameras/{did}", query_string={"lang": "en"}).get_data(as_text=True))
    assert "<h2>Catalog</h2>" in sec and "Place in the catalog" in sec
    for shown in ("Virtual organisation", "Business group", "No children", "Not classified", "West"):
        assert shown in sec, shown
