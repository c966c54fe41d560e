"""camera_registry.catalog: GB/T 28181 catalog and Notify bodies and wvp-GB28181-pro exports, read from the
samples in tests/data/catalog (README.md there says what each holds) and from bodies written here."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from camera_registry import catalog as cat
from camera_registry.catalog import read_catalog, is_catalog
from camera_registry.gb28181 import parse_device_id
from camera_registry.schema import canonical_header
from gis.crs import gcj02_to_wgs84
from gis.errors import InvalidData

DATA = Path(__file__).resolve().parents[1] / "data" / "catalog"
PLATFORM = "51030400002000000001"
GROUP, VIRTUAL = "51030400002150000001", "51030400002160000001"
CAM_A, CAM_B, CAM_C, CAM_D = ("51030400001320000001", "51030400001320000002", "51030400131320000003",
                              "51030401081217123456")


def body(items: str, *, sum_num="3", sn="7", platform=PLATFORM, root="Response", cmd="Catalog",
         encoding="UTF-8", num=None) -> str:
    n = items.count("<Item>") if num is None else num
    decl = f'<?xml version="1.0" encoding="{encoding}"?>\n' if encoding else ""
    sn_el = f"<SN>{sn}</SN>" if sn is not None else ""
    sum_el = f"<SumNum>{sum_num}</SumNum>" if sum_num is not None else ""
    return (f"{decl}<{root}><CmdType>{cmd}</CmdType>{sn_el}<DeviceID>{platform}</DeviceID>{sum_el}"
            f'<DeviceList Num="{n}">{items}</DeviceList></{root}>\n')


def item(did: str | None, name: str = "摄像机", extra: str = "") -> str:
    did_el = f"<DeviceID>{did}</DeviceID>" if did is not None else ""
    return f"<Item>{did_el}<Name>{name}</Name>{extra}</Item>"


def by_id(catalog):
    return {i.device_id: i for i in catalog.items}


# -- the two-message GB18030 catalog ----------------------------------------------------------------------------

def test_two_messages_make_one_complete_catalog():
    c = read_catalog(DATA / "full")
    assert (c.platform, c.kind, c.sum_num, c.complete, c.errors) == (PLATFORM, "catalog", 8, True, [])
    assert [Path(s).name for s in c.sources] == ["catalog-1.xml", "catalog-2.xml"]
    assert [i.device_id for i in c.items] == ["510304", "51030401", GROUP, VIRTUAL, CAM_A, CAM_B, CAM_C, CAM_D]
    assert [i.line for i in c.items] == list(range(1, 9))
    assert c.items[5].where == "catalog-2.xml, message 1, item 2"
    assert all(i.event is None for i in c.items)


def test_one_message_of_two_is_incomplete_and_says_what_is_missing():
    c = read_catalog(DATA / "full" / "catalog-1.xml")
    assert (len(c.items), c.sum_num, c.complete) == (4, 8, False)
    [err] = c.errors
    assert err.field == "SumNum" and "SumNum 8, 4 distinct items" in err.reason and "4 missing" in err.reason


def test_gb2312_declaration_is_read_as_gb18030():
    raw = (DATA / "full" / "catalog-2.xml").read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="GB2312"?>')
    with pytest.raises(UnicodeDecodeError):
        raw.decode("gb2312")                      # the sample really holds characters GB2312 lacks
    items = by_id(read_catalog(DATA / "full"))
    assert items[CAM_A].elements["Name"] == "𠮷祥路口球机"      # a four-byte GB18030 sequence
    assert items[VIRTUAL].elements["Name"] == "䶮山片区"
    assert items["510304"].elements["Name"] == "大安区"


def test_info_block_is_flattened_and_the_items_own_element_wins(tmp_path):
    b = by_id(read_catalog(DATA / "full"))[CAM_B].elements
    assert (b["PTZType"], b["DirectionType"], b["BusinessGroupID"], b["DownloadSpeed"]) == ("6", "6", GROUP, "1/2/4")
    assert "Info" not in b
    f = tmp_path / "c.xml"
    f.write_text(body(item(CAM_A, extra="<PTZType>1</PTZType><Info><PTZType>2</PTZType><RoomType>1</RoomType>"
                                        "</Info>"), sum_num="1"), encoding="utf-8")
    e = read_catalog(f).items[0].elements
    assert (e["PTZType"], e["RoomType"]) == ("1", "1")


def test_catalog_elements_of_cameras_and_nodes():
    items = by_id(read_catalog(DATA / "full"))
    assert [items[k].node_kind for k in ("510304", "51030401", GROUP, VIRTUAL, CAM_A)] == [
        "area", "area", "group", "virtual", None]
    assert items["51030401"].elements["ParentID"] == "510304"
    v = items[VIRTUAL].elements
    assert (v["ParentID"], v["BusinessGroupID"], v["CivilCode"]) == (GROUP, GROUP, "51030401")
    a = items[CAM_A].elements
    assert {k: a[k] for k in ("Manufacturer", "Model", "Owner", "CivilCode", "Address", "Parental", "ParentID",
                              "Secrecy", "Status", "Longitude", "Latitude", "PTZType", "DirectionType")} == {
        "Manufacturer": "Hikvision", "Model": "DS-2DE4425IW-DE", "Owner": "大安区公安分局", "CivilCode": "51030401",
        "Address": "大安区凉高山街道", "Parental": "0", "ParentID": VIRTUAL, "Secrecy": "0", "Status": "ON",
        "Longitude": "104.7812", "Latitude": "29.3655", "PTZType": "0", "DirectionType": "1"}
    assert "DirectionType" not in items[CAM_C].elements           # the camera without any direction
    assert items[CAM_D].elements["Status"] == "OFF"
    # industry 13 and a sub-unit centre are valid IDs under the district's county code
    assert parse_device_id(CAM_C, "510304").industry == "13"
    assert parse_device_id(CAM_D, "510304").type == "121"


def test_a_parent_path_keeps_the_path_and_names_the_last_segment():
    e = by_id(read_catalog(DATA / "full"))[CAM_C].elements
    assert e["ParentPath"] == f"{PLATFORM}/{GROUP}/{VIRTUAL}"
    assert e["ParentID"] == VIRTUAL


def test_password_is_never_handed_on(tmp_path):
    f = tmp_path / "c.xml"
    f.write_text(body(item(CAM_A, extra="<Password>s3cret</Password>"), sum_num="1"), encoding="utf-8")
    assert "Password" not in read_catalog(f).items[0].elements


def test_two_messages_read_as_the_same_catalog_written_as_one():
    two, one = read_catalog(DATA / "full"), read_catalog(DATA / "single")
    assert [(i.device_id, i.elements, i.line) for i in two.items] == [
        (i.device_id, i.elements, i.line) for i in one.items]
    assert (two.platform, two.sum_num, two.complete) == (one.platform, one.sum_num, one.complete)


def test_a_sip_capture_with_bodies_back_to_back_is_split(tmp_path):
    sip = (b"\r\nMESSAGE sip:51030400002000000009@10.0.0.1:5060 SIP/2.0\r\nFrom: <sip:51030400002000000001@10.0.0.2>"
           b";tag=1\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: 999\r\n\r\n")
    f = tmp_path / "capture.xml"
    f.write_bytes(sip + (DATA / "full" / "catalog-1.xml").read_bytes() + sip
                  + (DATA / "full" / "catalog-2.xml").read_bytes())
    c = read_catalog(f)
    assert [(i.device_id, i.elements) for i in c.items] == [
        (i.device_id, i.elements) for i in read_catalog(DATA / "full").items]
    assert c.complete and c.items[-1].where == "capture.xml, message 2, item 4"


def test_an_item_repeated_across_messages_is_kept_once_last_wins(tmp_path):
    f = tmp_path / "c.xml"
    f.write_text(body(item(CAM_A, "甲") + item(CAM_B, "乙")) + body(item(CAM_B, "乙（更名）") + item(CAM_C, "丙")),
                 encoding="utf-8")
    c = read_catalog(f)
    assert [(i.device_id, i.elements["Name"]) for i in c.items] == [(CAM_A, "甲"), (CAM_B, "乙（更名）"), (CAM_C, "丙")]
    assert c.complete and c.errors == []


def test_messages_of_two_answers_or_two_platforms_are_refused(tmp_path):
    f = tmp_path / "c.xml"
    f.write_text(body(item(CAM_A), sn="7") + body(item(CAM_B), sn="8"), encoding="utf-8")
    with pytest.raises(InvalidData, match="SN 7.*SN 8"):
        read_catalog(f)
    with pytest.raises(InvalidData) as exc:
        read_catalog(DATA / "bad" / "two_platforms.xml")
    assert PLATFORM in str(exc.value) and "51030400002000000002" in str(exc.value)


def test_disagreeing_counts_are_named(tmp_path):
    f = tmp_path / "c.xml"
    f.write_text(body(item(CAM_A), sum_num="2", num=3) + body(item(CAM_B), sum_num="3"), encoding="utf-8")
    c = read_catalog(f)
    fields = sorted(e.field for e in c.errors)
    assert fields == ["Num", "SumNum", "SumNum"] and not c.complete
    assert any("different SumNum" in e.reason for e in c.errors)


# -- a later catalog, a Notify, a GCJ-02 platform ---------------------------------------------------------------

def test_later_catalog_changes_removes_and_adds():
    full, later = by_id(read_catalog(DATA / "full")), read_catalog(DATA / "later")
    assert (later.platform, later.sum_num, later.complete) == (PLATFORM, 8, True)
    now = by_id(later)
    assert CAM_B not in now and "51030400001320000005" in now and "51030400001320000005" not in full
    assert (now[CAM_A].elements["Name"], now[CAM_A].elements["Status"]) == ("吉祥路口球机（迁移）", "OFF")
    for same in ("510304", "51030401", GROUP, VIRTUAL, CAM_C, CAM_D):
        assert now[same].elements == full[same].elements


def test_notify_events():
    c = read_catalog(DATA / "notify.xml")
    assert (c.kind, c.platform, c.sum_num, c.complete, c.errors) == ("notify", PLATFORM, None, False, [])
    assert [(i.device_id, i.event) for i in c.items] == [
        (CAM_D, "ON"), (CAM_A, "OFF"), (CAM_B, "VLOST"), (CAM_C, "DEFECT"), ("51030400001320000006", "ADD"),
        (CAM_B, "UPDATE"), (CAM_C, "DEL")]
    added, updated = c.items[4].elements, c.items[5].elements
    assert (added["Name"], added["Longitude"], added["Latitude"], added["PTZType"]) == (
        "东兴寺新增球机", "104.7795", "29.3733", "1")
    assert (updated["Name"], updated["PTZType"]) == ("汇东广场全景（更名）", "6")


def test_notify_item_with_an_unknown_or_no_event_is_named(tmp_path):
    f = tmp_path / "n.xml"
    f.write_text(body(item(CAM_A, extra="<Event>MOVE</Event>") + item(CAM_B) + item(CAM_C, extra="<Event>off</Event>"),
                      root="Notify"), encoding="utf-8")
    c = read_catalog(f)
    assert [(i.device_id, i.event) for i in c.items] == [(CAM_C, "OFF")]
    assert [(e.line, e.field) for e in c.errors] == [(1, "Event"), (2, "Event")]
    first = c.errors[0].reason
    assert "MOVE" in first and CAM_A in first and "n.xml, message 1, item 1" in first
    assert "no <Event>" in c.errors[1].reason


def test_notify_and_catalog_in_one_read_are_refused(tmp_path):
    shutil.copy(DATA / "notify.xml", tmp_path / "a.xml")
    shutil.copy(DATA / "single" / "catalog.xml", tmp_path / "b.xml")
    with pytest.raises(InvalidData, match="Notify.*a.xml"):
        read_catalog(tmp_path)


def test_gcj02_platform_sample_holds_the_converted_positions():
    c = read_catalog(DATA / "gcj02")
    assert (c.platform, c.sum_num, c.complete) == ("51030400002000000002", 3, True)
    expected = json.loads((DATA / "gcj02_expected_wgs84.json").read_text())
    cams = [i for i in c.items if i.node_kind is None]
    assert sorted(i.device_id for i in cams) == sorted(expected)
    for i in cams:
        lon, lat = gcj02_to_wgs84(float(i.elements["Longitude"]), float(i.elements["Latitude"]))
        assert abs(lon - expected[i.device_id][0]) < 1e-9 and abs(lat - expected[i.device_id][1]) < 1e-9
        assert abs(float(i.elements["Longitude"]) - expected[i.device_id][0]) > 1e-3   # really shifted
    assert by_id(c)["510304"].elements["Name"] == "大安区"                        # UTF-8


# -- encodings ------------------------------------------------------------------------------------------------

def test_undeclared_bodies_fall_back_to_utf8_then_gb18030(tmp_path):
    for codec in ("utf-8", "gb18030"):
        f = tmp_path / f"{codec}.xml"
        f.write_bytes(body(item(CAM_A, "𠮷祥"), sum_num="1", encoding=None).encode(codec))
        assert read_catalog(f).items[0].elements["Name"] == "𠮷祥"
    f = tmp_path / "bom.xml"
    f.write_bytes(b"\xef\xbb\xbf" + body(item(CAM_A, "大安"), sum_num="1").encode("utf-8"))
    assert read_catalog(f).items[0].elements["Name"] == "大安"


def test_a_body_not_in_its_declared_encoding_is_named(tmp_path):
    f = tmp_path / "lie.xml"
    f.write_bytes(body(item(CAM_A, "大安区"), sum_num="1", encoding="UTF-8").encode("gb18030")
                  + body(item(CAM_B, "大安区"), sum_num="1", encoding="KOI-9").encode("utf-8"))
    with pytest.raises(InvalidData) as exc:
        read_catalog(f)
    reasons = [e.reason for e in exc.value.errors]
    assert "lie.xml, message 1: not valid UTF-8" in reasons[0]
    assert "lie.xml, message 2: unknown encoding 'koi-9'" in reasons[1]


# -- refused bodies ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, words", [
    ("truncated.xml", ["truncated.xml, message 1", "not well-formed"]),
    ("deviceinfo.xml", ["deviceinfo.xml, message 1", "CmdType DeviceInfo", "not a catalog"]),
    ("doctype.xml", ["doctype.xml, message 1", "DTD", "refused"]),
])
def test_a_file_with_no_readable_message_is_invalid_data_naming_it(name, words):
    with pytest.raises(InvalidData) as exc:
        read_catalog(DATA / "bad" / name)
    assert exc.value.source == str(DATA / "bad" / name)
    for w in words:
        assert w in str(exc.value)


def test_the_entities_of_a_dtd_are_never_expanded(tmp_path):
    f = tmp_path / "c.xml"
    f.write_bytes((DATA / "bad" / "doctype.xml").read_bytes() + body(item(CAM_B), sum_num="1", sn="1").encode())
    c = read_catalog(f)          # the good body is read; the one with a DTD is an error entry, nothing expanded
    assert [i.device_id for i in c.items] == [CAM_B]
    assert len(c.errors) == 1 and "DTD" in c.errors[0].reason


def test_an_item_without_device_id_is_an_error_entry():
    c = read_catalog(DATA / "bad" / "no_device_id.xml")
    assert [i.device_id for i in c.items] == [CAM_A] and not c.complete
    err = next(e for e in c.errors if e.field == "DeviceID")
    assert err.line == 2
    assert "no_device_id.xml, message 1, item 2" in err.reason and "无编码摄像机" in err.reason


def test_a_bad_message_beside_good_ones_is_an_error_entry_not_an_exception(tmp_path):
    shutil.copy(DATA / "full" / "catalog-1.xml", tmp_path / "1.xml")
    shutil.copy(DATA / "full" / "catalog-2.xml", tmp_path / "2.xml")
    shutil.copy(DATA / "bad" / "deviceinfo.xml", tmp_path / "3.xml")
    c = read_catalog(tmp_path)
    assert len(c.items) == 8 and c.complete
    assert [(e.field, "3.xml, message 1" in e.reason) for e in c.errors] == [("CmdType", True)]


def test_missing_or_empty_inputs(tmp_path):
    with pytest.raises(InvalidData, match="not found"):
        read_catalog(tmp_path / "nope.xml")
    with pytest.raises(InvalidData, match="no .xml"):
        read_catalog(tmp_path)
    (tmp_path / "empty.xml").write_bytes(b"")
    with pytest.raises(InvalidData, match="empty"):
        read_catalog(tmp_path / "empty.xml")
    (tmp_path / "a.csv").write_text("x\n1\n")
    with pytest.raises(InvalidData, match="not a catalog file"):
        read_catalog(tmp_path / "a.csv")


# -- wvp-GB28181-pro ---------------------------------------------------------------------------------------------

#: every wvp channel field read, and the GB/T 28181 element it must arrive as (written here, not imported)
WVP_TABLE = [
    ("gbName", "Name"), ("gbManufacturer", "Manufacturer"), ("gbModel", "Model"), ("gbOwner", "Owner"),
    ("gbCivilCode", "CivilCode"), ("gbBlock", "Block"), ("gbAddress", "Address"), ("gbParental", "Parental"),
    ("gbParentId", "ParentID"), ("gbSafetyWay", "SafetyWay"), ("gbRegisterWay", "RegisterWay"),
    ("gbCertNum", "CertNum"), ("gbCertifiable", "Certifiable"), ("gbErrCode", "ErrCode"), ("gbEndTime", "EndTime"),
    ("gbSecrecy", "Secrecy"), ("gbIpAddress", "IPAddress"), ("gbPort", "Port"), ("gbStatus", "Status"),
    ("gbLongitude", "Longitude"), ("gbLatitude", "Latitude"), ("gbBusinessGroupId", "BusinessGroupID"),
    ("gbPtzType", "PTZType"), ("gbPositionType", "PositionType"), ("gbRoomType", "RoomType"),
    ("gbUseType", "UseType"), ("gbSupplyLightType", "SupplyLightType"), ("gbDirectionType", "DirectionType"),
    ("gbResolution", "Resolution"), ("gbDownloadSpeed", "DownloadSpeed"),
    ("gbSvcSpaceSupportMod", "SVCSpaceSupportMode"), ("gbSvcTimeSupportMode", "SVCTimeSupportMode"),
]
LEGACY_TABLE = [
    ("name", "Name"), ("manufacture", "Manufacturer"), ("manufacturer", "Manufacturer"), ("model", "Model"),
    ("owner", "Owner"), ("civilCode", "CivilCode"), ("block", "Block"), ("address", "Address"),
    ("parental", "Parental"), ("parentId", "ParentID"), ("safetyWay", "SafetyWay"), ("registerWay", "RegisterWay"),
    ("secrecy", "Secrecy"), ("ipAddress", "IPAddress"), ("port", "Port"), ("longitude", "Longitude"),
    ("latitude", "Latitude"), ("ptzType", "PTZType"), ("positionType", "PositionType"), ("roomType", "RoomType"),
    ("useType", "UseType"), ("supplyLightType", "SupplyLightType"), ("directionType", "DirectionType"),
    ("resolution", "Resolution"), ("businessGroupId", "BusinessGroupID"), ("downloadSpeed", "DownloadSpeed"),
]
VALUES = {"gbPort": 5060, "port": 5060, "gbLongitude": 104.7802, "longitude": 104.7802, "gbParental": True,
          "gbStatus": "OFF"}


def _one(tmp_path, record) -> cat.CatalogItem:
    f = tmp_path / "w.json"
    f.write_text(json.dumps([record], ensure_ascii=False), encoding="utf-8")
    [it] = read_catalog(f).items
    return it


def test_every_wvp_field_supported_is_in_the_table():
    assert set(cat.WVP_ELEMENTS) == {k for k, _ in WVP_TABLE} | {"gbDeviceId", "gbPassword"}


@pytest.mark.parametrize("key, element", WVP_TABLE)
def test_wvp_field_arrives_as_its_element(tmp_path, key, element):
    value = VALUES.get(key, f"v-{key}")
    it = _one(tmp_path, {"gbDeviceId": CAM_A, key: value})
    expected = value if isinstance(value, str) else {5060: "5060", 104.7802: "104.7802", True: "1"}[value]
    assert it.elements == {"DeviceID": CAM_A, element: expected}


@pytest.mark.parametrize("key, element", LEGACY_TABLE)
def test_wvp_legacy_field_arrives_as_its_element(tmp_path, key, element):
    value = VALUES.get(key, f"v-{key}")
    it = _one(tmp_path, {"channelId": CAM_A, "deviceId": "51030400001180000001", key: value})
    assert it.device_id == CAM_A
    assert it.elements == {"DeviceID": CAM_A, element: str(value)}


def test_wvp_gb_field_wins_over_the_legacy_one_unless_null(tmp_path):
    it = _one(tmp_path, {"gbDeviceId": None, "deviceId": CAM_B, "name": "设备名", "gbName": "国标名",
                         "address": "原地址", "gbAddress": None, "gbPassword": "x", "password": "y"})
    assert it.elements == {"DeviceID": CAM_B, "Name": "国标名", "Address": "原地址"}


@pytest.mark.parametrize("status, expected", [(1, "ON"), (0, "OFF"), (True, "ON"), (False, "OFF"), ("ON", "ON"),
                                              ("OFF", "OFF")])
def test_wvp_status_numbers_and_words(tmp_path, status, expected):
    assert _one(tmp_path, {"channelId": CAM_A, "status": status}).elements["Status"] == expected


def test_wvp_export_sample():
    c = read_catalog(DATA / "wvp" / "channels.json")
    assert (c.platform, c.kind, c.sum_num, c.complete, c.errors) == (None, "catalog", 5, True, [])
    items = by_id(c)
    assert [i.node_kind for i in c.items] == ["group", "virtual", None, None, None]
    cam = items["51030400001320000202"].elements
    assert (cam["Name"], cam["Status"], cam["Longitude"], cam["PTZType"], cam["ParentID"], cam["Port"]) == (
        "丹桂大街枪机", "OFF", "104.7751", "3", "51030400002160000002", "5060")
    assert "Block" not in cam and "DirectionType" not in cam                 # wvp's nulls are absent
    assert items["51030400131320000203"].elements["PTZType"] == "6"
    assert items["51030400002160000002"].elements["BusinessGroupID"] == "51030400002150000002"


def test_wvp_page_wrapper(tmp_path):
    c = read_catalog(DATA / "wvp_page" / "channels.json")
    assert [i.device_id for i in c.items] == ["51030400001320000201", "51030400001320000202"] and c.sum_num == 2
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"code": 0, "data": [{"gbDeviceId": CAM_A}]}))
    assert [i.device_id for i in read_catalog(f).items] == [CAM_A]
    f.write_text(json.dumps({"code": -1, "msg": "未登录", "data": None}))
    with pytest.raises(InvalidData, match="code -1.*未登录"):
        read_catalog(f)


def test_wvp_legacy_sample():
    c = read_catalog(DATA / "wvp_legacy" / "channels.json")
    assert [(i.device_id, i.elements["Status"]) for i in c.items] == [
        ("51030400001320000301", "ON"), ("51030400001320000302", "OFF"), ("51030400001320000303", "OFF")]
    assert c.items[0].elements["Manufacturer"] == "Hikvision" and c.items[1].elements["Manufacturer"] == "Dahua"


def test_wvp_record_without_id_and_a_non_object_are_named(tmp_path):
    f = tmp_path / "w.json"
    f.write_text(json.dumps([{"gbDeviceId": CAM_A}, {"gbDeviceId": None, "gbName": "无编码"}, 7]), encoding="utf-8")
    c = read_catalog(f)
    assert [i.device_id for i in c.items] == [CAM_A] and c.sum_num == 3 and not c.complete
    assert [(e.line, e.field) for e in c.errors[:2]] == [(2, "DeviceID"), (3, None)]
    assert "w.json, record 2" in c.errors[0].reason and "无编码" in c.errors[0].reason


def test_wvp_and_xml_in_one_folder_are_refused(tmp_path):
    shutil.copy(DATA / "wvp" / "channels.json", tmp_path / "a.json")
    shutil.copy(DATA / "single" / "catalog.xml", tmp_path / "b.xml")
    with pytest.raises(InvalidData, match="wvp channel exports.*in one read"):
        read_catalog(tmp_path)


# -- is_catalog --------------------------------------------------------------------------------------------------

def test_is_catalog(tmp_path):
    for p in ("full", "full/catalog-1.xml", "notify.xml", "wvp/channels.json", "wvp_page/channels.json",
              "wvp_legacy/channels.json", "bad/deviceinfo.xml"):
        assert is_catalog(DATA / p), p
    geojson = tmp_path / "cams.json"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {
        "device_id": CAM_A}, "geometry": {"type": "Point", "coordinates": [104.78, 29.37]}}]}))
    plain = tmp_path / "rows.json"
    plain.write_text(json.dumps([{"device_id": CAM_A, "note": "channelId"}]))
    broken = tmp_path / "broken.json"
    broken.write_text('[{"gbDeviceId": "1"')
    (tmp_path / "t.csv").write_text("device_id\n1\n")
    for p in (geojson, plain, broken, tmp_path / "t.csv", tmp_path / "missing.xml", tmp_path):
        assert not is_catalog(p), p
    (tmp_path / "x.xml").write_text(body(item(CAM_A), sum_num="1"))
    assert is_catalog(tmp_path)


# -- the names meet the registry's fields, and big catalogs ------------------------------------------------------

def test_catalog_elements_map_to_registry_fields():
    expected = {"DeviceID": "device_id", "Name": "name", "Manufacturer": "manufacturer", "Model": "model",
                "Owner": "owner", "CivilCode": "civil_code", "Address": "address", "Parental": "parental",
                "ParentID": "parent_id", "BusinessGroupID": "business_group_id", "Secrecy": "secrecy",
                "Status": "status", "Longitude": "lon", "Latitude": "lat", "PTZType": "ptz_type",
                "DirectionType": "direction_type"}
    elements = by_id(read_catalog(DATA / "full"))[CAM_A].elements
    assert {e: canonical_header(e) for e in expected if e in elements} == expected


def test_ten_thousand_items_read(tmp_path):
    items = "".join(f"<Item><DeviceID>5103040000132{n:07d}</DeviceID><Name>摄像机{n}</Name><Status>ON</Status>"
                    f"<Longitude>104.78</Longitude><Latitude>29.37</Latitude><Info><PTZType>1</PTZType></Info></Item>"
                    for n in range(10_000))
    f = tmp_path / "big.xml"
    f.write_bytes(body(items, sum_num="10000", encoding="GB2312").encode("gb18030"))
    c = read_catalog(f)
    assert len(c.items) == 10_000 and c.complete and c.items[-1].elements["PTZType"] == "1"
