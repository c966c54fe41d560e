"""camera_registry.sync: GB/T 28181 catalogs and Notify applied to the registry (hand-built catalogs, real PostGIS,
the demo district's communities as the locator)."""
from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import text

from camera_registry.catalog import Catalog, CatalogItem
from camera_registry.sync import ItemError, SyncReport, platform_crs, sync_catalog
from gis.errors import InvalidData
from tests.camera_registry.conftest import count, postgis_locate
from tests.settings import DISTRICT

P = "51030400002000000001"
P2 = "51030400002000000002"
LON, LAT = 104.7812, 29.3655  # inside a community of the demo district (Da'an, 凉高山街道)


def item(device_id: str, line: int, event: str | None = None, **elements) -> CatalogItem:
    return CatalogItem(device_id=device_id, elements={"DeviceID": device_id, **elements},
                       where=f"test.xml, message 1, item {line}", line=line, event=event)


def cam_id(serial: int, *, industry: str = "00", kind: str = "132", centre: str = "51030400") -> str:
    return f"{centre}{industry}{kind}0{serial:06d}"[:20]


def cam(serial: int, line: int, event: str | None = None, **over) -> CatalogItem:
    did = over.pop("device_id", None) or cam_id(serial)
    elements = {"Name": f"测试球机{serial}", "Manufacturer": "Hikvision", "Model": "DS-2DE4425IW-DE",
                "Owner": "大安区公安分局", "CivilCode": "51030401", "Block": "凉高山警务区", "Parental": "0",
                "ParentID": "51030400002160000001", "Secrecy": "0", "Status": "ON",
                "Longitude": f"{LON + serial * 2e-4:.6f}", "Latitude": f"{LAT:.6f}", "PTZType": "1"}
    elements.update(over)
    return item(did, line, event, **{k: v for k, v in elements.items() if v is not None})


NODES = [item("510304", 1, Name="大安区"), item("51030401", 2, Name="凉高山街道", ParentID="510304"),
         item("51030400002150000001", 3, Name="天网工程", CivilCode="510304", ParentID=P),
         item("51030400002160000001", 4, Name="䶮山片区", CivilCode="51030401", ParentID="51030400002150000001",
              BusinessGroupID="51030400002150000001")]


def catalog(items, *, platform=P, kind="catalog", complete=True) -> Catalog:
    n = len({i.device_id for i in items})
    return Catalog(platform=platform, kind=kind, items=list(items),
                   sum_num=None if kind == "notify" else (n if complete else n + 3), sources=["test.xml"])


def sync(session, cat, district=DISTRICT, **kw) -> SyncReport:
    return sync_catalog(session, cat, district=district, locate=postgis_locate(session), min_spacing_m=2.0, **kw)


def one(session, sql, **params):
    return session.execute(text(sql), params).one()


def written(session) -> tuple:
    """Every row count a sync could change, and the catalog nodes' and cameras' versions."""
    return (count(session, "cameras"), count(session, "camera_events"), count(session, "camera_revisions"),
            count(session, "audit_log"), count(session, "catalog_nodes"),
            session.execute(text("SELECT coalesce(sum(version), 0) FROM cameras")).scalar(),
            session.execute(text("SELECT coalesce(max(updated_at)::text, '') FROM catalog_nodes")).scalar())


FIRST = [*NODES, cam(1, 5, DirectionType="1", PTZType="0"),
         cam(2, 6, PTZType="6", DirectionType="6"),
         cam(3, 7, device_id=cam_id(3, industry="13")),
         cam(4, 8, device_id="51030401081217123456", Status="OFF", DirectionType="3")]


def test_full_catalog_adds_nodes_and_cameras(demo_session):
    s = demo_session
    before = count(s, "cameras")
    report = sync(s, catalog(FIRST))
    assert (report.added, report.changed, report.retired, report.unchanged, report.errors) == (4, 0, 0, 0, [])
    assert (report.nodes_added, report.nodes_changed, report.nodes_removed) == (4, 0, 0)
    assert count(s, "cameras") == before + 4
    assert count(s, "cameras", "platform = :p", p=P) == report.added
    assert count(s, "camera_events", "event = 'ADD' AND source = :p AND actor = 'catalog'", p=P) == report.added
    kinds = dict(s.execute(text("SELECT node_id, kind FROM catalog_nodes WHERE platform = :p"), {"p": P}).all())
    assert kinds == {"510304": "area", "51030401": "area", "51030400002150000001": "group",
                     "51030400002160000001": "virtual"}
    assert one(s, "SELECT parent_id, business_group_id, civil_code FROM catalog_nodes WHERE node_id = :n",
               n="51030400002160000001") == ("51030400002150000001", "51030400002150000001", "51030401")
    # catalog attributes kept; DirectionType → approximate azimuth; PTZType 0 and 6; industry 13; a sub-unit ID
    c1 = one(s, "SELECT manufacturer, model, owner, civil_code, parent_id, parental, secrecy, ptz_type, direction_type,"
                " azimuth, azimuth_approx, status, community_code IS NOT NULL FROM cameras WHERE device_id = :d",
             d=cam_id(1))
    assert c1 == ("Hikvision", "DS-2DE4425IW-DE", "大安区公安分局", "51030401", "51030400002160000001", 0, 0, 0, 1,
                  90.0, True, "ON", True)
    assert one(s, "SELECT ptz_type, azimuth FROM cameras WHERE device_id = :d", d=cam_id(2)) == (6, 45.0)
    assert one(s, "SELECT status, azimuth FROM cameras WHERE device_id = '51030401081217123456'") == ("OFF", 180.0)
    assert count(s, "cameras", "device_id = :d", d=cam_id(3, industry="13")) == 1
    # the elements without a registry column are reported once each
    assert report.ignored_elements == ["Block"]


def test_sip_server_item_is_a_node_and_notify_removes_nodes(demo_session):
    s = demo_session
    report = sync(s, catalog([item(P, 1, Name="区天网平台", CivilCode="510304"), *NODES]))
    assert report.nodes_added == 5 and report.errors == [] and report.not_cameras == []
    assert one(s, "SELECT kind, name FROM catalog_nodes WHERE platform = :p AND node_id = :p", p=P) == ("sip", "区天网平台")
    report = sync(s, catalog([item("51030400002160000001", 1, "DEL"),
                              item("51030400002150000001", 2, "UPDATE", Name="天网工程二期", CivilCode="510304",
                                   ParentID=P)], kind="notify"))
    assert (report.nodes_removed, report.nodes_changed) == (1, 1)
    assert count(s, "catalog_nodes", "platform = :p", p=P) == 4
    assert one(s, "SELECT name FROM catalog_nodes WHERE node_id = '51030400002150000001'")[0] == "天网工程二期"
    assert count(s, "audit_log", "object_type = 'catalog_node' AND action = 'delete'") == 1


def test_parent_path_keeps_the_direct_parent(demo_session, tmp_path):
    """The reader splits a ParentID path (one place: camera_registry.catalog); the sync stores its last part and
    does not report the kept path as an ignored element."""
    from camera_registry.catalog import read_catalog

    path = f"{P}/51030400002150000001/51030400002160000001"
    body = ('<?xml version="1.0" encoding="UTF-8"?><Response><CmdType>Catalog</CmdType><SN>1</SN>'
            f"<DeviceID>{P}</DeviceID><SumNum>1</SumNum><DeviceList Num=\"1\"><Item>"
            + "".join(f"<{k}>{v}</{k}>" for k, v in cam(1, 1, ParentID=path).elements.items())
            + f"<DeviceID>{cam_id(1)}</DeviceID></Item></DeviceList></Response>")
    (tmp_path / "c.xml").write_text(body, encoding="utf-8")
    report = sync(demo_session, read_catalog(tmp_path / "c.xml"))
    assert one(demo_session, "SELECT parent_id FROM cameras WHERE device_id = :d", d=cam_id(1))[0] == \
        "51030400002160000001"
    assert "ParentPath" not in report.ignored_elements


def test_items_that_are_not_cameras_are_listed_not_refused(demo_session):
    nvr = "51030400001180000001"
    report = sync(demo_session, catalog([cam(1, 1), item(nvr, 2, Name="凉高山NVR", Status="ON")]))
    assert report.errors == [] and report.added == 1
    from camera_registry.gb28181 import type_name

    assert report.not_cameras == [(nvr, "118", type_name("118"))]
    assert count(demo_session, "cameras", "device_id = :d", d=nvr) == 0
    assert any(f"not a camera: DeviceID {nvr} (type 118" in line for line in report.lines())


def test_same_catalog_again_writes_nothing(demo_session):
    s = demo_session
    sync(s, catalog(FIRST))
    before = written(s)
    report = sync(s, catalog(FIRST))
    assert (report.added, report.changed, report.retired, report.status_events) == (0, 0, 0, 0)
    assert report.unchanged == 4 and report.nodes_unchanged == 4 and report.nodes_changed == 0
    assert written(s) == before


def test_later_complete_catalog_changes_retires_and_adds(demo_session):
    s = demo_session
    sync(s, catalog(FIRST))
    events0, revs0 = count(s, "camera_events"), count(s, "camera_revisions")
    later = [*NODES[:3], cam(1, 4, DirectionType="1", PTZType="0", Name="测试球机1（迁移）", Status="OFF"),
             cam(3, 5, device_id=cam_id(3, industry="13")),
             cam(4, 6, device_id="51030401081217123456", Status="ON", DirectionType="3"), cam(5, 7)]
    report = sync(s, catalog(later))
    assert (report.added, report.changed, report.status_events, report.retired, report.unchanged) == (1, 1, 1, 1, 1)
    assert (report.nodes_added, report.nodes_changed, report.nodes_removed, report.nodes_unchanged) == (0, 0, 1, 3)
    assert one(s, "SELECT name, status, version FROM cameras WHERE device_id = :d", d=cam_id(1)) == \
        ("测试球机1（迁移）", "OFF", 2)
    assert one(s, "SELECT lifecycle FROM cameras WHERE device_id = :d", d=cam_id(2))[0] == "retired"
    # one event and one revision per changed camera, each with the platform as source
    assert count(s, "camera_events") - events0 == 4 and count(s, "camera_revisions") - revs0 == 4
    assert count(s, "camera_events", "event = 'DEL' AND source = :p AND device_id = :d", p=P, d=cam_id(2)) == 1
    assert count(s, "camera_events", "event = 'UPDATE' AND source = :p AND device_id = :d", p=P, d=cam_id(1)) == 1
    assert count(s, "camera_events", "event = 'ON' AND source = :p AND device_id = '51030401081217123456'", p=P) == 1
    assert count(s, "catalog_nodes", "platform = :p AND node_id = '51030400002160000001'", p=P) == 0
    # a retired camera listed again is refused (read-only), not revived
    again = [*later, cam(2, 8, PTZType="6", DirectionType="6", Name="复活")]
    with pytest.raises(InvalidData) as exc:
        sync(s, catalog(again))
    assert f"DeviceID {cam_id(2)} (test.xml, message 1, item 8): DeviceID: camera {cam_id(2)} is retired" in \
        str(exc.value.errors[0])


def test_incomplete_catalog_retires_nothing(demo_session):
    s = demo_session
    sync(s, catalog(FIRST))
    report = sync(s, catalog([*NODES[:2], cam(1, 3, DirectionType="1", PTZType="0")], complete=False))
    assert report.retired == 0 and report.nodes_removed == 0 and not report.complete
    assert count(s, "cameras", "platform = :p AND lifecycle = 'active'", p=P) == 4
    assert count(s, "catalog_nodes", "platform = :p", p=P) == 4
    assert any("catalog incomplete" in n and "no camera retired" in n for n in report.notes)


def test_other_platforms_cameras_are_not_retired(demo_session):
    s = demo_session
    sync(s, catalog(FIRST))
    sync(s, catalog([cam(9, 1)], platform=P2))
    assert count(s, "cameras", "platform = :p AND lifecycle = 'active'", p=P) == 4
    assert count(s, "catalog_nodes", "platform = :p", p=P) == 4  # P2's full catalog leaves P's tree alone


def test_notify_each_event(demo_session):
    s = demo_session
    sync(s, catalog(FIRST))
    events0 = count(s, "camera_events")
    notify = catalog([item("51030401081217123456", 1, "ON"), item(cam_id(1), 2, "OFF"), item(cam_id(2), 3, "VLOST"),
                      item(cam_id(3, industry="13"), 4, "DEFECT"), cam(6, 5, "ADD"),
                      cam(2, 6, "UPDATE", PTZType="6", DirectionType="6", Name="测试球机2（更名）", Status="VLOST"),
                      item(cam_id(3, industry="13"), 7, "DEL"), item("51030400002160000003", 8, "ADD", Name="新片区")],
                     kind="notify")
    report = sync(s, notify)
    assert report.errors == []
    assert (report.status_events, report.added, report.changed, report.retired) == (4, 1, 1, 1)
    assert report.nodes_added == 1
    status = dict(s.execute(text("SELECT device_id, status FROM cameras WHERE platform = :p"), {"p": P}).all())
    assert status["51030401081217123456"] == "ON" and status[cam_id(1)] == "OFF" and status[cam_id(2)] == "VLOST"
    assert one(s, "SELECT lifecycle, status FROM cameras WHERE device_id = :d", d=cam_id(3, industry="13")) == \
        ("retired", "DEFECT")
    assert one(s, "SELECT name FROM cameras WHERE device_id = :d", d=cam_id(2))[0] == "测试球机2（更名）"
    new = count(s, "camera_events") - events0
    assert new == 7 == count(s, "camera_events", "source = :p AND id > (SELECT max(id) - 7 FROM camera_events)", p=P)
    assert [r[0] for r in s.execute(text("SELECT event FROM camera_events WHERE device_id = :d ORDER BY id"),
                                    {"d": cam_id(3, industry="13")})] == ["ADD", "DEFECT", "DEL"]
    # the same Notify again: the statuses are as it says, the camera already retired, the node already there
    before = written(s)
    again = sync(s, notify)
    assert (again.status_events, again.added, again.changed, again.retired, again.errors) == (0, 0, 0, 0, [])
    assert again.unchanged == 7 and written(s) == before
    # a status for a retired camera that differs from its last one is refused (its record is read-only)
    with pytest.raises(InvalidData) as exc:
        sync(s, catalog([item(cam_id(3, industry="13"), 1, "ON")], kind="notify"))
    assert isinstance(exc.value.errors[0], ItemError) and "is retired" in str(exc.value.errors[0])


def test_notify_for_unknown_camera_is_refused_by_device_id(demo_session):
    s = demo_session
    sync(s, catalog(FIRST))
    ghost = cam_id(77)
    notify = catalog([item(cam_id(1), 1, "OFF"), item(ghost, 2, "ON")], kind="notify")
    before = written(s)
    with pytest.raises(InvalidData) as exc:
        sync(s, notify)
    assert str(exc.value.errors[0]).startswith(f"DeviceID {ghost} (test.xml, message 1, item 2): DeviceID: no camera")
    assert written(s) == before  # reject: the OFF before it was rolled back too
    report = sync(s, notify, on_error="skip")
    assert report.status_events == 1 and len(report.errors) == 1
    assert one(s, "SELECT status FROM cameras WHERE device_id = :d", d=cam_id(1))[0] == "OFF"


def test_refused_item_named_reject_and_skip(demo_session):
    s = demo_session
    bad = [cam(1, 1), cam(2, 2, PTZType="9"), cam(3, 3, Longitude="", Latitude="")]
    before = written(s)
    with pytest.raises(InvalidData) as exc:
        sync(s, catalog(bad))
    messages = [str(e) for e in exc.value.errors]
    assert messages[0].startswith(f"DeviceID {cam_id(2)} (test.xml, message 1, item 2): PTZType: '9' is not a PTZ")
    assert messages[1].startswith(f"DeviceID {cam_id(3)} (test.xml, message 1, item 3): Longitude/Latitude: ")
    assert written(s) == before
    report = sync(s, catalog(bad), on_error="skip")
    assert report.added == 1 and report.refused == 2
    assert count(s, "cameras", "platform = :p", p=P) == 1


def test_absent_elements_leave_stored_values_position_kept(demo_session):
    s = demo_session
    sync(s, catalog([cam(1, 1, Address="凉高山街道1号")]))
    lonlat = one(s, "SELECT ST_X(geom), ST_Y(geom) FROM cameras WHERE device_id = :d", d=cam_id(1))
    slim = item(cam_id(1), 1, Name="测试球机1", Status="ON", Longitude="0.0", Latitude="0.0")
    report = sync(s, catalog([slim]))
    assert report.unchanged == 1 and report.changed == 0
    assert one(s, "SELECT manufacturer, address, ST_X(geom), ST_Y(geom) FROM cameras WHERE device_id = :d",
               d=cam_id(1)) == ("Hikvision", "凉高山街道1号", *lonlat)
    # present but empty clears
    report = sync(s, catalog([cam(1, 1, Address="")]))
    assert report.changed == 1
    assert one(s, "SELECT address FROM cameras WHERE device_id = :d", d=cam_id(1))[0] is None


def test_surveyed_azimuth_is_not_overwritten_by_direction_type(demo_session):
    s = demo_session
    sync(s, catalog([cam(1, 1, DirectionType="1")]))
    s.execute(text("UPDATE cameras SET azimuth = 200, azimuth_approx = false WHERE device_id = :d"), {"d": cam_id(1)})
    report = sync(s, catalog([cam(1, 1, DirectionType="2")]))
    assert report.changed == 1
    assert one(s, "SELECT direction_type, azimuth, azimuth_approx FROM cameras WHERE device_id = :d",
               d=cam_id(1)) == (2, 200.0, False)


def test_planned_camera_status_is_not_a_catalogs(demo_session):
    from camera_registry.history import add_camera

    s = demo_session
    add_camera(s, {"device_id": cam_id(1), "name": "规划点", "lon": LON + 2e-4, "lat": LAT}, actor="t",
               district=DISTRICT, lifecycle="planned")
    s.execute(text("UPDATE cameras SET platform = :p, status = 'OFF' WHERE device_id = :d"), {"p": P, "d": cam_id(1)})
    with pytest.raises(InvalidData) as exc:
        sync(s, catalog([item(cam_id(1), 1, "ON")], kind="notify"))
    assert "Event: camera" in str(exc.value.errors[0]) and "is planned" in str(exc.value.errors[0])
    with pytest.raises(InvalidData) as exc:
        sync(s, catalog([cam(1, 1, Name="规划点", Status="ON")]))
    assert f"DeviceID {cam_id(1)} (test.xml, message 1, item 1): Status: camera" in str(exc.value.errors[0])
    assert one(s, "SELECT lifecycle, status FROM cameras WHERE device_id = :d", d=cam_id(1)) == ("planned", "OFF")


def test_dry_run_writes_nothing(demo_session):
    s = demo_session
    before = written(s)
    report = sync(s, catalog(FIRST), dry_run=True)
    assert report.dry_run and report.added == 4 and report.nodes_added == 4
    assert written(s) == before
    sync(s, catalog(FIRST))
    before = written(s)
    report = sync(s, catalog([item(cam_id(1), 1, "OFF"), item(cam_id(2), 2, "DEL")], kind="notify"), dry_run=True)
    assert (report.status_events, report.retired) == (1, 1)
    assert written(s) == before
    assert "dry run: " in report.lines()[0] and "would be retired 1" in report.lines()[0]


def test_platform_given_and_checked(demo_session):
    cat = catalog([cam(1, 1)], platform=None)
    with pytest.raises(InvalidData) as exc:
        sync(demo_session, cat)
    assert exc.value.errors[0].field == "platform" and "--platform" in exc.value.errors[0].reason
    with pytest.raises(InvalidData) as exc:
        sync(demo_session, catalog([cam(1, 1)]), platform=P2)
    assert exc.value.errors[0].field == "platform" and P in exc.value.errors[0].reason
    with pytest.raises(InvalidData) as exc:
        sync(demo_session, cat, platform="not a platform!")
    assert exc.value.errors[0].field == "platform"
    assert sync(demo_session, cat, platform=P2).added == 1
    assert count(demo_session, "cameras", "platform = :p", p=P2) == 1


def test_platform_crs_from_setting_option_or_default():
    assert platform_crs(P, None, {}) == "wgs84"
    assert platform_crs(P, None, {P: {"name": "天网", "crs": "GCJ-02"}}) == "gcj02"
    assert platform_crs(P, "cgcs2000", {P: {"name": "天网", "crs": "gcj02"}}) == "cgcs2000"
    assert platform_crs(P2, None, {P: {"crs": "gcj02"}}) == "wgs84"
    with pytest.raises(InvalidData) as exc:
        platform_crs(P, None, {P: {"name": "天网", "crs": "mars"}})
    assert exc.value.errors[0].field == f"video_platforms.{P}.crs" and "mars" in exc.value.errors[0].reason
    with pytest.raises(InvalidData) as exc:
        platform_crs(P, None, {P: "gcj02"})
    assert exc.value.errors[0].field == f"video_platforms.{P}"


def test_gcj02_platform_setting_converts(demo_session):
    from gis.crs import gcj02_to_wgs84, wgs84_to_gcj02

    glon, glat = wgs84_to_gcj02(LON, LAT)
    it = cam(1, 1, Longitude=f"{glon:.10f}", Latitude=f"{glat:.10f}")
    report = sync(demo_session, catalog([it]), platform_settings={P: {"name": "天网", "crs": "gcj02"}})
    assert report.crs == "gcj02" and report.added == 1
    want = gcj02_to_wgs84(float(it.elements["Longitude"]), float(it.elements["Latitude"]))
    x, y, src = one(demo_session, "SELECT ST_X(geom), ST_Y(geom), source_crs FROM cameras WHERE device_id = :d",
                    d=cam_id(1))
    assert abs(x - want[0]) < 1e-9 and abs(y - want[1]) < 1e-9 and src == "gcj02"
    assert abs(x - glon) > 1e-3 and abs(x - LON) < 1e-8  # not stored as the file wrote it: back at WGS-84


def test_centre_prefix_setting(demo_session):
    other = "51039900001320000001"  # a platform prefix outside the county
    with pytest.raises(InvalidData) as exc:
        sync(demo_session, catalog([cam(1, 1, device_id=other)]))
    assert "centre code" in str(exc.value.errors[0]) and f"DeviceID {other}" in str(exc.value.errors[0])
    district = dataclasses.replace(DISTRICT, camera_extra_prefixes=("510399",))
    assert sync(demo_session, catalog([cam(1, 1, device_id=other)]), district=district).added == 1


def test_duplicate_item_and_bad_node_are_refused(demo_session):
    cat = catalog([item("510304", 1, Name="大安区"), item("510304", 2, Name="又一个"),
                   item("51030400002150000009", 3, Name="", CivilCode="5"), cam(1, 4)])
    with pytest.raises(InvalidData) as exc:
        sync(demo_session, cat)
    text_ = [str(e) for e in exc.value.errors]
    assert text_[0] == "DeviceID 510304 (test.xml, message 1, item 2): DeviceID: already listed " \
                       "(test.xml, message 1, item 1)"
    assert any(t.startswith("DeviceID 51030400002150000009 (test.xml, message 1, item 3): Name: missing")
               for t in text_)
    assert any("CivilCode: '5' is not a code" in t for t in text_)
    assert count(demo_session, "catalog_nodes") == 0 and count(demo_session, "cameras", "platform = :p", p=P) == 0
