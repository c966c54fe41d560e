"""CQL2-JSON filters (app.ogc.cql_json, ``filter-lang=cql2-json``): the generated filter trees of
test_ogc_cql written as CQL2-JSON by a writer of this file (from the standard's schema, sharing no code with
the parser) select what pandas selects; the examples select what their CQL2-text selects; errors name the
place in the document."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings, strategies as st

from app.ogc.cql import FILTER_LANGS, compile_filter
from tests.app.dash_helpers import lead_grid  # noqa: F401  (fixture)
from tests.app.test_ogc_cql import (CAMERAS, _filters, _part_of_district, frames, oracle,  # noqa: F401
                                    selected)


def _value(v):
    if isinstance(v, pd.Timestamp):
        return {"timestamp": v.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return v


def write(node) -> dict:
    """A test_ogc_cql filter tree → CQL2-JSON (OGC 21-065's JSON schema)."""
    kind = node[0]
    if kind in ("and", "or"):
        return {"op": kind, "args": [write(c) for c in node[1:]]}
    if kind == "not":
        return {"op": "not", "args": [write(node[1])]}
    prop = {"property": node[1]}

    def negate(x, neg):
        return {"op": "not", "args": [x]} if neg else x

    if kind == "cmp":
        return {"op": node[2], "args": [prop, _value(node[3])]}
    if kind == "in":
        return negate({"op": "in", "args": [prop, [_value(v) for v in node[2]]]}, node[3])
    if kind == "between":
        return negate({"op": "between", "args": [prop, _value(node[2]), _value(node[3])]}, node[4])
    if kind == "like":
        return negate({"op": "like", "args": [prop, node[2]]}, node[3])
    if kind == "null":
        return negate({"op": "isNull", "args": [prop]}, node[2])
    raise AssertionError(kind)


def selected_json(session, view, doc, **kw) -> set:
    return selected(session, view, json.dumps(doc), lang="cql2-json", **kw)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(node=_filters)
def test_generated_json_filters_select_what_pandas_selects(demo_session, frames, node):
    doc = write(node)
    assert selected_json(demo_session, "incidents", doc) == oracle(node, frames["incidents"], "incidents"), doc


P = {"property": "geom"}


@pytest.mark.parametrize("view, cql_text, doc", [
    ("cameras", "status='OFF' AND programme='skynet'",
     {"op": "and", "args": [{"op": "=", "args": [{"property": "status"}, "OFF"]},
                            {"op": "=", "args": [{"property": "programme"}, "skynet"]}]}),
    ("cameras", "CASEI(programme) = CASEI('SKYNET')",
     {"op": "=", "args": [{"op": "casei", "args": [{"property": "programme"}]}, {"op": "casei", "args": ["SKYNET"]}]}),
    ("cameras", "record_days NOT BETWEEN 31 AND 100",
     {"op": "not", "args": [{"op": "between", "args": [{"property": "record_days"}, 31, 100]}]}),
    ("cameras", "install_date < DATE('2016-01-01')",
     {"op": "<", "args": [{"property": "install_date"}, {"date": "2016-01-01"}]}),
    ("cameras", "height_m >= 6.5 AND point_class IN (1, 3)",
     {"op": "and", "args": [{"op": ">=", "args": [{"property": "height_m"}, 6.5]},
                            {"op": "in", "args": [{"property": "point_class"}, [1, 3]]}]}),
    ("cameras", "NOT TRUE OR FALSE", {"op": "or", "args": [{"op": "not", "args": [True]}, False]}),
    ("cameras", "S_INTERSECTS(geom, BBOX(104.70, 29.30, 104.80, 29.40))",
     {"op": "s_intersects", "args": [P, {"bbox": [104.70, 29.30, 104.80, 29.40]}]}),
    ("incidents", "T_DURING(reported_at, INTERVAL('2025-02-01T00:00:00Z', '2025-03-01T00:00:00Z'))",
     {"op": "t_during", "args": [{"property": "reported_at"},
                                 {"interval": ["2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"]}]}),
    ("incidents", "T_INTERSECTS(INTERVAL(reported_at, closed_at), TIMESTAMP('2025-06-01T00:00:00Z'))",
     {"op": "t_intersects", "args": [{"interval": [{"property": "reported_at"}, {"property": "closed_at"}]},
                                     {"timestamp": "2025-06-01T00:00:00Z"}]}),
    ("incidents", "T_INTERSECTS(reported_at, INTERVAL('2025-11-01T00:00:00Z', '..'))",
     {"op": "t_intersects", "args": [{"property": "reported_at"}, {"interval": ["2025-11-01T00:00:00Z", ".."]}]}),
    ("incidents", "closed_at IS NOT NULL AND state <> 'closed'",
     {"op": "and", "args": [{"op": "not", "args": [{"op": "isNull", "args": [{"property": "closed_at"}]}]},
                            {"op": "<>", "args": [{"property": "state"}, "closed"]}]}),
])
def test_examples_select_what_their_text_selects(demo_session, view, cql_text, doc):
    assert selected_json(demo_session, view, doc) == selected(demo_session, view, cql_text)
    # folded as the text parser reads it: the same SQL and parameters
    assert compile_filter(json.dumps(doc), CAMERAS if view == "cameras" else _incidents(), lang="cql2-json") == \
        compile_filter(cql_text, CAMERAS if view == "cameras" else _incidents())


def _incidents():
    from tests.app.test_ogc_cql import INCIDENTS

    return INCIDENTS


def test_a_geojson_polygon_selects_what_shapely_selects(demo_session, frames):
    cams, poly = frames["cameras"], _part_of_district(frames)
    doc = {"op": "s_within", "args": [P, shapely.geometry.mapping(poly)]}
    got = selected_json(demo_session, "cameras", json.loads(json.dumps(doc)))
    assert got == set(cams.loc[cams.geometry.within(poly), "device_id"]) and 0 < len(got) < len(cams)


@pytest.mark.parametrize("doc, message", [
    ("{", "not JSON"),
    ("", "is empty"),
    ('{"op": "=", "args": [{"property": "status"}, NaN]}', "not JSON"),
    ('{"op": "equals", "args": []}', "unknown op 'equals'"),
    ('{"op": "and", "args": [{"op": "=", "args": [{"property": "status"}]}, true]}', "at args[0]: = takes 2"),
    ('{"op": "and", "args": [true, {"op": "in", "args": [{"property": "status"}, []]}]}',
     "at args[1].args[1]: in: expected a non-empty list"),
    ('{"op": "=", "args": [{"property": "status"}, {"timestamp": "2025-13-01T00:00:00Z"}]}', "at args[1]"),
    ('{"op": ">", "args": [{"property": "height_m"}, 1e999]}', "out of range"),
    ('{"op": ">", "args": [{"property": "height_m"}, 99999999999999999999]}', "out of range"),
    ('{"op": "s_intersects", "args": [{"property": "geom"}, {"type": "Polygon", "coordinates": 3}]}',
     "not a valid GeoJSON geometry"),
    ('{"op": "s_intersects", "args": [{"property": "geom"}, {"bbox": [2, 0, 1, 1]}]}', "minimum is above"),
    ('{"op": "casei", "args": ["a"]}', "casei is a value, not a condition"),
    ('{"op": "=", "args": [{"op": "and", "args": [true, true]}, 1]}', "and is a condition, not a value"),
    ('{"op": "=", "args": [{"property": "nope"}, 1]}', "nope"),
    ("[" * 5000 + "]" * 5000, "filter:"),
    ('{"op": "not", "args": [' * 150 + "true" + "]}" * 150, "nested deeper than"),
])
def test_errors_name_the_place_and_say_what(doc, message):
    with pytest.raises(Exception) as exc:
        compile_filter(doc, CAMERAS, lang="cql2-json")
    assert type(exc.value).__name__ == "InvalidData", exc.value
    assert str(exc.value).startswith("filter:") and message in str(exc.value), str(exc.value)


def test_both_languages_are_declared():
    assert FILTER_LANGS == ("cql2-text", "cql2-json")


def test_items_take_a_cql2_json_filter(client, lead_grid, demo_db):
    from tests.app.test_ogc import ADMIN, get

    doc = json.dumps({"op": "=", "args": [{"property": "status"}, "OFF"]})
    by_json = get(client, "/ogc/collections/cameras/items?limit=1&filter-lang=cql2-json&filter="
                  + _quote(doc), ADMIN).get_json()
    by_text = get(client, "/ogc/collections/cameras/items?limit=1&filter=" + _quote("status = 'OFF'"),
                  ADMIN).get_json()
    assert by_json["numberMatched"] == by_text["numberMatched"] > 0
    r = client.get("/ogc/collections/cameras/items?filter-lang=cql2-json&filter=" + _quote("status = 'OFF'"),
                   headers=ADMIN)
    assert r.status_code == 400 and "not JSON" in r.get_json()["description"]
    r = client.get("/ogc/collections/cameras/items?filter-lang=ecql&filter=x", headers=ADMIN)
    assert r.status_code == 400 and "filter-lang" in r.get_json()["description"]


def _quote(s: str) -> str:
    from urllib.parse import quote

    return quote(s, safe="")


_KEYS = ["op", "args", "property", "date", "timestamp", "interval", "bbox", "type", "coordinates"]
_ATOMS = ["and", "or", "not", "=", "<", "like", "between", "in", "isNull", "casei", "s_intersects", "t_during",
          "status", "height_m", "geom", "install_date", "Point", "Polygon", "..", "2025-01-01",
          "2025-01-01T00:00:00Z", 0, 1.5, -1, 2 ** 70, True, None, "x"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.recursive(st.sampled_from(_ATOMS), lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.sampled_from(_KEYS), kids, max_size=3)), max_leaves=12))
def test_any_json_compiles_to_sql_that_runs_or_is_refused(demo_session, doc):
    from sqlalchemy import text

    from gis.errors import InvalidData

    try:
        sql, params = compile_filter(json.dumps(doc), CAMERAS, lang="cql2-json")
    except InvalidData as exc:
        assert str(exc).startswith("filter:"), exc
        return
    with demo_session.begin_nested():
        demo_session.execute(text(f"SELECT count(*) FROM gis.cameras WHERE {sql}"), params)
