"""The shared upload store (app.uploads): token, ownership, expiry, sweep, sidecars, areas kept apart.

Real files in a temporary ``var``; the clock is the ``now`` every call takes."""
from __future__ import annotations

import io
import json
import os
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from app.uploads import TOKEN, UploadStore
from gis.errors import InvalidData, NotFound

ALICE = SimpleNamespace(id=7, username="alice")
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def cams(tmp_path):
    return UploadStore(tmp_path, "cameras", (".csv", ".zip"), what="a camera table")


@pytest.fixture
def bnds(tmp_path):
    return UploadStore(tmp_path, "boundaries", (".geojson", ".json", ".zip"), ttl_s=600, what="a grid layer")


def _save(store, user=ALICE, name="点位 1.csv", data=b"a,b\n1,2\n", now=T0, **options):
    return store.save(user, name, io.BytesIO(data), options, now=now)


def test_save_keeps_the_file_under_its_name_and_a_record(cams, tmp_path):
    up = _save(cams, crs="gcj02", on_error="skip")
    assert up.folder == tmp_path / "uploads" / "cameras" / up.token
    assert up.path == up.folder / "file" / "点位 1.csv" and up.path.read_bytes() == b"a,b\n1,2\n"
    meta = json.loads((up.folder / "meta.json").read_text(encoding="utf-8"))
    assert meta == {"user_id": 7, "username": "alice", "created": T0.isoformat(), "filename": "点位 1.csv",
                    "crs": "gcj02", "on_error": "skip"}
    assert up["crs"] == "gcj02" and up.get("result") is None and up.expires == T0 + timedelta(hours=1)
    assert sorted(p.name for p in up.folder.iterdir()) == ["file", "meta.json"]   # no temporary left


def test_tokens_are_random_url_safe_and_32_long(cams):
    tokens = {_save(cams).token for _ in range(50)}
    assert len(tokens) == 50 and all(TOKEN.fullmatch(t) for t in tokens)
    assert sorted(p.name for p in cams.root.iterdir()) == sorted(tokens)


def test_only_the_owner_loads_it_and_nothing_is_named(cams):
    up = _save(cams)
    assert cams.load(ALICE, up.token, now=T0).meta == up.meta
    answers = []
    for user in (SimpleNamespace(id=8, username="alice"), SimpleNamespace(id=7, username="bob")):
        with pytest.raises(NotFound) as exc:
            cams.load(user, up.token, now=T0)
        answers.append(str(exc.value))
    for bad in ("x" * 32, up.token[:-1], up.token + "a", "../" + up.token[3:], "", None, 42):
        with pytest.raises(NotFound) as exc:
            cams.load(ALICE, bad, now=T0)
        answers.append(str(exc.value))
    assert len(set(answers)) == 1 and up.token not in answers[0] and "alice" not in answers[0]
    assert "点位" not in answers[0]
    assert cams.load(ALICE, up.token, now=T0).token == up.token     # the strangers changed nothing


def test_it_expires_after_its_ttl_and_is_forgotten(cams, bnds):
    up = _save(cams)
    assert cams.load(ALICE, up.token, now=T0 + timedelta(seconds=3599)).token == up.token
    with pytest.raises(NotFound):
        cams.load(ALICE, up.token, now=T0 + timedelta(seconds=3600))
    assert not up.folder.exists()
    short = _save(bnds, name="g.geojson")
    assert short.expires == T0 + timedelta(minutes=10)
    with pytest.raises(NotFound) as exc:
        bnds.load(ALICE, short.token, now=T0 + timedelta(minutes=10))
    assert "10 minutes" in str(exc.value)


def test_sweep_removes_what_expired_and_lost_records_only(cams):
    old, new = _save(cams, now=T0), _save(cams, now=T0 + timedelta(minutes=30))
    lost = cams.root / ("L" * 32)                      # a folder whose record was lost
    lost.mkdir()
    young_lost = cams.root / ("Y" * 32)
    young_lost.mkdir()
    past = (T0 - timedelta(hours=2)).timestamp()
    os.utime(lost, (past, past))
    os.utime(young_lost, ((T0 + timedelta(minutes=59)).timestamp(),) * 2)
    other = cams.root / "notes"                        # not named like a token: never the store's
    other.mkdir()
    assert cams.sweep(now=T0 + timedelta(minutes=59)) == 1          # nothing expired yet but the lost one
    assert not lost.exists()
    assert cams.sweep(now=T0 + timedelta(minutes=60)) == 1
    assert not old.folder.exists() and new.folder.exists() and young_lost.exists()
    assert cams.sweep(now=T0 + timedelta(hours=3)) == 2
    assert sorted(p.name for p in cams.root.iterdir()) == ["notes"]


def test_a_new_upload_sweeps_the_expired_ones(cams):
    old = _save(cams, now=T0)
    new = _save(cams, now=T0 + timedelta(hours=2))
    assert [p.name for p in cams.root.iterdir()] == [new.token] and not old.folder.exists()


def test_sidecars_and_updates_are_kept_whole(cams):
    up = _save(cams, on_error="reject")
    assert cams.get(up, "dry_run") is None
    report = {"errors": [{"line": 3, "field": "azimuth", "reason": "400 > 360"}], "名": "值"}
    cams.put(up, "dry_run", report)
    assert cams.get(up, "dry_run") == report
    cams.put(up, "dry_run", {"errors": []})
    assert cams.get(up, "dry_run") == {"errors": []}
    done = cams.update(up, result={"added": 2})
    assert done["result"] == {"added": 2} and done["on_error"] == "reject"
    again = cams.load(ALICE, up.token, now=T0)
    assert again.meta == done.meta and cams.get(again, "dry_run") == {"errors": []}
    assert not [p for p in up.folder.iterdir() if p.suffix == ".tmp"]
    for name in ("meta", "../meta", "a/b", "", "X"):
        with pytest.raises(ValueError):
            cams.put(up, name, {})
    with pytest.raises(ValueError):
        cams.update(up, user_id=8)                     # the owner is not an option
    with pytest.raises(ValueError):
        _save(cams, username="mallory")


def test_drop_file_keeps_the_record_and_drop_forgets_all(cams):
    up = _save(cams)
    cams.put(up, "dry_run", {"ok": True})
    cams.drop_file(cams.update(up, result={"added": 1}))
    assert not up.path.exists() and not up.path.parent.exists()
    kept = cams.load(ALICE, up.token, now=T0)
    assert kept["result"] == {"added": 1} and cams.get(kept, "dry_run") == {"ok": True}
    cams.drop(up.token)
    assert not up.folder.exists()
    with pytest.raises(NotFound):
        cams.load(ALICE, up.token, now=T0)
    cams.drop("../cameras")                            # not a token: nothing happens
    assert cams.root.is_dir()


def test_two_areas_never_see_each_others_uploads(cams, bnds):
    cam = _save(cams, name="c.zip")
    bnd = _save(bnds, name="g.zip")
    assert cams.root.parent == bnds.root.parent and cams.root != bnds.root
    with pytest.raises(NotFound):
        bnds.load(ALICE, cam.token, now=T0)
    with pytest.raises(NotFound):
        cams.load(ALICE, bnd.token, now=T0)
    bnds.drop(cam.token)
    assert cam.folder.exists()
    # the boundaries' TTL (10 min) is past: their sweep takes theirs, never the cameras'
    assert bnds.sweep(now=T0 + timedelta(minutes=30)) == 1
    assert cam.folder.exists() and not bnd.folder.exists()
    assert cams.sweep(now=T0 + timedelta(minutes=30)) == 0


def test_file_names_are_checked_against_the_areas_suffixes(cams, bnds):
    assert cams.check_filename("C:\\Users\\me\\点位.CSV") == "点位.CSV"
    assert bnds.check_filename("/tmp/x/网格.json") == "网格.json"
    cases = [(cams, "g.geojson", ".geojson: upload a camera table as one of .csv, .zip"),
             (bnds, "c.csv", ".csv: upload a grid layer as one of .geojson, .json, .zip"),
             (cams, "c.shp", "zipped together (.zip)"), (cams, "", "choose a camera table"),
             (bnds, None, "choose a grid layer"), (cams, ".csv", "one of"), (cams, "a\u202eb.csv", ""),
             (cams, "x" * 117 + ".csv", "")]
    for store, name, reason in cases:
        with pytest.raises(InvalidData) as exc:
            store.check_filename(name)
        (error,) = exc.value.errors
        assert error.field == "file" and reason in error.reason, (name, error.reason)
    assert cams.check_filename("x" * 116 + ".csv")      # 120 characters in all
    with pytest.raises(InvalidData):
        _save(cams, name="g.geojson")
    assert not cams.root.exists()                       # a refused name keeps nothing


def test_a_failed_copy_leaves_nothing(cams):
    class Broken(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, b):
            raise OSError("connection reset")

    with pytest.raises(OSError):
        cams.save(ALICE, "c.csv", Broken(), {}, now=T0)
    assert list(cams.root.iterdir()) == []
