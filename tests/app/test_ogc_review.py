"""Review findings of the OGC API, each a test: tracks scoped per grid, degenerate and reversed boxes, digit
look-alikes in feature ids, computed collections on a database whose owner is not a superuser."""
from __future__ import annotations

import base64

from sqlalchemy import text

from tests.app.dash_helpers import lead_grid  # noqa: F401  (fixture)
from tests.app.test_ogc import ADMIN, get

LEAD = {"Authorization": "Basic " + base64.b64encode(b"lead:demo-lead-pw").decode()}


def test_a_lead_sees_only_the_parts_of_tracks_recorded_in_its_grids(client, demo_db, lead_grid):
    fc = get(client, "/ogc/collections/patrol_tracks/items?limit=10000", headers=LEAD).get_json()
    assert fc["features"], "the lead's grid has patrols in the demo"
    assert {f["properties"]["grid_code"] for f in fc["features"]} == {lead_grid}
    with demo_db.session() as s:
        # the oracle: every point of the lead's tracks lies in the lead's grid (points outside are another line)
        for f in fc["features"][:20]:
            member, day = f["properties"]["member_id"], f["properties"]["track_id"]
            n = s.execute(text(
                "SELECT count(*) FROM patrol_points WHERE member_id = :m AND grid_code = :g "
                "AND COALESCE(track_id, to_char(at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')) = :t"),
                {"m": member, "g": lead_grid, "t": day}).scalar()
            assert n == f["properties"]["points"] == len(f["geometry"]["coordinates"])


def test_a_point_box_in_a_latitude_first_crs_is_answered_and_a_reversed_one_named(client, lead_grid):
    crs = "http://www.opengis.net/def/crs/EPSG/0/4490"
    r = client.get(f"/ogc/collections/cameras/items?bbox=29.35,104.77,29.35,104.77&bbox-crs={crs}", headers=ADMIN)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    r = client.get(f"/ogc/collections/cameras/items?bbox=29.40,104.70,29.30,104.70&bbox-crs={crs}", headers=ADMIN)
    assert r.status_code == 400 and "bbox" in r.get_json()["description"]
    r = client.get("/ogc/collections/cameras/items?bbox=1,2,1,2&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4544",
                   headers=ADMIN)
    assert r.status_code < 500


def test_a_digit_look_alike_feature_id_is_a_404(client, lead_grid):
    for fid in ("²", "٣", "１"):
        r = client.get(f"/ogc/collections/incidents/items/{fid}", headers=ADMIN)
        assert r.status_code == 404, (fid, r.status_code)


def test_the_computed_layers_key_needs_no_superuser(demo_db):
    from app.ogc.computed import _database_key

    with demo_db.session() as s:
        s.execute(text("CREATE ROLE gw_plain_owner NOSUPERUSER"))
        s.execute(text("SET LOCAL ROLE gw_plain_owner"))
        key = _database_key(s)  # data_directory, read before, raised "must be superuser" here
        database = s.execute(text("SELECT current_database()")).scalar()
        s.execute(text("RESET ROLE"))
    assert key.startswith(database + "@")
