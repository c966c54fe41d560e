"""The OGC API as GDAL's OAPIF driver reads it: pyogrio (the wheel's GDAL) and Debian's ``ogrinfo`` (gdal-bin,
installed by ``make test``), checked against PostGIS and pyproj.

Credentials reach GDAL the ways a script or QGIS passes them: a key as ``GDAL_HTTP_AUTH=BEARER`` with
``GDAL_HTTP_BEARER`` (``Authorization: Bearer …``) or in a ``GDAL_HTTP_HEADER_FILE`` (``X-API-Key: …``); an
account by the driver's ``USERPWD`` open option or ``GDAL_HTTP_AUTH=BASIC`` with ``GDAL_HTTP_USERPWD``.

``GDAL_HTTP_HEADERS`` works with Debian's GDAL 3.6 ``ogrinfo`` but not with pyogrio's GDAL 3.12: there the OAPIF
driver sends its own ``Accept`` header list, which replaces the configuration option (every request went
out without the key). The header file and the bearer options are not replaced.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pyogrio
import pytest
from pyproj import Transformer

from app.ogc.collections import COLLECTIONS

OGRINFO = shutil.which("ogrinfo")


def needs_ogrinfo(test):
    """Debian's ogrinfo (GDAL 3.6) as a second client: missing, the test fails (never skips): `make test`
    installs gdal-bin (the Makefile's system-gdal target)."""
    def checked(*args, **kwargs):
        assert OGRINFO is not None, "Debian's gdal-bin is missing: `make test` installs it (system-gdal)"
        return test(*args, **kwargs)

    import functools

    return functools.wraps(test)(checked)
BBOX = (104.74, 29.34, 104.80, 29.39)
DB_BACKED = sorted(c.id for c in COLLECTIONS.values() if c.source is not None)
CONFIG_KEYS = ("GDAL_HTTP_HEADERS", "GDAL_HTTP_HEADER_FILE", "GDAL_HTTP_AUTH", "GDAL_HTTP_BEARER",
               "GDAL_HTTP_USERPWD", "GDAL_HTTP_TIMEOUT")


@pytest.fixture
def gdal_as():
    """``gdal_as(live, who)``: GDAL sends ``who``'s key as a bearer token (None: nothing); ``extra``
    configuration options on top; all reset afterwards."""
    def use(live, who: str | None = "admin", **extra):
        options = {k: None for k in CONFIG_KEYS}
        if who is not None:
            options.update(GDAL_HTTP_AUTH="BEARER", GDAL_HTTP_BEARER=live.keys[who])
        options["GDAL_HTTP_TIMEOUT"] = "120"
        options.update(extra)
        pyogrio.set_gdal_config_options(options)

    yield use
    pyogrio.set_gdal_config_options({k: None for k in CONFIG_KEYS})


def oapif(live) -> str:
    return f"OAPIF:{live.ogc}/"


def test_every_collection_is_a_layer(live_ogc, gdal_as):
    gdal_as(live_ogc)
    layers = pyogrio.list_layers(oapif(live_ogc))
    assert sorted(layers[:, 0]) == sorted(COLLECTIONS)


@pytest.mark.parametrize("collection", DB_BACKED)
def test_counts_equal_the_database(live_ogc, gdal_as, collection):
    """GDAL reads each layer to the end (it follows the ``next`` links) and finds every row of the view."""
    gdal_as(live_ogc)
    c = COLLECTIONS[collection]
    df = pyogrio.read_dataframe(oapif(live_ogc), layer=collection, PAGE_SIZE="1000")
    assert len(df) == live_ogc.scalar(f"SELECT count(*) FROM gis.{c.source}") > 0
    key = c.id_column if c.id_column in df.columns else "id"
    db_ids = {str(r[0]) for r in live_ogc.rows(f'SELECT "{c.id_column}" FROM gis.{c.source}')}
    assert set(df[key].astype(str)) == db_ids


def test_small_pages_reach_the_end(live_ogc, gdal_as):
    gdal_as(live_ogc)
    want = live_ogc.scalar("SELECT count(*) FROM gis.cameras")
    df = pyogrio.read_dataframe(oapif(live_ogc), layer="cameras", PAGE_SIZE="40")
    assert len(df) == want and want > 40 * 5
    assert df["device_id"].is_unique


def test_bbox_is_sent_and_equals_postgis(live_ogc, gdal_as):
    gdal_as(live_ogc)
    df = pyogrio.read_dataframe(oapif(live_ogc), layer="incidents", bbox=BBOX, PAGE_SIZE="1000")
    want = {r[0] for r in live_ogc.rows(
        "SELECT id FROM gis.incidents WHERE ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326))",
        a=BBOX[0], b=BBOX[1], c=BBOX[2], d=BBOX[3])}
    assert 0 < len(want) < live_ogc.scalar("SELECT count(*) FROM gis.incidents")
    ids = df["id"] if "id" in df.columns else df.index
    assert {int(i) for i in ids} == want


@pytest.mark.parametrize("crs", ["EPSG:4544", "EPSG:4490"])
def test_crs_open_option_matches_pyproj(live_ogc, gdal_as, crs):
    """``CRS=…``: GDAL asks for the items in that CRS (the server's axis order is the authority's: northing
    first for EPSG:4544, latitude first for EPSG:4490); GDAL's x, y must equal pyproj's easting/lon, northing/lat
    of the database's lon/lat."""
    gdal_as(live_ogc)
    df = pyogrio.read_dataframe(oapif(live_ogc), layer="cameras", CRS=crs, PAGE_SIZE="1000")
    assert df.crs is not None and df.crs.to_epsg() == int(crs.split(":")[1])
    rows = live_ogc.rows("SELECT device_id, ST_X(geom), ST_Y(geom) FROM gis.cameras")
    lon = {d: x for d, x, _ in rows}
    lat = {d: y for d, _, y in rows}
    ids = list(df["device_id"])
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(
        np.array([lon[i] for i in ids]), np.array([lat[i] for i in ids]))
    tol = 0.01 if crs == "EPSG:4544" else 1e-6  # 1 cm; 1e-6° (the server writes 6 decimals in degrees)
    np.testing.assert_allclose(df.geometry.x.to_numpy(), x, atol=tol, rtol=0)
    np.testing.assert_allclose(df.geometry.y.to_numpy(), y, atol=tol, rtol=0)
    if crs == "EPSG:4544":  # a plain check of the order: eastings ~478,000, northings ~3,250,000
        assert 400_000 < df.geometry.x.min() and df.geometry.y.min() > 3_000_000


def test_key_in_a_header_file(live_ogc, gdal_as, tmp_path):
    headers = tmp_path / "headers.txt"
    headers.write_text(f"X-API-Key: {live_ogc.keys['admin']}\n", encoding="ascii")
    gdal_as(live_ogc, None, GDAL_HTTP_HEADER_FILE=str(headers))
    df = pyogrio.read_dataframe(oapif(live_ogc), layer="service_centres")
    assert len(df) == live_ogc.scalar("SELECT count(*) FROM gis.service_centres") > 0


def test_lead_key_reads_its_grids_only(live_ogc, gdal_as):
    gdal_as(live_ogc, "lead")
    df = pyogrio.read_dataframe(oapif(live_ogc), layer="incidents", PAGE_SIZE="1000")
    grids = {r[0] for r in live_ogc.rows(
        "SELECT r.grid_code FROM member_roles r JOIN users u ON u.member_id = r.member_id "
        "WHERE u.username = 'lead' AND r.role = 'lead'")}
    assert set(df["grid_code"]) <= grids
    assert len(df) == live_ogc.scalar("SELECT count(*) FROM gis.incidents WHERE grid_code = ANY(:g)",
                                      g=sorted(grids)) > 0


def test_basic_auth_by_open_option(live_ogc, gdal_as):
    gdal_as(live_ogc, None)
    user, password = live_ogc.passwords["planner"]
    df = pyogrio.read_dataframe(oapif(live_ogc), layer="blind_spots", USERPWD=f"{user}:{password}")
    assert len(df) > 0 and df.crs.to_string() in ("OGC:CRS84", "EPSG:4326")


def test_no_credentials_fail(live_ogc, gdal_as):
    gdal_as(live_ogc, None)
    with pytest.raises(pyogrio.errors.DataSourceError, match="401|nauthori|log in"):
        pyogrio.read_dataframe(oapif(live_ogc), layer="cameras")


def test_wrong_password_and_wrong_key_fail(live_ogc, gdal_as):
    gdal_as(live_ogc, None)
    with pytest.raises(pyogrio.errors.DataSourceError):
        pyogrio.read_dataframe(oapif(live_ogc), layer="cameras", USERPWD="member:not-the-password")
    gdal_as(live_ogc, None, GDAL_HTTP_AUTH="BEARER", GDAL_HTTP_BEARER="not-a-key")
    with pytest.raises(pyogrio.errors.DataSourceError):
        pyogrio.read_dataframe(oapif(live_ogc), layer="cameras")


# -- Debian's ogrinfo (another GDAL build: a client the project does not ship) ------------------------------
def ogrinfo(live, *args, key: str | None = "admin", config: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GDAL_HTTP")}
    cmd = [OGRINFO, "-ro", "--config", "GDAL_HTTP_TIMEOUT", "120"]
    if key is not None:
        cmd += ["--config", "GDAL_HTTP_HEADERS", f"X-API-Key: {live.keys[key]}"]
    for k, v in (config or {}).items():
        cmd += ["--config", k, v]
    return subprocess.run(cmd + [oapif(live), *args], capture_output=True, text=True, env=env, timeout=300)


def _count(out: str) -> int:
    found = re.findall(r"^Feature Count: (\d+)", out, flags=re.M)
    assert len(found) == 1, out[:2000]
    return int(found[0])


@needs_ogrinfo
def test_ogrinfo_lists_every_collection(live_ogc):
    r = ogrinfo(live_ogc, "-so")
    assert r.returncode == 0, r.stderr
    listed = re.findall(r"^\d+: (\S+)", r.stdout, flags=re.M)
    assert sorted(listed) == sorted(COLLECTIONS)


@needs_ogrinfo
@pytest.mark.parametrize("collection", ["cameras", "incidents", "grids"])
def test_ogrinfo_feature_counts(live_ogc, collection):
    r = ogrinfo(live_ogc, "-so", collection, "-oo", "PAGE_SIZE=1000")
    assert r.returncode == 0, r.stderr
    assert _count(r.stdout) == live_ogc.scalar(f"SELECT count(*) FROM gis.{COLLECTIONS[collection].source}")


@needs_ogrinfo
def test_ogrinfo_spat_equals_postgis(live_ogc):
    r = ogrinfo(live_ogc, "-so", "cameras", "-spat", *map(str, BBOX))
    assert r.returncode == 0, r.stderr
    want = live_ogc.scalar("SELECT count(*) FROM gis.cameras WHERE ST_Intersects(geom, "
                           "ST_MakeEnvelope(:a, :b, :c, :d, 4326))", a=BBOX[0], b=BBOX[1], c=BBOX[2], d=BBOX[3])
    assert 0 < _count(r.stdout) == want


@needs_ogrinfo
def test_ogrinfo_basic_auth_and_refusals(live_ogc):
    user, password = live_ogc.passwords["admin"]
    ok = ogrinfo(live_ogc, "-so", "streets", key=None,
                 config={"GDAL_HTTP_AUTH": "BASIC", "GDAL_HTTP_USERPWD": f"{user}:{password}"})
    assert ok.returncode == 0, ok.stderr
    assert _count(ok.stdout) == live_ogc.scalar("SELECT count(*) FROM gis.streets")
    anonymous = ogrinfo(live_ogc, "-so", "streets", key=None)
    assert anonymous.returncode != 0 and "401" in anonymous.stderr + anonymous.stdout
    wrong = ogrinfo(live_ogc, "-so", "streets", key=None,
                    config={"GDAL_HTTP_AUTH": "BASIC", "GDAL_HTTP_USERPWD": "planner:not-the-password"})
    assert wrong.returncode != 0 and "401" in wrong.stderr + wrong.stdout


@needs_ogrinfo
@pytest.mark.parametrize("collection, where, sql", [
    # GDAL sends a date compared with the collection's time as datetime=2018-03-14T/.. (a T, no time)
    ("cameras", "install_date >= '2018-03-14'", "install_date >= '2018-03-14'"),
    ("cameras", "install_date <= '2016-01-01'", "install_date <= '2016-01-01'"),
    ("incidents", "reported_at >= '2025/06/01 00:00:00'", "reported_at >= '2025-06-01T00:00:00Z'"),
    ("incidents", "reported_at >= '2025/03/01 00:00:00' AND reported_at <= '2025/03/31 12:00:00'",
     "reported_at BETWEEN '2025-03-01T00:00:00Z' AND '2025-03-31T12:00:00Z'"),
])
def test_ogrinfo_time_filters_equal_postgis(live_ogc, collection, where, sql):
    """ogrinfo's -where on a collection's time becomes the datetime parameter: the count is the database's."""
    r = ogrinfo(live_ogc, "-so", collection, "-where", where, "-oo", "PAGE_SIZE=1000")
    assert r.returncode == 0 and "ERROR" not in r.stderr, r.stderr[-1500:]
    want = live_ogc.scalar(f"SELECT count(*) FROM gis.{COLLECTIONS[collection].source} WHERE {sql}")
    assert _count(r.stdout) == want and want > 0
