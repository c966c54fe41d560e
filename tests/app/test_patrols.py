"""Patrol tracks on the demo district: planted tracks with known minutes, road share against PostGIS."""
from __future__ import annotations

import csv
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import gpxpy.gpx
import pandas as pd
import pytest
from sqlalchemy import text

from app.patrols.importer import import_patrols
from app.patrols.service import patrol_report, unpatrolled_grids
from gis.errors import InvalidData
from tests.settings import TEST_SETTINGS

CST = timezone(timedelta(hours=8))
DAY1, DAY2 = date(2026, 4, 6), date(2026, 4, 7)


@pytest.fixture
def setup(demo_session):
    """A grid with a lead and a road piece inside it, points along that road, and a far grid."""
    demo_session.execute(text("DELETE FROM patrol_points"))  # the demo's own recent tracks: the tests count theirs
    row = demo_session.execute(text(
        "WITH piece AS (SELECT g.code, r.member_id, m.external_id, (ST_Dump(ST_Intersection(rd.geom, g.geom))).geom AS "
        "geom FROM grids g JOIN member_roles r ON r.grid_code = g.code AND r.role = 'lead' JOIN members m "
        "ON m.id = r.member_id JOIN roads rd ON ST_Intersects(rd.geom, g.geom)) "
        "SELECT code, member_id, external_id, ST_AsText(geom) FROM piece WHERE GeometryType(geom) = 'LINESTRING' "
        "ORDER BY ST_Length(geom::geography) DESC LIMIT 1")).one()
    grid, member, ext, _ = row
    pts = demo_session.execute(text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(ST_GeomFromText(:w, 4326), 0.1 + 0.8 * k / 9.0) "
        "AS p FROM generate_series(0, 9) AS k ORDER BY k) s"), {"w": row[3]}).all()
    far = demo_session.execute(text(
        "SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM grids "
        "WHERE NOT ST_DWithin(geom, (SELECT geom FROM grids WHERE code = :g), 0.02) ORDER BY code LIMIT 1"),
        {"g": grid}).one()
    return {"grid": grid, "member": member, "ext": ext, "pts": [tuple(p) for p in pts], "far": far}


def _csv(path: Path, rows) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["member_id", "time", "lon", "lat"])
        w.writerows(rows)
    return path


def _planted(setup, tmp_path):
    t1 = datetime(2026, 4, 6, 9, 0, tzinfo=CST)
    rows = [(setup["ext"], (t1 + timedelta(minutes=2 * k)).isoformat(), x, y) for k, (x, y) in enumerate(setup["pts"])]
    t2 = datetime(2026, 4, 7, 9, 0, tzinfo=CST)
    (x0, y0), far = setup["pts"][0], setup["far"]
    times = [0, 2, 4, 34, 35, 36]     # 2 + 2, then a 30-minute gap (capped at 10), then out and back in
    where = [(x0, y0)] * 4 + [(far[1], far[2]), (x0, y0)]
    rows += [(setup["ext"], (t2 + timedelta(minutes=m)).isoformat(), x, y) for m, (x, y) in zip(times, where)]
    return _csv(tmp_path / "track.csv", rows)


def test_minutes_and_road_share_on_planted_tracks(demo_session, setup, tmp_path):
    rep = import_patrols(demo_session, _planted(setup, tmp_path), settings=TEST_SETTINGS)
    assert (rep.points, rep.inserted) == (16, 16)
    frame = patrol_report(demo_session, DAY1, DAY2, [setup["grid"]], settings=TEST_SETTINGS)
    mine = frame[frame["member_id"] == setup["member"]].set_index("day")
    assert mine.loc[DAY1, "minutes_in_grid"] == pytest.approx(18.0)
    assert mine.loc[DAY2, "minutes_in_grid"] == pytest.approx(4 + 10)
    assert mine.loc[DAY2, "points"] == 5
    line = "LINESTRING(" + ", ".join(f"{x!r} {y!r}" for x, y in setup["pts"]) + ")"
    oracle = demo_session.execute(text(
        "WITH r AS (SELECT ST_Transform(ST_Intersection(ST_Collect(rd.geom), g.geom), 4544) AS geom FROM grids g "
        "JOIN roads rd ON ST_Intersects(rd.geom, g.geom) WHERE g.code = :g GROUP BY g.geom), "
        "b AS (SELECT ST_Buffer(ST_Transform(ST_GeomFromText(:t, 4326), 4544), 30) AS geom) "
        "SELECT ST_Length(r.geom), ST_Length(ST_Intersection(r.geom, b.geom)) FROM r, b"),
        {"g": setup["grid"], "t": line}).one()
    assert mine.loc[DAY1, "road_length_m"] == pytest.approx(oracle[0], abs=0.2)
    assert mine.loc[DAY1, "road_covered_m"] == pytest.approx(oracle[1], abs=0.5)
    assert mine.loc[DAY1, "road_share"] == pytest.approx(oracle[1] / oracle[0], abs=1e-3)
    assert 0 < mine.loc[DAY1, "road_share"] < 1


def test_import_is_idempotent_and_gpx_works(demo_session, setup, tmp_path):
    path = _planted(setup, tmp_path)
    import_patrols(demo_session, path, settings=TEST_SETTINGS)
    again = import_patrols(demo_session, path, settings=TEST_SETTINGS)
    assert (again.inserted, again.existing) == (0, 16)
    gpx = gpxpy.gpx.GPX()
    track = gpxpy.gpx.GPXTrack(name="morning")
    seg = gpxpy.gpx.GPXTrackSegment()
    t = datetime(2026, 4, 8, 1, 0, tzinfo=timezone.utc)  # 09:00 district time
    for k, (x, y) in enumerate(setup["pts"][:4]):
        seg.points.append(gpxpy.gpx.GPXTrackPoint(y, x, time=t + timedelta(minutes=3 * k)))
    track.segments.append(seg)
    gpx.tracks.append(track)
    (tmp_path / "t.gpx").write_text(gpx.to_xml(), encoding="utf-8")
    with pytest.raises(InvalidData, match="--member"):
        import_patrols(demo_session, tmp_path / "t.gpx", settings=TEST_SETTINGS)
    assert import_patrols(demo_session, tmp_path / "t.gpx", member=setup["ext"], settings=TEST_SETTINGS).inserted == 4
    day3 = patrol_report(demo_session, date(2026, 4, 8), date(2026, 4, 8), [setup["grid"]], settings=TEST_SETTINGS)
    assert day3.set_index("member_id").loc[setup["member"], "minutes_in_grid"] == pytest.approx(9.0)


def test_bad_rows_are_reported(demo_session, setup, tmp_path):
    path = _csv(tmp_path / "bad.csv", [("M99999", "2026-04-06T09:00:00+08:00", 104.7, 29.35),
                                       (setup["ext"], "yesterday", 104.7, 29.35),
                                       (setup["ext"], "2026-04-06T09:00:00+08:00", 29.35, 104.7)])
    with pytest.raises(InvalidData) as err:
        import_patrols(demo_session, path, settings=TEST_SETTINGS)
    assert {(e.line, e.field) for e in err.value.errors} == {(2, "member_id"), (3, "time"), (4, "lon/lat")}
    assert demo_session.execute(text("SELECT count(*) FROM patrol_points")).scalar() == 0


def test_unpatrolled_grids(demo_session, setup, tmp_path):
    import_patrols(demo_session, _planted(setup, tmp_path), settings=TEST_SETTINGS)
    now = datetime(2026, 4, 8, 12, 0, tzinfo=CST)
    codes = [setup["grid"], setup["far"][0]]
    # the far grid got one point on day 2, so both were patrolled within 3 days; neither within 12 hours
    assert list(unpatrolled_grids(demo_session, 3, codes, now=now)["grid_code"]) == []
    assert sorted(unpatrolled_grids(demo_session, 0.5, codes, now=now)["grid_code"]) == sorted(codes)
    late = unpatrolled_grids(demo_session, 1, codes, now=now + timedelta(days=1))
    assert sorted(late["grid_code"]) == sorted(codes)
    assert unpatrolled_grids(demo_session, 2, codes, now=now + timedelta(hours=10))["grid_code"].tolist() == []


def test_cli_import_and_report(cli, demo_db, setup, tmp_path):
    path = _planted(setup, tmp_path)
    out = cli(demo_db, "patrols", "import", str(path))
    assert out.exit_code == 0 and "inserted 16" in out.stdout
    report = tmp_path / "r.csv"
    res = cli(demo_db, "patrols", "report", "--from", "2026-04-06", "--to", "2026-04-07", "--grid", setup["grid"],
              "--out", str(report))
    assert res.exit_code == 0
    import pandas as pd

    frame = pd.read_csv(report, encoding="utf-8-sig")
    assert set(frame["grid_code"].astype(str)) == {setup["grid"]} and 18.0 in set(frame["minutes_in_grid"])


def _stored(session) -> list[tuple]:
    """(member, instant, lon, lat) of every stored point, as PostGIS has them."""
    rows = session.execute(text(
        "SELECT member_id, at, ST_X(geom), ST_Y(geom) FROM patrol_points ORDER BY member_id, at")).all()
    return [(m, at, round(x, 9), round(y, 9)) for m, at, x, y in rows]


def _mixed(setup, tmp_path) -> tuple[Path, list[tuple], set[tuple]]:
    """A CSV of good and bad rows; the good rows as (member, instant, lon, lat) and the bad as (line, field)."""
    (x0, y0), (x1, y1) = setup["pts"][0], setup["pts"][1]
    t = datetime(2026, 4, 6, 9, 0, tzinfo=CST)
    rows = [
        (setup["ext"], t.isoformat(), x0, y0),                                # 2 good
        ("M99999", (t + timedelta(minutes=1)).isoformat(), x0, y0),           # 3 unknown member
        (setup["ext"], "yesterday", x0, y0),                                  # 4 unparseable time
        (setup["ext"], (t + timedelta(minutes=2)).isoformat(), y1, x1),       # 5 lat/lon swapped
        (setup["ext"], "2026-04-06 09:03:00", x1, y1),                        # 6 good (district time, no offset)
        (setup["ext"], (t + timedelta(minutes=4)).isoformat(), 104.0, 29.35),  # 7 outside the district
        (setup["ext"], "", x1, y1),                                           # 8 missing time
        ("", (t + timedelta(minutes=5)).isoformat(), x1, y1),                 # 9 missing member
        (setup["ext"], (t + timedelta(minutes=6)).isoformat(), "abc", y1),    # 10 lon not a number
        (str(setup["member"]), (t + timedelta(minutes=7)).isoformat(), x0, y0),  # 11 good (numeric member id)
        (setup["ext"], t.isoformat(), x1, y1),                                # 12 same member and instant as 2
    ]
    good = [(setup["member"], t, x0, y0), (setup["member"], t + timedelta(minutes=3), x1, y1),
            (setup["member"], t + timedelta(minutes=7), x0, y0)]
    bad = {(3, "member_id"), (4, "time"), (5, "lon/lat"), (7, "lon/lat"), (8, "time"), (9, "member_id"),
           (10, "lon")}
    return _csv(tmp_path / "mixed.csv", rows), [(m, at, round(x, 9), round(y, 9)) for m, at, x, y in good], bad


def test_reject_writes_nothing_and_names_every_bad_row(demo_session, setup, tmp_path):
    path, _, bad = _mixed(setup, tmp_path)
    with pytest.raises(InvalidData) as err:
        import_patrols(demo_session, path, settings=TEST_SETTINGS)
    got = {(e.line, e.field) for e in err.value.errors}
    assert got == bad and len(err.value.errors) == len(bad)
    assert "swapped" in " ".join(e.reason for e in err.value.errors if e.line == 5)
    assert "outside" in " ".join(e.reason for e in err.value.errors if e.line == 7)
    assert demo_session.execute(text("SELECT count(*) FROM patrol_points")).scalar() == 0


def test_skip_writes_exactly_the_good_rows(demo_session, setup, tmp_path):
    path, good, bad = _mixed(setup, tmp_path)
    rep = import_patrols(demo_session, path, on_error="skip", settings=TEST_SETTINGS)
    assert (rep.points, rep.rejected, rep.inserted, rep.existing) == (11, 7, 3, 1)  # line 12 repeats line 2
    assert {e.line for e in rep.errors} == {line for line, _ in bad}
    assert _stored(demo_session) == good
    grids = demo_session.execute(text("SELECT DISTINCT grid_code FROM patrol_points")).scalars().all()
    assert grids == [setup["grid"]]  # the setup's points lie on a road inside its grid
    again = import_patrols(demo_session, path, on_error="skip", settings=TEST_SETTINGS)
    assert (again.inserted, again.existing, again.rejected) == (0, 4, 7)
    assert _stored(demo_session) == good


def test_dry_run_counts_and_writes_nothing(demo_session, setup, tmp_path):
    path, good, _ = _mixed(setup, tmp_path)
    with pytest.raises(InvalidData):
        import_patrols(demo_session, path, dry_run=True, settings=TEST_SETTINGS)  # reject still lists every problem
    rep = import_patrols(demo_session, path, dry_run=True, on_error="skip", settings=TEST_SETTINGS)
    assert (rep.inserted, rep.existing, rep.rejected, rep.dry_run) == (3, 1, 7, True)
    assert "would insert 3" in rep.summary()
    assert _stored(demo_session) == []
    import_patrols(demo_session, path, on_error="skip", settings=TEST_SETTINGS)
    assert (import_patrols(demo_session, path, dry_run=True, on_error="skip", settings=TEST_SETTINGS).inserted) == 0
    assert _stored(demo_session) == good


def _gpx_with_bad_points(setup, tmp_path) -> Path:
    """Five track points: the 2nd lies far outside the district, the 4th has no time."""
    gpx = gpxpy.gpx.GPX()
    track = gpxpy.gpx.GPXTrack(name="evening")
    seg = gpxpy.gpx.GPXTrackSegment()
    t = datetime(2026, 4, 9, 10, 0, tzinfo=timezone.utc)
    pts = list(setup["pts"][:5])
    pts[1] = (103.5, 30.1)
    for k, (x, y) in enumerate(pts):
        seg.points.append(gpxpy.gpx.GPXTrackPoint(y, x, time=None if k == 3 else t + timedelta(minutes=k)))
    track.segments.append(seg)
    gpx.tracks.append(track)
    path = tmp_path / "evening.gpx"
    path.write_text(gpx.to_xml(), encoding="utf-8")
    return path


def test_gpx_bad_points_are_named_by_their_line_in_the_file(demo_session, setup, tmp_path):
    path = _gpx_with_bad_points(setup, tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines()
    trkpt = [i for i, line in enumerate(lines, start=1) if "<trkpt" in line]
    assert len(trkpt) == 5
    with pytest.raises(InvalidData) as err:
        import_patrols(demo_session, path, member=setup["ext"], settings=TEST_SETTINGS)
    assert {(e.line, e.field) for e in err.value.errors} == {(trkpt[1], "lon/lat"), (trkpt[3], "time")}
    assert _stored(demo_session) == []
    rep = import_patrols(demo_session, path, member=setup["ext"], on_error="skip", settings=TEST_SETTINGS)
    assert (rep.inserted, rep.rejected) == (3, 2)
    t = datetime(2026, 4, 9, 10, 0, tzinfo=timezone.utc)
    assert _stored(demo_session) == [(setup["member"], t + timedelta(minutes=k), round(x, 9), round(y, 9))
                                     for k, (x, y) in enumerate(setup["pts"][:5]) if k in (0, 2, 4)]


def test_cli_on_error_skip_and_dry_run(cli, demo_db, setup, tmp_path):
    path, good, bad = _mixed(setup, tmp_path)
    out = cli(demo_db, "patrols", "import", str(path))
    assert out.exit_code == 2
    for line, _ in bad:
        assert f"line {line}," in out.stderr
    dry = cli(demo_db, "patrols", "import", str(path), "--on-error", "skip", "--dry-run")
    assert dry.exit_code == 0 and "dry run: 11 points: would insert 3" in dry.stdout
    assert "skipped: line 3, field 'member_id'" in dry.stderr
    with demo_db.Session() as s:
        assert _stored(s) == []
    done = cli(demo_db, "patrols", "import", str(path), "--on-error", "skip")
    assert done.exit_code == 0 and "inserted 3, already stored 1, bad rows skipped 7" in done.stdout
    with demo_db.Session() as s:
        assert _stored(s) == good


def test_gpx_on_one_line_numbers_its_points(demo_session, setup, tmp_path):
    path = _gpx_with_bad_points(setup, tmp_path)
    path.write_text("".join(line.strip() for line in path.read_text(encoding="utf-8").splitlines()), encoding="utf-8")
    with pytest.raises(InvalidData) as err:
        import_patrols(demo_session, path, member=setup["ext"], settings=TEST_SETTINGS)
    assert {(e.line, e.field) for e in err.value.errors} == {(2, "lon/lat"), (4, "time")}


@pytest.mark.parametrize("content", [b"", b"member_id,time,lon,lat\n"])
def test_empty_file_is_a_clear_error(demo_session, cli, demo_db, tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidData, match="file is empty|no rows"):
        import_patrols(demo_session, path, settings=TEST_SETTINGS)
    res = cli(demo_db, "patrols", "import", str(path))
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_far_times_long_tracks_and_nul_members_are_refused_by_row(demo_session, setup, tmp_path):
    (x, y), ext = setup["pts"][0], setup["ext"]
    path = tmp_path / "t.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["member_id", "track_id", "time", "lon", "lat"])
        w.writerow([ext, "ok", "2026-04-06T09:00:00+08:00", x, y])                 # line 2: good
        w.writerow([ext, "ok", "2099-04-06T09:00:00+08:00", x, y])                 # line 3: the future
        w.writerow([ext, "ok", "2009-12-31T23:59:00+08:00", x, y])                 # line 4: before data_start_date
        w.writerow([ext, "t" * 61, "2026-04-06T09:02:00+08:00", x, y])             # line 5: was cut to 60
        w.writerow([ext + "\x00", "ok", "2026-04-06T09:04:00+08:00", x, y])        # line 6: NUL reached the database
        w.writerow([ext, "a\u202eb", "2026-04-06T09:06:00+08:00", x, y])           # line 7: bidi override
    with pytest.raises(InvalidData) as err:
        import_patrols(demo_session, path, settings=TEST_SETTINGS)
    got = {(e.line, e.field): e.reason for e in err.value.errors}
    assert set(got) == {(3, "time"), (4, "time"), (5, "track_id"), (6, "member_id"), (7, "track_id")}
    assert "more than a day in the future" in got[(3, "time")] and "2010-01-01" in got[(4, "time")]
    assert "is 61 characters long; at most 60 allowed" in got[(5, "track_id")]
    assert "U+0000 (NUL)" in got[(6, "member_id")] and "U+202E" in got[(7, "track_id")]
    rep = import_patrols(demo_session, path, on_error="skip", settings=TEST_SETTINGS)
    assert (rep.inserted, rep.rejected) == (1, 5)
    assert demo_session.execute(text("SELECT track_id FROM patrol_points")).scalars().all() == ["ok"]


def test_a_report_for_some_grids_is_the_district_report_of_those_grids(demo_session):
    """The demo's own recent tracks (every member): asking for a lead's grids gives exactly the district
    report's rows of those grids, members assigned elsewhere left out in SQL."""
    newest = demo_session.execute(text("SELECT max(at) FROM patrol_points")).scalar()
    assert newest is not None, "the demo has patrol points"
    day_to = newest.astimezone(CST).date()
    day_from = day_to - timedelta(days=6)
    district = patrol_report(demo_session, day_from, day_to, settings=TEST_SETTINGS)
    lead = demo_session.execute(text("SELECT member_id FROM member_roles WHERE role = 'lead' GROUP BY member_id "
                                     "ORDER BY count(*) DESC, member_id LIMIT 1")).scalar()
    grids = sorted(demo_session.execute(text("SELECT grid_code FROM member_roles WHERE member_id = :m"),
                                        {"m": lead}).scalars())
    scoped = patrol_report(demo_session, day_from, day_to, grids, settings=TEST_SETTINGS)
    want = district[district["grid_code"].isin(grids)].reset_index(drop=True)
    assert len(scoped) > 0 and district["member_id"].nunique() > scoped["member_id"].nunique()
    pd.testing.assert_frame_equal(scoped.reset_index(drop=True), want)
    assert patrol_report(demo_session, day_from, day_to, [], settings=TEST_SETTINGS).empty
