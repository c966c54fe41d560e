"""OGC API – Features under /ogc on the demo district: every endpoint, paging, bbox, datetime, property
filters and CRS, each checked against PostGIS or pyproj, and every bad parameter a 400 naming it."""
from __future__ import annotations

import base64
import re
from urllib.parse import quote, urlsplit

import pytest
from pyproj import CRS, Transformer
from sqlalchemy import text

from app.ogc import collections as cols
from tests.app.dash_helpers import lead_grid  # noqa: F401  (fixture)

ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:demo-admin-pw").decode()}
VIEWS = {c.id: c for c in cols.COLLECTIONS.values() if c.source is not None}


def get(client, url, headers=ADMIN, status=200):
    r = client.get(url, headers=headers)
    assert r.status_code == status, (url, r.status_code, r.get_data(as_text=True)[:400])
    return r


def path_of(href: str) -> str:
    parts = urlsplit(href)
    return parts.path + ("?" + parts.query if parts.query else "")


def sql(demo_db, query, **params):
    with demo_db.session() as s:
        return s.execute(text(query), params).all()


def ids_of(fc) -> list:
    return [f["id"] for f in fc["features"]]


# -- the documents ----------------------------------------------------------------------------------
def test_landing_links_resolve(client, lead_grid):
    doc = get(client, "/ogc/").get_json()
    rels = {l["rel"]: l for l in doc["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    api = get(client, path_of(rels["service-desc"]["href"]))
    assert api.mimetype == "application/vnd.oai.openapi+json"
    assert api.get_json()["openapi"].startswith("3.0")
    for rel in ("service-doc", "conformance", "data"):
        get(client, path_of(rels[rel]["href"]))


def test_conformance_classes(client, lead_grid):
    classes = get(client, "/ogc/conformance").get_json()["conformsTo"]
    for c in ("ogcapi-features-1/1.0/conf/core", "ogcapi-features-1/1.0/conf/geojson", "ogcapi-features-1/1.0/conf/html",
              "ogcapi-features-1/1.0/conf/oas30", "ogcapi-features-2/1.0/conf/crs", "ogcapi-features-3/1.0/conf/queryables"):
        assert f"http://www.opengis.net/spec/{c}" in classes


def test_openapi_has_every_collection_path(client, lead_grid):
    doc = get(client, "/ogc/api").get_json()
    for c in cols.COLLECTIONS:
        for p in ("", "/items", "/items/{featureId}", "/queryables"):
            assert f"/collections/{c}{p}" in doc["paths"]
    names = {p["name"] for p in doc["paths"]["/collections/cameras/items"]["get"]["parameters"]}
    assert {"bbox", "limit", "offset", "datetime", "crs", "bbox-crs", "filter", "status", "programme"} <= names


def test_collections_list_and_each_collection(client, lead_grid):
    doc = get(client, "/ogc/collections").get_json()
    assert [c["id"] for c in doc["collections"]] == list(cols.COLLECTIONS)
    for c in doc["collections"]:
        assert c["storageCrs"] == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
        assert "http://www.opengis.net/def/crs/EPSG/0/4544" in c["crs"]
        one = get(client, f"/ogc/collections/{c['id']}").get_json()
        assert one["id"] == c["id"] and any(l["rel"] == "items" for l in one["links"])


def test_queryables_are_json_schema_with_code_lists(client, lead_grid):
    import jsonschema

    r = get(client, "/ogc/collections/cameras/queryables")
    assert r.mimetype == "application/schema+json"
    doc = r.get_json()
    jsonschema.Draft202012Validator.check_schema(doc)
    assert doc["properties"]["status"]["enum"] == ["ON", "OFF", "VLOST", "DEFECT"]
    assert doc["properties"]["height_m"]["type"] == "number"
    assert doc["properties"]["geometry"]["format"] == "geometry-point"
    assert "phone" not in doc["properties"] and "contact" not in doc["properties"]


# -- items: paging, counts, filters -------------------------------------------------------------------
@pytest.mark.parametrize("cid", sorted(VIEWS))
def test_paging_to_the_end_equals_the_view(client, lead_grid, demo_db, cid):
    c = VIEWS[cid]
    expected = [r[0] for r in sql(demo_db, f'SELECT "{c.id_column}" FROM gis.{c.source} ORDER BY 1')]
    limit = max(1, len(expected) // 3 + 1) if len(expected) < 3000 else 7000
    url, seen, pages = f"/ogc/collections/{cid}/items?limit={limit}", [], 0
    while url:
        fc = get(client, url).get_json()
        assert fc["numberMatched"] == len(expected)
        assert fc["numberReturned"] == len(fc["features"]) <= limit
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", fc["timeStamp"])
        seen += ids_of(fc)
        nxt = [l["href"] for l in fc["links"] if l["rel"] == "next"]
        url = path_of(nxt[0]) if nxt else None
        pages += 1
    assert seen == expected
    assert pages >= 2 or len(expected) <= limit


def test_prev_link_goes_back(client, lead_grid):
    first = get(client, "/ogc/collections/cameras/items?limit=10").get_json()
    second = get(client, "/ogc/collections/cameras/items?limit=10&offset=10").get_json()
    prev = [l["href"] for l in second["links"] if l["rel"] == "prev"][0]
    assert ids_of(get(client, path_of(prev)).get_json()) == ids_of(first)
    assert not [l for l in first["links"] if l["rel"] == "prev"]


def test_limit_above_the_maximum_is_served_as_the_maximum(client, lead_grid):
    fc = get(client, "/ogc/collections/incidents/items?limit=20000").get_json()
    assert fc["numberReturned"] == 10000 and fc["numberMatched"] > 10000


def test_bbox_matches_postgis(client, lead_grid, demo_db):
    box = (104.70, 29.30, 104.78, 29.36)
    for cid, view, key in (("cameras", "cameras", "device_id"), ("grids", "grids", "code"),
                           ("incidents", "incidents", "id")):
        want = [r[0] for r in sql(demo_db, f"SELECT {key} FROM gis.{view} WHERE ST_Intersects(geom, "
                                           "ST_MakeEnvelope(:a, :b, :c, :d, 4326)) ORDER BY 1",
                                  a=box[0], b=box[1], c=box[2], d=box[3])]
        assert want, cid
        got = ids_of(get(client, f"/ogc/collections/{cid}/items?limit=10000&bbox={','.join(map(str, box))}").get_json())
        assert got == want
        # EPSG:4326 as bbox-crs: latitude first; six numbers (heights) read the same
        lat_lon = f"{box[1]},{box[0]},{box[3]},{box[2]}"
        assert ids_of(get(client, f"/ogc/collections/{cid}/items?limit=10000&bbox={lat_lon}"
                                  "&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326").get_json()) == want
        six = f"{box[0]},{box[1]},0,{box[2]},{box[3]},100"
        assert ids_of(get(client, f"/ogc/collections/{cid}/items?limit=10000&bbox={six}").get_json()) == want


def test_bbox_in_4544_matches_postgis(client, lead_grid, demo_db):
    n1, e1, n2, e2 = 3245000.0, 468000.0, 3252000.0, 476000.0  # northing, easting (the EPSG axis order)
    want = [r[0] for r in sql(demo_db, "SELECT device_id FROM gis.cameras WHERE ST_Intersects(ST_Transform(geom, 4544), "
                                       "ST_MakeEnvelope(:e1, :n1, :e2, :n2, 4544)) ORDER BY 1", e1=e1, n1=n1, e2=e2, n2=n2)]
    assert len(want) > 5
    got = get(client, f"/ogc/collections/cameras/items?limit=10000&bbox={n1},{e1},{n2},{e2}&bbox-crs=EPSG:4544")
    assert ids_of(got.get_json()) == want


@pytest.mark.parametrize("interval, where", [
    ("2025-06-01T00:00:00Z/2025-09-01T00:00:00Z",
     "reported_at >= '2025-06-01T00:00:00Z' AND reported_at <= '2025-09-01T00:00:00Z'"),
    ("../2025-03-01T00:00:00%2B08:00", "reported_at <= '2025-03-01T00:00:00+08:00'"),
    ("2025-10-01T00:00:00Z/..", "reported_at >= '2025-10-01T00:00:00Z'"),
    ("2025-05-04", "(reported_at AT TIME ZONE 'Asia/Shanghai')::date = '2025-05-04'"),
    ("2025-05-01/2025-05-03", "(reported_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN '2025-05-01' AND '2025-05-03'"),
])
def test_datetime_matches_sql(client, lead_grid, demo_db, interval, where):
    want = sql(demo_db, f"SELECT count(*) FROM gis.incidents WHERE {where}")[0][0]
    fc = get(client, f"/ogc/collections/incidents/items?limit=1&datetime={interval}").get_json()
    assert fc["numberMatched"] == want


def test_datetime_instant_and_intervals_of_tracks(client, lead_grid, demo_db):
    at = sql(demo_db, "SELECT reported_at FROM gis.incidents ORDER BY id LIMIT 1")[0][0]
    fc = get(client, f"/ogc/collections/incidents/items?datetime={at.isoformat().replace('+', '%2B')}").get_json()
    assert 1 in ids_of(fc)
    assert all(f["properties"]["reported_at"] for f in fc["features"])
    want = sql(demo_db, "SELECT count(*) FROM gis.patrol_tracks WHERE ended_at >= '2025-12-01T00:00:00Z' "
                        "AND started_at <= '2025-12-10T00:00:00Z'")[0][0]
    fc = get(client, "/ogc/collections/patrol_tracks/items?datetime=2025-12-01T00:00:00Z/2025-12-10T00:00:00Z").get_json()
    assert fc["numberMatched"] == want


def test_property_filters_match_sql(client, lead_grid, demo_db):
    for url, where in (("cameras/items?status=OFF", "status = 'OFF'"),
                       ("cameras/items?status=ON&programme=skynet", "status = 'ON' AND programme = 'skynet'"),
                       ("cameras/items?ptz_type=1", "ptz_type = 1"),
                       ("incidents/items?state=closed&priority=urgent", "state = 'closed' AND priority = 'urgent'")):
        view = url.split("/")[0]
        want = sql(demo_db, f"SELECT count(*) FROM gis.{view} WHERE {where}")[0][0]
        assert want > 0, url
        assert get(client, f"/ogc/collections/{url}&limit=1").get_json()["numberMatched"] == want, url


def test_one_feature_and_the_missing_one(client, lead_grid, demo_db):
    device = sql(demo_db, "SELECT device_id, name FROM gis.cameras ORDER BY device_id LIMIT 1")[0]
    f = get(client, f"/ogc/collections/cameras/items/{device[0]}").get_json()
    assert f["type"] == "Feature" and f["id"] == device[0] and f["properties"]["name"] == device[1]
    assert f["geometry"]["type"] == "Point"
    for url in ("/ogc/collections/cameras/items/00000000000000000000", "/ogc/collections/incidents/items/abc",
                "/ogc/collections/cameras/items/a%00b",
                "/ogc/collections/incidents/items/99999999", "/ogc/collections/nope", "/ogc/collections/nope/items",
                "/ogc/collections/nope/queryables"):
        body = get(client, url, status=404).get_json()
        assert body["code"] == "NotFound" and body["description"]


def test_grids_carry_coverage_and_lead(client, lead_grid, demo_db):
    fc = get(client, "/ogc/collections/grids/items?limit=1000").get_json()
    props = {f["id"]: f["properties"] for f in fc["features"]}
    assert all(0 <= p["coverage_pct"] <= 100 for p in props.values())
    assert any(p["coverage_pct"] > 0 for p in props.values())
    leads = dict(sql(demo_db, "SELECT code, lead_name FROM gis.grids"))
    assert {k: p["lead_name"] for k, p in props.items()} == leads
    cams = dict(sql(demo_db, "SELECT grid_code, count(*) FROM gis.cameras GROUP BY 1"))
    assert all(p["cameras"] == cams.get(k, 0) for k, p in props.items())


def test_computed_collections_page_and_filter(client, lead_grid, demo_db):
    on = sql(demo_db, "SELECT count(*) FROM gis.cameras WHERE status NOT IN ('OFF', 'VLOST', 'DEFECT')")[0][0]
    cones = get(client, "/ogc/collections/camera_views/items?limit=10000").get_json()
    assert cones["numberMatched"] == on and {f["geometry"]["type"] for f in cones["features"]} == {"Polygon"}
    spots = get(client, "/ogc/collections/blind_spots/items?limit=10000").get_json()
    assert spots["numberMatched"] == len(spots["features"]) > 0
    big = get(client, "/ogc/collections/blind_spots/items?limit=1&area_m2=" +
              str(spots["features"][0]["properties"]["area_m2"])).get_json()
    assert big["numberMatched"] >= 1
    sites = get(client, "/ogc/collections/proposed_sites/items").get_json()
    from app.dashboards.planning import PLAN_K_DEFAULT

    assert [f["properties"]["rank"] for f in sites["features"]] == list(range(1, PLAN_K_DEFAULT + 1))


# -- CRS --------------------------------------------------------------------------------------------
def test_axis_order_follows_the_epsg_definitions():
    from app.ogc import crs

    for c in crs.SUPPORTED:
        if c is crs.CRS84:
            continue
        first = CRS.from_epsg(c.srid).axis_info[0].direction
        assert c.flipped == (first == "north")


def test_4544_coordinates_match_pyproj(client, lead_grid, demo_db):
    rows = sql(demo_db, "SELECT device_id, ST_X(geom), ST_Y(geom) FROM gis.cameras ORDER BY device_id LIMIT 50")
    r = get(client, "/ogc/collections/cameras/items?limit=50&crs=http://www.opengis.net/def/crs/EPSG/0/4544")
    assert r.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4544>"
    to_gk = Transformer.from_crs(4326, 4544)  # authority axis order: lat/lon in, northing/easting out
    for (device, lon, lat), f in zip(rows, r.get_json()["features"]):
        assert f["id"] == device
        n, e = to_gk.transform(lat, lon)
        assert f["geometry"]["coordinates"] == pytest.approx([n, e], abs=0.002)
    one = get(client, f"/ogc/collections/cameras/items/{rows[0][0]}?crs=EPSG:4544").get_json()
    assert one["geometry"]["coordinates"] == pytest.approx(list(to_gk.transform(rows[0][2], rows[0][1])), abs=0.002)


def test_4326_and_4490_are_lat_lon_and_crs84_lon_lat(client, lead_grid, demo_db):
    lon, lat = sql(demo_db, "SELECT ST_X(geom), ST_Y(geom) FROM gis.cameras ORDER BY device_id LIMIT 1")[0]
    plain = get(client, "/ogc/collections/cameras/items?limit=1")
    assert plain.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    assert plain.get_json()["features"][0]["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=1e-6)
    for code in (4326, 4490):
        r = get(client, f"/ogc/collections/cameras/items?limit=1&crs=http://www.opengis.net/def/crs/EPSG/0/{code}")
        assert r.headers["Content-Crs"] == f"<http://www.opengis.net/def/crs/EPSG/0/{code}>"
        want = Transformer.from_crs(4326, code).transform(lat, lon)
        assert r.get_json()["features"][0]["geometry"]["coordinates"] == pytest.approx(list(want), abs=1e-6)


# -- bad parameters -------------------------------------------------------------------------------
@pytest.mark.parametrize("query, name", [
    ("limit=0", "limit"), ("limit=abc", "limit"), ("limit=1.5", "limit"), ("offset=-1", "offset"),
    ("offset=x", "offset"), ("limit=1&limit=2", "limit"),
    ("bbox=1,2,3", "bbox"), ("bbox=a,b,c,d", "bbox"), ("bbox=1,2,3,4,5", "bbox"), ("bbox=104,30,105,29", "bbox"),
    ("bbox=104,29,105,99", "bbox"), ("bbox=nan,29,105,30", "bbox"), ("bbox=170,29,-170,30", "bbox"),
    ("bbox-crs=EPSG:3857&bbox=1,2,3,4", "bbox-crs"), ("bbox-crs=EPSG:4326", "bbox-crs"),
    ("crs=EPSG:3857", "crs"), ("crs=foo", "crs"),
    ("datetime=yesterday", "datetime"), ("datetime=2025-13-01", "datetime"), ("datetime=../..", "datetime"),
    ("datetime=2025-02-01/2025-01-01", "datetime"), ("datetime=2025-01-01T00:00:00", "datetime"),
    ("datetime=a/b/c", "datetime"),
    ("f=xml", "f"), ("colour=red", "colour"), ("status=BROKEN", "status"), ("ptz_type=dome", "ptz_type"),
    ("height_m=tall", "height_m"), ("install_date=someday", "install_date"),
    ("filter-lang=cql-json", "filter-lang"), ("filter=", "filter"), ("filter-crs=EPSG:1", "filter-crs"),
    ("bbox=0,0,1,1&bbox-crs=EPSG:4544", "bbox"), ("bbox=1e300,0,2e300,1&bbox-crs=EPSG:4544", "bbox"),
    ("datetime=9999-12-31T23:59:59-12:00", "datetime"), ("status=O%00N", "status"), ("name=%00", "name"),
])
def test_every_bad_parameter_is_a_400_naming_it(client, lead_grid, query, name):
    r = get(client, f"/ogc/collections/cameras/items?{query}", status=400)
    body = r.get_json()
    assert body["code"] == "InvalidData" and body["description"].startswith(name + ":"), body


def test_datetime_on_a_collection_without_time_is_a_400(client, lead_grid):
    body = get(client, "/ogc/collections/streets/items?datetime=2025-01-01", status=400).get_json()
    assert body["description"].startswith("datetime:")


def test_documents_refuse_unknown_parameters_and_formats(client, lead_grid):
    for url, name in (("/ogc/collections?x=1", "x"), ("/ogc/?f=pdf", "f"), ("/ogc/collections/cameras?limit=1", "limit"),
                      ("/ogc/collections/cameras/items/1?crs=EPSG:1", "crs")):
        assert get(client, url, status=400).get_json()["description"].startswith(name + ":"), url


def test_only_get_head_options(client, lead_grid):
    assert client.post("/ogc/collections", headers=ADMIN).status_code == 405
    assert client.head("/ogc/collections", headers=ADMIN).status_code == 200
    assert client.delete("/ogc/collections/cameras/items/1", headers=ADMIN).status_code == 405


# -- HTML -----------------------------------------------------------------------------------------
def test_html_by_f_or_accept_with_map_labels_and_nonce(client, lead_grid):
    r = get(client, "/ogc/collections/cameras/items?f=html&limit=5&status=ON")
    assert r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    assert "/vendor/leaflet/leaflet.js" in page and "/static/js/ogc.js" in page and 'id="gw-ogc-map"' in page
    nonce = re.search(r"script-src[^;]*'nonce-([^']+)'", r.headers["Content-Security-Policy"]).group(1)
    assert all(f'nonce="{nonce}"' in tag for tag in re.findall(r"<script[^>]*>", page))
    from app.labels import label

    assert f"<td>{label('camera_status', 'ON')}</td>" in page
    browser = get(client, "/ogc/collections", headers={**ADMIN, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.mimetype == "text/html"
    for url in ("/ogc/?f=html", "/ogc/conformance?f=html", "/ogc/api.html", "/ogc/collections/grids?f=html",
                "/ogc/collections/grids/queryables?f=html", "/ogc/collections/grids/items/" +
                get(client, "/ogc/collections/grids/items?limit=1").get_json()["features"][0]["id"] + "?f=html"):
        assert get(client, url).mimetype == "text/html", url
    err = get(client, "/ogc/collections/cameras/items?f=html&limit=0", status=400)
    assert err.mimetype == "text/html" and "limit:" in err.get_data(as_text=True)


def test_html_escapes_a_hostile_camera_name(client, lead_grid, demo_db):
    hostile = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    with demo_db.session() as s:
        device = s.execute(text("SELECT device_id FROM cameras WHERE lifecycle = 'active' ORDER BY device_id LIMIT 1")
                           ).scalar_one()
        s.execute(text("UPDATE cameras SET name = :n WHERE device_id = :d"), {"n": hostile, "d": device})
    for url in (f"/ogc/collections/cameras/items?f=html&device_id={device}", f"/ogc/collections/cameras/items/{device}?f=html"):
        page = get(client, url).get_data(as_text=True)
        assert hostile not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(" in page  # the table shows it as text
    data = get(client, f"/ogc/collections/cameras/items/{device}").get_json()
    assert data["properties"]["name"] == hostile  # JSON carries the name as it is


# -- CQL2 filters (app.ogc.cql) through the items path ---------------------------------------------
def test_cql2_text_filters_match_sql(client, lead_grid, demo_db):
    box = "POLYGON((104.70 29.30,104.78 29.30,104.78 29.36,104.70 29.36,104.70 29.30))"
    for flt, where in (
            ("status='OFF' AND programme='skynet'", "status = 'OFF' AND programme = 'skynet'"),
            ("height_m > 6 OR ptz_type IN (1, 2)", "height_m > 6 OR ptz_type IN (1, 2)"),
            (f"S_INTERSECTS(geometry, {box})",
             f"ST_Intersects(geom, ST_GeomFromText('{box}', 4326))")):
        want = [r[0] for r in sql(demo_db, f"SELECT device_id FROM gis.cameras WHERE {where} ORDER BY 1")]
        assert want, flt
        got = get(client, "/ogc/collections/cameras/items?limit=10000&filter-lang=cql2-text&filter="
                  + quote(flt)).get_json()
        assert ids_of(got) == want, flt
    # filter-crs EPSG:4544: the literal in northing/easting (the CRS's axis order)
    n1, e1, n2, e2 = 3245000, 468000, 3252000, 476000
    gk = f"POLYGON(({n1} {e1},{n1} {e2},{n2} {e2},{n2} {e1},{n1} {e1}))"
    want = [r[0] for r in sql(demo_db, "SELECT device_id FROM gis.cameras WHERE ST_Intersects(ST_Transform(geom, 4544), "
                                       f"ST_MakeEnvelope({e1}, {n1}, {e2}, {n2}, 4544)) ORDER BY 1")]
    got = get(client, "/ogc/collections/cameras/items?limit=10000&filter-crs=EPSG:4544&filter="
              + quote(f"S_INTERSECTS(geometry, {gk})")).get_json()
    assert want and ids_of(got) == want
    # a filter, a property filter and the grid scope together
    n = sql(demo_db, "SELECT count(*) FROM gis.incidents WHERE state = 'closed' AND priority <> 'low'")[0][0]
    fc = get(client, "/ogc/collections/incidents/items?limit=1&state=closed&filter=" + quote("priority <> 'low'"))
    assert fc.get_json()["numberMatched"] == n


@pytest.mark.parametrize("flt", ["status =", "nosuch = 1", "height_m = 'tall'", "S_INTERSECTS(geometry, POINT(1))"])
def test_bad_filters_are_400_naming_filter(client, lead_grid, flt):
    body = get(client, "/ogc/collections/cameras/items?filter=" + quote(flt), status=400).get_json()
    assert body["description"].startswith("filter:"), body


def test_conformance_names_the_cql2_classes_the_compiler_declares(client, lead_grid):
    from app.ogc import cql

    classes = get(client, "/ogc/conformance").get_json()["conformsTo"]
    assert set(cql.CONFORMANCE) <= set(classes)
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter" in classes


# -- temporal extents ---------------------------------------------------------------------------------
def _z(v) -> str:
    from datetime import timezone

    return v.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def test_temporal_extents_are_the_first_and_last_times(client, lead_grid, demo_db):
    """Each collection with a time says its [first, last] in the collection document and in /collections,
    computed here from the base tables; patrol tracks from their points (the view's lie within them)."""
    from datetime import datetime, time

    from tests.settings import DISTRICT

    def span(query):
        (lo, hi), = sql(demo_db, query)
        return [_z(lo), _z(hi)]

    (d0, d1), = sql(demo_db, "SELECT min(install_date), max(install_date) FROM gis.cameras")
    want = {
        "incidents": span("SELECT min(reported_at), max(reported_at) FROM public.incidents"),
        "communities": span("SELECT min(updated_at), max(updated_at) FROM public.communities"),
        "grids": span("SELECT min(updated_at), max(updated_at) FROM public.grids"),
        "patrol_tracks": span("SELECT min(at), max(at) FROM public.patrol_points"),
        "cameras": [_z(datetime.combine(d0, time(0, 0), DISTRICT.tz)),
                    _z(datetime.combine(d1, time(23, 59, 59), DISTRICT.tz))],
    }
    listed = {c["id"]: c["extent"]["temporal"]["interval"] for c in get(client, "/ogc/collections").get_json()
              ["collections"]}
    for cid, interval in want.items():
        doc = get(client, f"/ogc/collections/{cid}").get_json()["extent"]["temporal"]
        assert doc["interval"] == [interval] == listed[cid], cid
        assert doc["trs"] == "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
    tracks = span("SELECT min(started_at), max(ended_at) FROM gis.patrol_tracks")
    assert want["patrol_tracks"][0] <= tracks[0] <= tracks[1] <= want["patrol_tracks"][1]
    assert listed["streets"] == [[None, None]]  # no time: an open interval
    assert listed["planned_cameras"] == [[None, None]]  # the demo plans none: nothing to span
    # the interval asked back as datetime matches every incident
    lo, hi = want["incidents"]
    every = get(client, "/ogc/collections/incidents/items?limit=1").get_json()["numberMatched"]
    assert get(client, f"/ogc/collections/incidents/items?limit=1&datetime={lo}/{hi}").get_json()[
        "numberMatched"] == every


def test_a_date_written_with_a_bare_t_is_the_date(client, lead_grid):
    """GDAL's OAPIF driver writes dates as 2025-06-01T: the same answer as 2025-06-01."""
    for gdal, plain in [("2025-06-01T/..", "2025-06-01/.."), ("../2025-03-01T", "../2025-03-01"),
                        ("2025-03-01T", "2025-03-01")]:
        a = get(client, f"/ogc/collections/incidents/items?limit=1&datetime={gdal}").get_json()["numberMatched"]
        b = get(client, f"/ogc/collections/incidents/items?limit=1&datetime={plain}").get_json()["numberMatched"]
        assert a == b > 0, gdal
    get(client, "/ogc/collections/incidents/items?datetime=2025-06-01TT", status=400)
