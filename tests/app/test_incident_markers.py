"""The incident markers the database writes (``service.incident_markers``) read exactly as the Python path
wrote them before: ``incident_frame`` → ``marker_properties`` → ``to_display`` → ``geojson_text``, kept
here only as the oracle. Same text, byte for byte, for filters, a grid lead's scoping, both display
coordinate systems, both languages and two time zones, including hostile text in every property."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import geopandas as gpd
import pytest
from sqlalchemy import text

from app.dashboards import service
from gis.geojson import geojson_text
from layers.base import to_display
from layers.incidents import marker_properties
from tests.settings import TEST_SETTINGS

HOSTILE = "</script>'&\"\\\t\n{{7*7}}{%if 1%}{%endif%}网"  # fits external_id and names


def oracle(s, flt, grids, *, basemap, tz, lang, limit):
    """The Python path the SQL replaced (as ``incident_geojson`` was written before)."""
    frame, total = service.incident_frame(s, flt, grids, tz=tz, limit=limit, lang=lang)
    now, cursor = s.execute(text("SELECT now(), pg_current_snapshot()::text")).one()
    props = gpd.GeoDataFrame(marker_properties(frame), geometry=to_display(frame, basemap).geometry.to_numpy(),
                             crs=4326)
    extra = {"total": total, "truncated": total > len(frame), "now": now.isoformat(), "cursor": cursor}
    if flt.since is not None:  # the filters here that poll changes select every state: nothing can stop matching
        extra.update(gone=[], gone_truncated=False)
    return geojson_text(props, extra=extra)


@pytest.fixture
def hostile_session(demo_session):
    """The demo with awkward values in every column a marker shows: script and template text, quotes,
    control characters, an empty and a missing external number, a missing deadline, a missing grid."""
    ids = demo_session.execute(text("SELECT id FROM incidents ORDER BY reported_at DESC, id DESC LIMIT 5")
                               ).scalars().all()
    demo_session.execute(text("UPDATE incidents SET external_id = :x WHERE id = :i"), {"x": HOSTILE, "i": ids[0]})
    demo_session.execute(text("UPDATE incidents SET external_id = '' WHERE id = :i"), {"i": ids[1]})
    demo_session.execute(text("UPDATE incidents SET external_id = NULL, deadline = NULL WHERE id = :i"),
                         {"i": ids[2]})
    demo_session.execute(text("UPDATE incidents SET grid_code = NULL WHERE id = :i"), {"i": ids[3]})
    code = demo_session.execute(text("SELECT category_code FROM incidents WHERE id = :i"), {"i": ids[4]}).scalar()
    demo_session.execute(text("UPDATE categories SET name_zh = :x, name_en = :x WHERE code = :c"),
                         {"x": HOSTILE, "c": code})
    demo_session.flush()
    return demo_session


def _lead_grids(s) -> frozenset[str]:
    # what visible_grid_codes gives a grid lead: the grids their member leads (the one with most grids)
    member = s.execute(text("SELECT member_id FROM member_roles WHERE role = 'lead' GROUP BY member_id "
                            "ORDER BY count(*) DESC, member_id LIMIT 1")).scalar()
    return frozenset(s.execute(text("SELECT grid_code FROM member_roles WHERE member_id = :m AND role = 'lead'"),
                               {"m": member}).scalars())


def _filters(s) -> dict[str, service.IncidentFilter]:
    community = s.execute(text("SELECT community_code FROM incidents GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
                          ).scalar()
    newest = s.execute(text("SELECT max(reported_at) FROM incidents")).scalar()
    day = datetime.combine(newest.date(), datetime.min.time(), tzinfo=timezone.utc)
    return {
        "open (default)": service.IncidentFilter(),
        "every state": service.IncidentFilter(states=[]),
        "two categories, closed": service.IncidentFilter(states=["closed"], categories=["garbage", "road_damage"]),
        "community and dates": service.IncidentFilter(states=[], community=community, start=day - timedelta(days=90),
                                                      end=day + timedelta(days=1)),
        "street": service.IncidentFilter(states=[], street=community[:9]),
        "bbox": service.IncidentFilter(states=[], bbox=(104.70, 29.33, 104.76, 29.38)),
        "since": service.IncidentFilter(states=[], since=newest - timedelta(days=20)),
        "nothing": service.IncidentFilter(states=["voided"], start=day + timedelta(days=2)),
    }


CURSOR = re.compile(r'"cursor":"([0-9]+:[0-9]+:[0-9,]*)"')
CURRENT = text("SELECT pg_current_snapshot()::text")


def _xmax(cursor: str) -> int:
    return int(cursor.split(":")[1])


@pytest.mark.parametrize("basemap", ["none", "amap"])
def test_markers_equal_the_python_path(hostile_session, basemap):
    s = hostile_session
    scopes = {"district": None, "grid lead": _lead_grids(s)}
    assert scopes["grid lead"], "the demo has a grid lead with grids"
    compared = 0
    for (fname, flt) in _filters(s).items():
        for scope, grids in scopes.items():
            for lang, tz, limit in (("zh", TEST_SETTINGS.timezone, 2000), ("en", "UTC", 150)):
                want = oracle(s, flt, grids, basemap=basemap, tz=tz, lang=lang, limit=limit)
                got = service.incident_geojson(s, flt, grids, basemap=basemap, tz=tz, lang=lang, limit=limit)
                # the cursor is a snapshot of the whole cluster: any transaction between the two reads (here
                # or in another database) moves it, so it is compared by order, everything else byte for byte
                (got_cursor,), (want_cursor,) = CURSOR.findall(got), CURSOR.findall(want)
                assert CURSOR.sub("", got) == CURSOR.sub("", want), (fname, scope, lang, tz, limit)
                assert _xmax(want_cursor) <= _xmax(got_cursor) <= _xmax(s.execute(CURRENT).scalar())
                compared += len(json.loads(got)["features"])
    assert compared > 5000  # the filters really select markers
    everything = json.loads(service.incident_geojson(s, service.IncidentFilter(states=[]), None, basemap=basemap,
                                                     tz=TEST_SETTINGS.timezone))
    props = [f["properties"] for f in everything["features"]]
    assert props[0]["no"] == HOSTILE and props[1]["no"] == str(props[1]["id"]) and props[2]["deadline"] is None
    assert props[3]["grid_code"] is None and HOSTILE in {p["category"] for p in props}
    assert everything["truncated"] and everything["total"] > len(props) == service.API_LIMIT


def test_page_embeds_the_same_markers(hostile_session):
    """The operator map embeds the text the API sends (the live refresh compares the two)."""
    from app.dashboards import pages

    s = hostile_session
    settings = TEST_SETTINGS
    flt = service.IncidentFilter(states=[])
    before = s.execute(CURRENT).scalar()
    parts = pages.incident_map(s, settings, flt, None, max_markers=300)
    after = s.execute(CURRENT).scalar()
    want = oracle(s, flt, None, basemap=settings.basemap, tz=settings.timezone, lang="zh", limit=300)
    features = want[:want.rindex("]") + 1] + "}"  # the page's collection has no total/truncated/now
    assert f".addData({features});" in parts.script
    assert "{{7*7}}{%if 1%}{%endif%}" in parts.script  # text, not a template run on the server
    # the cursor of the embedded markers: the snapshot they were read under (the first poll asks for what changed after)
    # (taken between a snapshot before the page and one after it: other transactions of the cluster move it)
    cursor = parts.info.pop("cursor")
    assert parts.info == {"shown": 300, "total": s.execute(text("SELECT count(*) FROM incidents")).scalar()}
    assert CURSOR.fullmatch(f'"cursor":"{cursor}"') and _xmax(before) <= _xmax(cursor) <= _xmax(after)


def test_embedded_text_is_never_a_template():
    """Embedded features go into the page as they are: template text in a property stays text (it ran as
    Jinja on the server when branca compiled every layer's script as a template)."""
    import shapely

    from layers.base import GeoJsonLayer, base_map
    from folium.utilities import JsCode

    m = base_map()
    frame = gpd.GeoDataFrame({"name": ["{{ 7*7 }} {% if true %}X{% endif %}"]}, geometry=[shapely.Point(1, 2)],
                             crs=4326)
    GeoJsonLayer(frame, None, JsCode("function (f, l) {}")).add_to(m)
    html = m.get_root().render()
    assert '"name":"{{ 7*7 }} {% if true %}X{% endif %}"' in html and '"name":"49' not in html


def test_map_layers_cache_follows_every_change(demo_session):
    """The boundaries and cameras a process keeps for the map pages are read again after any insert,
    update or delete (by any writer: the check is in the database), and only then."""
    from app.dashboards import pages

    s = demo_session
    first = pages.map_frames(s, "none", None)
    assert pages.map_frames(s, "none", None) is first  # unchanged tables: the kept frames
    device = first["cameras"]["device_id"].iloc[0]
    old_status = first["cameras"]["status"].iloc[0]
    new_status = "OFF" if old_status != "OFF" else "ON"
    s.execute(text("UPDATE cameras SET status = :st WHERE device_id = :d"), {"st": new_status, "d": device})
    after_update = pages.map_frames(s, "none", None)
    assert after_update is not first
    assert after_update["cameras"].set_index("device_id").at[device, "status"] == new_status
    street = first["streets"]["code"].iloc[0]
    s.execute(text("UPDATE streets SET name = 'renamed' WHERE code = :c"), {"c": street})
    renamed = pages.map_frames(s, "none", None)
    assert renamed["streets"].set_index("code").at[street, "name"] == "renamed"
    grid = first["grids"]["code"].iloc[-1]
    s.execute(text("DELETE FROM grids WHERE code = :g"), {"g": grid})
    fewer = pages.map_frames(s, "none", None)
    assert len(fewer["grids"]) == len(first["grids"]) - 1 and grid not in set(fewer["grids"]["code"])
    lead = pages.map_frames(s, "none", frozenset({first["grids"]["code"].iloc[0]}))  # a grid lead's own scope
    assert list(lead["grids"]["code"]) == [first["grids"]["code"].iloc[0]] and "streets" not in lead


def test_kept_layers_embed_what_the_builders_write(demo_session):
    """A page built from the kept layer text embeds exactly what the layer builders write from the frames."""
    import re

    from app.dashboards import pages
    from layers import boundaries, cameras

    settings = TEST_SETTINGS
    s = demo_session
    parts = pages.incident_map(s, settings, service.IncidentFilter(), None, max_markers=10)
    frames = pages.map_frames(s, settings.basemap, None)
    payloads = re.findall(r"\.addData\((.*?)\);\n", parts.script)
    written = []
    for name, build in (("streets", boundaries.streets), ("communities", boundaries.communities),
                        ("grids", boundaries.grids), ("cameras", cameras.cameras)):
        fresh = build(frames[name].copy())
        written.append(next(c.data for c in fresh._children.values()))  # the layer's GeoJsonLayer
    assert payloads[:4] == written  # each layer in its place, in the page's order
