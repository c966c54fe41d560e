"""The OGC API as OWSLib (``owslib.ogcapi.features.Features``) reads it, checked against PostGIS.

Every figure a test compares with comes from the database the live server reads (``gis.<view>``, the
views analysts' read-only roles see), by SQL written here, not by the server's own code: counts and ids of
whole collections paged to the end by the ``next`` links, a bbox against ``ST_Intersects``, queryables
against ``information_schema``, a CQL2 filter and a property filter against the same ``WHERE`` in SQL,
the grid lead's key against the grids the lead leads.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import owslib.ogcapi.features as owslib_features
import pytest
import requests

from app.ogc.collections import COLLECTIONS

DB_BACKED = sorted(c.id for c in COLLECTIONS.values() if c.source is not None)
COMPUTED = sorted(c.id for c in COLLECTIONS.values() if c.source is None)
#: a box over the district's centre (lon/lat, EPSG:4326): some of every point layer inside, some outside
BBOX = (104.74, 29.34, 104.80, 29.39)


def features(live, who: str | None = "admin", *, auth=None):
    """An OWSLib client for ``who``'s key (None: no key). OWSLib 0.3x merges a client's ``headers`` into its
    module-wide ``REQUEST_HEADERS`` dict (every later client would send the same key), so the shared dict is
    restored and the client given a copy of its own."""
    import owslib.ogcapi as base

    saved = dict(base.REQUEST_HEADERS)
    headers = live.headers(who) if who else {}
    try:
        client = owslib_features.Features(live.ogc, headers=headers, auth=auth, timeout=120)
    finally:
        base.REQUEST_HEADERS.clear()
        base.REQUEST_HEADERS.update(saved)
    client.headers = {**saved, **headers}
    return client


def page_to_end(client, collection: str, **params) -> tuple[list[dict], list[int]]:
    """Every feature of ``collection``, following each response's ``next`` link; and the numberMatched
    of every page (they must all agree)."""
    feats, matched, pages = [], [], 0
    while True:
        doc = client.collection_items(collection, **params)
        assert doc["type"] == "FeatureCollection"
        feats += doc["features"]
        matched.append(doc.get("numberMatched"))
        assert doc.get("numberReturned", len(doc["features"])) == len(doc["features"])
        nxt = [link["href"] for link in doc.get("links", []) if link.get("rel") == "next"]
        pages += 1
        assert pages < 1000, "the next links never end"
        if not nxt:
            return feats, matched
        assert len(nxt) == 1, nxt
        url = urlsplit(nxt[0])
        assert url.path.endswith(f"/collections/{collection}/items"), nxt[0]
        params = dict(parse_qsl(url.query))


def test_landing_and_conformance(live_ogc):
    client = features(live_ogc)
    rels = {link["rel"] for link in client.links}
    assert {"self", "conformance", "data", "service-desc"} <= rels
    conf = client.conformance()["conformsTo"]
    for cls in ("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
                "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
                "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"):
        assert cls in conf


def test_admin_lists_every_collection(live_ogc):
    client = features(live_ogc)
    listed = client.collections()["collections"]
    assert sorted(c["id"] for c in listed) == sorted(COLLECTIONS)
    assert sorted(client.feature_collections()) == sorted(COLLECTIONS)  # itemType feature, each
    for c in listed:
        assert any(link["rel"] == "items" for link in c["links"]), c["id"]
        assert client.collection(c["id"])["id"] == c["id"]


def test_lead_lists_only_what_its_role_reads(live_ogc):
    listed = {c["id"] for c in features(live_ogc, "lead").collections()["collections"]}
    assert listed == {c.id for c in COLLECTIONS.values() if "grid_lead" in c.readers}
    assert "blind_spots" not in listed  # the planner's layers


@pytest.mark.parametrize("collection", DB_BACKED)
def test_paged_to_the_end_equals_the_database(live_ogc, collection):
    c = COLLECTIONS[collection]
    feats, matched = page_to_end(features(live_ogc), collection, limit=1000)
    ids = [f["id"] for f in feats]
    want = live_ogc.scalar(f"SELECT count(*) FROM gis.{c.source}")
    assert len(ids) == want > 0 and set(matched) == {want}
    assert len(set(ids)) == len(ids), "a feature came twice across pages"
    db_ids = {r[0] for r in live_ogc.rows(f'SELECT "{c.id_column}" FROM gis.{c.source}')}
    assert {str(i) for i in ids} == {str(i) for i in db_ids}


@pytest.mark.parametrize("collection", COMPUTED)
def test_computed_collections_page_consistently(live_ogc, collection):
    """Computed frames have no view to count: the pages must add up to numberMatched, without repeats."""
    feats, matched = page_to_end(features(live_ogc), collection, limit=200)
    ids = [f["id"] for f in feats]
    assert len(set(matched)) == 1 and matched[0] == len(ids) > 0
    assert len(set(ids)) == len(ids)


def test_camera_views_are_the_working_cameras(live_ogc):
    feats, _ = page_to_end(features(live_ogc), "camera_views", limit=1000)
    cameras = {r[0] for r in live_ogc.rows("SELECT device_id FROM gis.cameras")}
    assert {f["id"] for f in feats} <= cameras
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in feats)


def test_small_pages_follow_next_to_the_same_set(live_ogc):
    """7-feature pages of the cameras (hundreds of pages' worth of links) give the 1,000-page answer."""
    client = features(live_ogc)
    small, _ = page_to_end(client, "cameras", limit=7)
    big, _ = page_to_end(client, "cameras", limit=1000)
    assert [f["id"] for f in small] == [f["id"] for f in big]


@pytest.mark.parametrize("collection", ["cameras", "incidents", "grids"])
def test_bbox_equals_postgis(live_ogc, collection):
    c = COLLECTIONS[collection]
    feats, _ = page_to_end(features(live_ogc), collection, bbox=list(BBOX), limit=1000)
    want = {str(r[0]) for r in live_ogc.rows(
        f'SELECT "{c.id_column}" FROM gis.{c.source} WHERE ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326))',
        a=BBOX[0], b=BBOX[1], c=BBOX[2], d=BBOX[3])}
    total = live_ogc.scalar(f"SELECT count(*) FROM gis.{c.source}")
    assert 0 < len(want) < total, "the box must split the layer for the test to mean anything"
    assert {str(f["id"]) for f in feats} == want


def test_queryables_are_the_views_columns(live_ogc):
    client = features(live_ogc)
    for collection in DB_BACKED:
        c = COLLECTIONS[collection]
        q = client.collection_queryables(collection)
        assert q["type"] == "object" and "properties" in q
        cols = {r[0] for r in live_ogc.rows("SELECT column_name FROM information_schema.columns "
                                            "WHERE table_schema = 'gis' AND table_name = :v", v=c.source)}
        names = set(q["properties"]) - {"geometry"}
        assert cols - {"geom"} <= names, (collection, cols - names)


def test_cql2_filter_equals_sql(live_ogc):
    client = features(live_ogc)
    feats, _ = page_to_end(client, "cameras", limit=1000, filter="status='OFF' AND programme='skynet'",
                           **{"filter-lang": "cql2-text"})
    want = {r[0] for r in live_ogc.rows(
        "SELECT device_id FROM gis.cameras WHERE status = 'OFF' AND programme = 'skynet'")}
    assert want, "the demo has skynet cameras that are OFF"
    assert {f["id"] for f in feats} == want
    assert all(f["properties"]["status"] == "OFF" for f in feats)


def test_cql2_spatial_and_comparison_filter_equals_sql(live_ogc):
    x1, y1, x2, y2 = BBOX
    cql = (f"S_INTERSECTS(geometry, BBOX({x1},{y1},{x2},{y2})) AND priority <> 'normal'")
    feats, _ = page_to_end(features(live_ogc), "incidents", limit=1000, filter=cql, **{"filter-lang": "cql2-text"})
    want = {r[0] for r in live_ogc.rows(
        "SELECT id FROM gis.incidents WHERE ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326)) "
        "AND priority <> 'normal'", a=x1, b=y1, c=x2, d=y2)}
    assert want
    assert {f["id"] for f in feats} == want


def test_property_filter_equals_sql(live_ogc):
    feats, _ = page_to_end(features(live_ogc), "incidents", limit=1000, state="closed")
    want = live_ogc.scalar("SELECT count(*) FROM gis.incidents WHERE state = 'closed'")
    assert 0 < len(feats) == want


def test_lead_key_reads_its_grids_only(live_ogc):
    grids = {r[0] for r in live_ogc.rows(
        "SELECT r.grid_code FROM member_roles r JOIN users u ON u.member_id = r.member_id "
        "WHERE u.username = 'lead' AND r.role = 'lead'")}
    assert live_ogc.lead_grid in grids
    feats, _ = page_to_end(features(live_ogc, "lead"), "incidents", limit=1000)
    want = live_ogc.scalar("SELECT count(*) FROM gis.incidents WHERE grid_code = ANY(:g)", g=sorted(grids))
    assert 0 < len(feats) == want
    assert {f["properties"]["grid_code"] for f in feats} <= grids
    # and an incident of another grid is a 404 for the lead, not a leak
    other = live_ogc.scalar("SELECT min(id) FROM gis.incidents WHERE grid_code <> ALL(:g)", g=sorted(grids))
    with pytest.raises(RuntimeError):
        features(live_ogc, "lead").collection_item("incidents", str(other))
    assert features(live_ogc).collection_item("incidents", str(other))["id"] == other


def test_basic_auth_with_an_account(live_ogc):
    from owslib.util import Authentication

    user, password = live_ogc.passwords["planner"]
    client = features(live_ogc, None, auth=Authentication(user, password))
    ids = {c["id"] for c in client.collections()["collections"]}
    assert "blind_spots" in ids  # the planner's own layers
    doc = client.collection_items("cameras", limit=3)
    assert len(doc["features"]) == 3


def test_no_credentials_and_wrong_ones_are_refused(live_ogc):
    from owslib.util import Authentication

    anonymous = features(live_ogc, None)
    with pytest.raises(RuntimeError):
        anonymous.collections()
    r = requests.get(live_ogc.ogc + "/collections", timeout=30)
    assert r.status_code == 401 and "Basic" in r.headers.get("WWW-Authenticate", "")
    wrong = features(live_ogc, None, auth=Authentication("operator", "not-the-password"))
    with pytest.raises(RuntimeError):
        wrong.collection_items("cameras", limit=1)
    bad_key = features(live_ogc, None)
    bad_key.headers["X-API-Key"] = "not-a-key"
    with pytest.raises(RuntimeError):
        bad_key.collection_items("cameras", limit=1)
