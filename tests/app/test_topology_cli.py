"""`gridwatch check-grids` and `grids import` judge topology in EPSG:4326, where the database keeps the
grids (issue 11): an exact lon/lat tiling of a four-corner community is accepted, and a real gap and
overlap are reported with the m² PostGIS computes on the geography."""
from __future__ import annotations

import re

import shapely
from sqlalchemy import text

from tests.gis.test_topology import _inner_box, _voronoi_layer

COMMUNITY = "510304001999"               # a new community of street 510304001
BOX = (104.56, 29.48, 104.62, 29.52)     # inside the district's extent, west of every demo grid


def _new_community(demo_db) -> None:
    with demo_db.session() as s:
        assert s.execute(text("SELECT count(*) FROM grids WHERE ST_Intersects(geom, ST_MakeEnvelope(:w, :s, :e, :n, "
                              "4326))"), dict(zip("wsen", BOX))).scalar() == 0
        s.execute(text("INSERT INTO communities (code, name, street_code, geom) VALUES (:c, 'test community', "
                       ":street, ST_Multi(ST_MakeEnvelope(:w, :s, :e, :n, 4326)))"), {"c": COMMUNITY, "street": COMMUNITY[:9],
                                                                                        **dict(zip("wsen", BOX))})


def _layer(tmp_path=None):
    grids, community = _voronoi_layer(box=BOX, community=COMMUNITY)
    grids["name"] = [f"cell {i}" for i in range(len(grids))]
    if tmp_path is not None:  # check-grids FILE checks every community it is given: give it this one
        community.to_file(tmp_path / "community.gpkg")
    return grids


def _check(cli, demo_db, src, tmp_path):
    return cli(demo_db, "check-grids", str(src), "--communities", str(tmp_path / "community.gpkg"))


def test_an_exact_lonlat_tiling_is_checked_clean_and_imported(cli, demo_db, tmp_path):
    _new_community(demo_db)
    src = tmp_path / "voronoi.gpkg"
    _layer(tmp_path).to_file(src)
    res = _check(cli, demo_db, src, tmp_path)
    assert res.exit_code == 0 and "no problems" in res.output, res.output
    res = cli(demo_db, "grids", "import", str(src))
    assert res.exit_code == 0, res.output
    with demo_db.session() as s:
        n, gap, over = s.execute(text(
            "SELECT count(*), ST_Area(ST_Difference(c.geom, ST_Union(g.geom))::geography), "
            "ST_Area(ST_Difference(ST_Union(g.geom), c.geom)::geography) FROM grids g JOIN communities c "
            "ON c.code = g.community_code WHERE c.code = :c GROUP BY c.geom"), {"c": COMMUNITY}).one()
    assert n == len(_layer()) and gap < 0.01 and over < 0.01  # PostGIS agrees: it tiles exactly


def test_a_real_gap_and_overlap_report_the_geography_area(cli, demo_db, tmp_path):
    _new_community(demo_db)
    grids = _layer(tmp_path)
    geoms = grids.geometry.to_numpy().copy()
    hole, extra = _inner_box(geoms[0]), _inner_box(geoms[5])
    geoms[0] = shapely.difference(geoms[0], hole)
    geoms[7] = shapely.union(geoms[7], extra)
    src = tmp_path / "broken.gpkg"
    grids.set_geometry(geoms).to_file(src)
    res = _check(cli, demo_db, src, tmp_path)
    assert res.exit_code == 1
    problems = [line.strip() for line in res.output.splitlines() if re.match(r"\s+\w+:", line)]
    assert len(problems) == 2 and "outside" not in res.output, res.output
    gap = float(re.search(r"gap: community \d+ has ([\d.]+) m²", res.output).group(1))
    overlap = float(re.search(r"overlap: grids \d+ and \d+ overlap by ([\d.]+) m²", res.output).group(1))
    with demo_db.session() as s:
        want = [s.execute(text("SELECT ST_Area(ST_GeomFromText(:w, 4326)::geography)"), {"w": g.wkt}).scalar()
                for g in (hole, extra)]
    assert abs(gap - want[0]) < 0.01 * want[0] and abs(overlap - want[1]) < 0.01 * want[1], (gap, overlap, want)
    res = cli(demo_db, "grids", "import", str(src))
    assert res.exit_code == 2 and "gap" in res.output and "overlap" in res.output
