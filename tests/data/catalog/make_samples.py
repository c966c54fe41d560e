"""Writes the GB/T 28181 catalog samples of this folder.

Run: ``.venv/bin/python tests/data/catalog/make_samples.py``.

Written from the standard (GB/T 28181-2016 §A.2.6 Catalog, 2022 additions) and wvp-GB28181-pro's field names,
not copied from either. The files are committed; this script is how they were made (GCJ-02 positions are
converted from the WGS-84 ones below with :mod:`gis.crs`, so a test can check the stored WGS-84).
See ``README.md`` beside it for what each sample holds.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))
from gis.crs import wgs84_to_gcj02  # noqa: E402

PLATFORM = "51030400002000000001"
PLATFORM_GCJ = "51030400002000000002"
GROUP = "51030400002150000001"
VIRTUAL = "51030400002160000001"
CAM_A, CAM_B, CAM_C, CAM_D = ("51030400001320000001", "51030400001320000002", "51030400131320000003",
                              "51030401081217123456")
CAM_E = "51030400001320000005"   # new in later/
CAM_F = "51030400001320000006"   # added by notify.xml


def item(fields: list[tuple[str, object]], info: list[tuple[str, object]] | None = None,
         event: str | None = None) -> str:
    out = ["<Item>"]
    for name, value in fields:
        out.append(f"<{name}>{escape(str(value))}</{name}>")
    if info:
        out.append("<Info>")
        out.extend(f"<{name}>{escape(str(value))}</{name}>" for name, value in info)
        out.append("</Info>")
    if event:
        out.append(f"<Event>{event}</Event>")
    out.append("</Item>")
    return "\n".join(out)


def camera(did, name, *, ptz=None, lon, lat, status="ON", parent=VIRTUAL, direction=None, manufacturer="Hikvision",
           model="DS-2DE4425IW-DE", address="大安区凉高山街道", info_block=False, event=None) -> str:
    fields = [("DeviceID", did), ("Name", name), ("Manufacturer", manufacturer), ("Model", model),
              ("Owner", "大安区公安分局"), ("CivilCode", "51030401"), ("Block", "凉高山警务区"), ("Address", address),
              ("Parental", 0), ("ParentID", parent), ("SafetyWay", 0), ("RegisterWay", 1), ("Secrecy", 0),
              ("Status", status), ("Longitude", lon), ("Latitude", lat)]
    info = None
    if info_block:                                  # GB/T 28181-2016: PTZType etc. under <Info>
        info = [("PTZType", ptz), ("PositionType", 9), ("RoomType", 1), ("UseType", 1), ("SupplyLightType", 2)]
        if direction is not None:
            info.append(("DirectionType", direction))
        info += [("Resolution", "5/6"), ("BusinessGroupID", GROUP), ("DownloadSpeed", "1/2/4")]
    else:
        fields.insert(12, ("BusinessGroupID", GROUP))
        if ptz is not None:
            fields.append(("PTZType", ptz))
        if direction is not None:
            fields.append(("DirectionType", direction))
    return item(fields, info, event)


AREA = item([("DeviceID", "510304"), ("Name", "大安区")])
SUBAREA = item([("DeviceID", "51030401"), ("Name", "凉高山街道"), ("ParentID", "510304")])
GROUP_ITEM = item([("DeviceID", GROUP), ("Name", "天网工程"), ("CivilCode", "510304"), ("ParentID", PLATFORM)])
VIRTUAL_ITEM = item([("DeviceID", VIRTUAL), ("Name", "䶮山片区"), ("CivilCode", "51030401"), ("ParentID", GROUP),
                     ("BusinessGroupID", GROUP)])
A = camera(CAM_A, "𠮷祥路口球机", ptz=0, lon=104.7812, lat=29.3655, direction=1)
A_LATER = camera(CAM_A, "吉祥路口球机（迁移）", ptz=0, lon=104.7812, lat=29.3655, direction=1, status="OFF")
B = camera(CAM_B, "汇东广场全景", ptz=6, lon=104.7766, lat=29.3702, direction=6, info_block=True,
           model="iDS-2PT9A144MXS")
C = camera(CAM_C, "凉高山部门专网枪机", ptz=3, lon=104.7851, lat=29.3744, manufacturer="Dahua", model="DH-IPC-HFW4443M",
           parent=f"{PLATFORM}/{GROUP}/{VIRTUAL}")          # no DirectionType: no azimuth at all
D = camera(CAM_D, "马冲口卡口", ptz=3, lon=104.7703, lat=29.3618, status="OFF", direction=3, manufacturer="Uniview",
           model="HIC6622-IR")
E = camera(CAM_E, "檀木林新装半球", ptz=2, lon=104.7888, lat=29.3677, direction=4)
F = camera(CAM_F, "东兴寺新增球机", ptz=1, lon=104.7795, lat=29.3733, direction=8, event="ADD")


def message(root: str, sn: int, platform: str, sum_num: int, items: list[str], encoding: str) -> str:
    return (f'<?xml version="1.0" encoding="{encoding}"?>\n<{root}>\n<CmdType>Catalog</CmdType>\n<SN>{sn}</SN>\n'
            f"<DeviceID>{platform}</DeviceID>\n<SumNum>{sum_num}</SumNum>\n"
            f'<DeviceList Num="{len(items)}">\n' + "\n".join(items) + "\n</DeviceList>\n</" + root + ">\n")


def write(rel: str, text: str, codec: str = "utf-8") -> None:
    path = HERE / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(codec))


FULL = [AREA, SUBAREA, GROUP_ITEM, VIRTUAL_ITEM, A, B, C, D]


def main() -> None:
    # one catalog of 8 over two messages, declared GB2312, bytes GB18030 (䶮 and 𠮷 are outside GB2312 and GBK)
    write("full/catalog-1.xml", message("Response", 17, PLATFORM, 8, FULL[:4], "GB2312"), "gb18030")
    write("full/catalog-2.xml", message("Response", 17, PLATFORM, 8, FULL[4:], "GB2312"), "gb18030")
    # the same catalog as one message (the differential test compares the two reads)
    write("single/catalog.xml", message("Response", 17, PLATFORM, 8, FULL, "GB18030"), "gb18030")
    # a month later: A changed (name, OFF), B gone, E new, the rest as in full/
    later = [AREA, SUBAREA, GROUP_ITEM, VIRTUAL_ITEM, A_LATER, C, D, E]
    write("later/catalog.xml", message("Response", 42, PLATFORM, 8, later, "GB2312"), "gb18030")
    # catalog events
    events = [item([("DeviceID", CAM_D)], event="ON"), item([("DeviceID", CAM_A)], event="OFF"),
              item([("DeviceID", CAM_B)], event="VLOST"), item([("DeviceID", CAM_C)], event="DEFECT"), F,
              camera(CAM_B, "汇东广场全景（更名）", ptz=6, lon=104.7766, lat=29.3702, direction=6, info_block=True,
                     model="iDS-2PT9A144MXS", event="UPDATE"),
              item([("DeviceID", CAM_C)], event="DEL")]
    write("notify.xml", message("Notify", 43, PLATFORM, len(events), events, "GB2312"), "gb18030")
    # a platform that sends GCJ-02 (UTF-8)
    gcj = []
    for did, name, lon, lat, ptz in (("51030400001320000101", "高坪路口球机", 104.7821, 29.3668, 1),
                                     ("51030400001320000102", "大安寨枪机", 104.7739, 29.3716, 3)):
        glon, glat = wgs84_to_gcj02(lon, lat)
        gcj.append(camera(did, name, ptz=ptz, lon=repr(float(glon)), lat=repr(float(glat)), parent="510304",
                          direction=2))
    write("gcj02/catalog.xml", message("Response", 5, PLATFORM_GCJ, 3, [AREA] + gcj, "UTF-8"))
    write("gcj02_expected_wgs84.json", json.dumps({"51030400001320000101": [104.7821, 29.3668],
                                          "51030400001320000102": [104.7739, 29.3716]}, indent=1) + "\n")
    # wvp-GB28181-pro channel exports
    write("wvp/channels.json", json.dumps(WVP, ensure_ascii=False, indent=1) + "\n")
    write("wvp_page/channels.json", json.dumps({"code": 0, "msg": "成功", "data": {
        "total": 2, "pageNum": 1, "pageSize": 15, "list": WVP[2:4]}}, ensure_ascii=False, indent=1) + "\n")
    write("wvp_legacy/channels.json", json.dumps(WVP_LEGACY, ensure_ascii=False, indent=1) + "\n")
    # bad bodies
    good = message("Response", 9, PLATFORM, 2, [A, C], "UTF-8")
    write("bad/truncated.xml", good[:good.index("<Status>")])
    write("bad/deviceinfo.xml", '<?xml version="1.0" encoding="UTF-8"?>\n<Response>\n<CmdType>DeviceInfo</CmdType>\n'
          f"<SN>3</SN>\n<DeviceID>{PLATFORM}</DeviceID>\n<Result>OK</Result>\n<DeviceName>平台</DeviceName>\n"
          "<Manufacturer>Hikvision</Manufacturer>\n</Response>\n")
    write("bad/no_device_id.xml", message("Response", 10, PLATFORM, 2, [
        A, item([("Name", "无编码摄像机"), ("Longitude", 104.78), ("Latitude", 29.37)])], "UTF-8"))
    write("bad/doctype.xml", '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
          '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n'
          f"<Response><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>{PLATFORM}</DeviceID><SumNum>1</SumNum>"
          '<DeviceList Num="1"><Item><DeviceID>51030400001320000001</DeviceID><Name>&lol2;</Name></Item>'
          "</DeviceList></Response>\n")
    write("bad/two_platforms.xml", message("Response", 1, PLATFORM, 1, [A], "UTF-8")
          + message("Response", 1, PLATFORM_GCJ, 1, [C], "UTF-8"))


def wvp_channel(did, name, *, lon=None, lat=None, ptz=None, status="ON", parent=None, civil="51030401", group=GROUP,
                direction=None, manufacturer=None, model=None, address=None, parental=0, ip=None, port=None):
    return {"gbId": int(did[-4:]), "gbDeviceId": did, "gbName": name, "gbManufacturer": manufacturer,
            "gbModel": model, "gbOwner": "大安区公安分局" if manufacturer else None, "gbCivilCode": civil,
            "gbBlock": None, "gbAddress": address, "gbParental": parental, "gbParentId": parent, "gbSafetyWay": 0,
            "gbRegisterWay": 1, "gbCertNum": None, "gbCertifiable": None, "gbErrCode": None, "gbEndTime": None,
            "gbSecrecy": 0, "gbIpAddress": ip, "gbPort": port, "gbPassword": None, "gbStatus": status,
            "gbLongitude": lon, "gbLatitude": lat, "gbBusinessGroupId": group, "gbPtzType": ptz,
            "gbPositionType": 9 if ptz is not None else None, "gbRoomType": 1 if ptz is not None else None,
            "gbUseType": 1 if ptz is not None else None, "gbSupplyLightType": 2 if ptz is not None else None,
            "gbDirectionType": direction, "gbResolution": "5/6" if ptz is not None else None,
            "gbDownloadSpeed": "1/2/4" if ptz is not None else None, "gbSvcSpaceSupportMod": 0 if ptz else None,
            "gbSvcTimeSupportMode": 0 if ptz else None, "recordPLan": None, "dataType": 1, "dataDeviceId": 3,
            "createTime": "2024-05-06 10:11:12", "updateTime": "2024-06-01 08:00:00"}


WVP = [
    wvp_channel("51030400002150000002", "雪亮工程", group=None, civil="510304", parental=1),
    wvp_channel("51030400002160000002", "汇东片区", parent="51030400002150000002", group="51030400002150000002",
                parental=1),
    wvp_channel("51030400001320000201", "汇东路口球机", lon=104.7802, lat=29.3689, ptz=1, direction=5,
                parent="51030400002160000002", group="51030400002150000002", manufacturer="Hikvision",
                model="DS-2DE7425IW", address="汇东路与丹桂大街交叉口", ip="10.20.30.41", port=5060),
    wvp_channel("51030400001320000202", "丹桂大街枪机", lon=104.7751, lat=29.3663, ptz=3, status="OFF",
                parent="51030400002160000002", group="51030400002150000002", manufacturer="Dahua",
                model="DH-IPC-HFW5442", address="丹桂大街 88 号", ip="10.20.30.42", port=5060),
    wvp_channel("51030400131320000203", "部门专网全景", lon=104.7869, lat=29.3711, ptz=6, direction=7,
                parent="51030400002160000002", group="51030400002150000002", manufacturer="Uniview",
                model="IPC-PT8A", address="凉高山路 2 号"),
]
# wvp 2.x DeviceChannel (before CommonGBChannel): channelId is the channel, deviceId the device it hangs off;
# status 1/0 (or "ON"/"OFF"), "manufacture" without the r in the oldest releases
WVP_LEGACY = [
    {"id": 11, "channelId": "51030400001320000301", "deviceId": "51030400001180000001", "name": "老平台球机",
     "manufacture": "Hikvision", "model": "DS-2DC4423IW", "owner": "大安区公安分局", "civilCode": "51030401",
     "block": None, "address": "老街 1 号", "parental": 0, "parentId": "51030400001180000001", "safetyWay": 0,
     "registerWay": 1, "secrecy": 0, "ipAddress": "10.20.31.5", "port": 8000, "status": 1, "longitude": 104.7791,
     "latitude": 29.3649, "ptzType": 1, "ptzTypeText": "球机", "positionType": 9, "directionType": 4,
     "businessGroupId": None, "hasAudio": False, "subCount": 0},
    {"id": 12, "channelId": "51030400001320000302", "deviceId": "51030400001180000001", "name": "老平台枪机",
     "manufacturer": "Dahua", "model": "DH-IPC-HFW1230", "civilCode": "51030401", "address": "老街 9 号",
     "parental": 0, "parentId": "51030400001180000001", "secrecy": 0, "status": 0, "longitude": 104.7794,
     "latitude": 29.3652, "ptzType": 3, "hasAudio": False},
    {"id": 13, "channelId": "51030400001320000303", "deviceId": "51030400001180000001", "name": "老平台半球",
     "civilCode": "51030401", "parental": 0, "status": "OFF", "longitude": 104.7797, "latitude": 29.3655,
     "ptzType": 2},
]

if __name__ == "__main__":
    main()
