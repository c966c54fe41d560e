"""Open311 GeoReport v2 with a real client: the PyPI ``georeport`` package against a live server.

``georeport`` (0.3.1) reads services, a service definition and requests, in JSON and in XML (xmltodict), and
sends ``jurisdiction_id``; it sends no API key on reads and cannot POST, so it runs against a server with
``open311_anonymous_reads`` on (masked answers), and the keyed reads and the POST are checked here with plain
``requests`` against the spec. The oracle is the database the server reads.
"""
from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import requests

from tests.clients.conftest import ROOT
from tests.settings import DISTRICT

from georeport import GeoReport


@pytest.fixture(scope="module")
def open311_base(live_ogc, tmp_path_factory):
    """A second server on the clients' database with anonymous Open311 reads on (what georeport needs)."""
    var = tmp_path_factory.mktemp("open311_live") / "var"
    var.mkdir()
    extra = json.dumps({"open311_anonymous_reads": True})
    server = subprocess.Popen([sys.executable, "-m", "tests.clients.serve",
                               live_ogc.engine.url.render_as_string(hide_password=False), str(var), extra],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        assert line.startswith("PORT "), f"the Open311 test server did not start: {line!r}"
        yield f"http://127.0.0.1:{int(line.split()[1])}/open311/v2"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_lists_the_services_and_a_definition(open311_base, live_ogc, fmt):
    client = GeoReport(open311_base, jurisdiction=DISTRICT.code, output_format=fmt)
    services = client.get_service_list()
    codes = {s["service_code"] for s in services}
    assert codes == {r[0] for r in live_ogc.rows("SELECT code FROM categories")}
    definition = client.get_service_definition(sorted(codes)[0])
    assert definition["service_code"] == sorted(codes)[0]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_reads_requests_masked_without_a_key(open311_base, live_ogc, fmt):
    client = GeoReport(open311_base, jurisdiction=DISTRICT.code, output_format=fmt)
    newest = live_ogc.scalar("SELECT max(reported_at) FROM incidents")
    start = (newest.date().replace(day=1)).isoformat()
    rows = client.get_service_requests(start_date=start)
    rows = rows if isinstance(rows, list) else [rows]
    # start_date alone: the 90 days from it (the spec's default window)
    expected = live_ogc.scalar("SELECT count(*) FROM incidents WHERE reported_at >= (CAST(:s AS timestamp) AT TIME "
                               "ZONE :tz) AND reported_at <= (CAST(:s AS timestamp) AT TIME ZONE :tz) + interval "
                               "'90 days'", s=start, tz=DISTRICT.timezone)
    assert len(rows) == min(expected, 1000) and rows
    one = rows[0]
    got = client.get_service_request(one["service_request_id"])
    got = got[0] if isinstance(got, list) else got
    assert got["service_request_id"] == one["service_request_id"]
    # masked: spots on the 0.001° grid, never a reporter
    assert round(float(got["lat"]), 3) == float(got["lat"])
    assert "reporter" not in json.dumps(got)


def test_georeport_sends_a_foreign_jurisdiction_and_gets_404(open311_base):
    client = GeoReport(open311_base, jurisdiction="440306")
    with pytest.raises(requests.HTTPError) as info:
        client.get_service_list()
    assert info.value.response.status_code == 404
    assert info.value.response.json()[0]["code"] == 404


def test_discovery_names_the_api_a_client_then_uses(open311_base):
    doc = requests.get(open311_base + "/discovery.json", timeout=30).json()
    (ep,) = doc["endpoints"]
    assert ep["url"] == open311_base
    services = GeoReport(ep["url"], jurisdiction=doc["jurisdiction_id"]).get_service_list()
    assert services


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_keyed_post_then_read_back_over_http(live_ogc, fmt):
    """What georeport cannot do: POST with a key in the body (the spec's way), then GET with the header."""
    base = live_ogc.base + "/open311/v2"
    lon, lat = live_ogc.rows("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids "
                             "ORDER BY code LIMIT 1) q")[0]
    r = requests.post(f"{base}/requests.{fmt}", timeout=30, data={
        "api_key": live_ogc.keys["admin"], "service_code": "other", "lat": lat, "long": lon,
        "description": f"客户端测试 {fmt}", "jurisdiction_id": DISTRICT.code})
    assert r.status_code == 201, r.text
    rid = (r.json()[0]["service_request_id"] if fmt == "json"
           else ET.fromstring(r.content).find("request").findtext("service_request_id"))
    assert live_ogc.scalar("SELECT description FROM incidents WHERE id = :i", i=int(rid)) == f"客户端测试 {fmt}"
    got = requests.get(f"{base}/requests/{rid}.{fmt}", headers=live_ogc.headers(), timeout=30)
    assert got.status_code == 200
    text = (got.json()[0]["description"] if fmt == "json"
            else ET.fromstring(got.content).find("request").findtext("description"))
    assert text == f"客户端测试 {fmt}"
    # and without the header (this server has anonymous reads off) a read is refused, in the format
    no_key = requests.get(f"{base}/requests/{rid}.{fmt}?api_key={live_ogc.keys['admin']}", timeout=30)
    assert no_key.status_code == 401
