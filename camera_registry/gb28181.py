"""GB/T 28181 device IDs (设备编码), coding rule A: 20 decimal digits.

| digits | field    | meaning                                                             |
|--------|----------|---------------------------------------------------------------------|
| 1–8    | centre   | province 2 + city 2 + county 2 + grassroots unit 2 (GB/T 2260 based) |
| 9–10   | industry | who runs the device (00 public-security street, 01 community, …)     |
| 11–13  | type     | device type (121 video checkpoint, 131 camera, 132 IPC, …)           |
| 14     | network  | 0–4 video private network, 5 public security, 6 e-government, …      |
| 15–20  | serial   | 6-digit serial number                                               |

The code tables are data (dicts) so a district can extend them without touching the parser.
"""
from __future__ import annotations

from dataclasses import dataclass


INDUSTRIES: dict[str, str] = {
    "00": "public-security street (社会治安路面接入)",
    "01": "community (社会治安社区接入)",
    "02": "internal (社会治安内部接入)",
    "03": "other public security (社会治安其他接入)",
    "04": "traffic road (交通路面接入)",
    "05": "traffic checkpoint (交通卡口接入)",
    "06": "traffic internal (交通内部接入)",
    "07": "traffic other (交通其他接入)",
    "08": "city management (城市管理接入)",
    "09": "health and environment (卫生环保接入)",
    "10": "customs (商检海关接入)",
    "11": "education (教育部门接入)",
    "40": "agriculture, forestry, husbandry and fishery (农林牧渔业接入)",
    "41": "mining (采矿企业接入)",
    "42": "manufacturing (制造企业接入)",
    "43": "metallurgy (冶金企业接入)",
    "44": "electric power (电力企业接入)",
    "45": "gas (燃气企业接入)",
    "46": "construction (建筑企业接入)",
    "47": "logistics (物流企业接入)",
    "48": "postal (邮政企业接入)",
    "49": "information technology (信息企业接入)",
    "50": "accommodation and catering (住宿和餐饮业接入)",
    "51": "finance (金融企业接入)",
    "52": "real estate (房地产业接入)",
    "53": "business services (商务服务业接入)",
    "54": "water conservancy (水利企业接入)",
    "55": "entertainment (娱乐企业接入)",
}
#: codes the standard reserves (GB/T 28181-2016/2022 table D.3: 12–39 for further government departments,
#: 56–99 for further enterprises and other users): well formed, named by their range; real platforms use them
#: (for example 13 for a department's own network)
INDUSTRY_RANGES: tuple[tuple[int, int, str, str], ...] = (
    (12, 39, "政府部门预留", "Government department (reserved code)"),
    (56, 99, "其他预留", "Other (reserved code)"),
)

#: ``{industry: (中文, English)}``: the names the interface shows (``app.labels`` kind ``industry``), read from
#: :data:`INDUSTRIES` ("English (中文)") so they are written once
INDUSTRY_NAMES: dict[str, tuple[str, str]] = {
    code: (text[text.index("(") + 1:-1], text[:text.index("(")].strip().capitalize()) for code, text in INDUSTRIES.items()}
INDUSTRY_NAMES.update({f"{n:02d}": (f"{zh} {n:02d}", f"{en[:-1]} {n:02d})")
                       for lo, hi, zh, en in INDUSTRY_RANGES for n in range(lo, hi + 1)})

DEVICE_TYPES: dict[str, str] = {
    "111": "DVR", "112": "video server", "113": "encoder", "114": "decoder", "115": "video switching matrix",
    "116": "audio switching matrix", "117": "alarm controller", "118": "NVR", "119": "hybrid NVR",
    "121": "video checkpoint (卡口)",
    "131": "camera (摄像机)", "132": "IPC (网络摄像机)", "133": "display", "134": "alarm input",
    "135": "alarm output", "136": "audio input", "137": "audio output", "138": "mobile transmitter",
    "139": "other peripheral",
    "200": "SIP server", "201": "web application server", "202": "media distribution server",
    "203": "proxy server", "204": "security server", "205": "alarm server", "206": "database server",
    "207": "GIS server", "208": "management server", "209": "gateway", "210": "media storage server",
    "211": "signalling security gateway", "212": "business group (legacy)", "215": "business group (业务分组)",
    "216": "virtual organisation (虚拟组织)",
}
# The standard reserves whole ranges; codes inside them that the table does not name are still well formed.
TYPE_RANGES: tuple[tuple[int, int, str], ...] = (
    (111, 130, "front-end main device (reserved code)"),
    (131, 199, "front-end peripheral (reserved code)"),
    (200, 299, "platform device (reserved code)"),
)

NETWORKS: dict[str, str] = {
    "0": "video private network", "1": "video private network", "2": "video private network",
    "3": "video private network", "4": "video private network", "5": "public-security network",
    "6": "e-government network", "7": "internet", "8": "social resources network",
}

CAMERA_TYPES = frozenset({"121", "131", "132"})

#: catalog items that are not devices but the tree cameras hang in (``camera_registry.models.CatalogNode``):
#: a 20-digit ID of these types, or an administrative-area code of 2–8 digits (``"area"``)
NODE_TYPES: dict[str, str] = {"200": "sip", "215": "group", "216": "virtual"}
NODE_KINDS = ("area", "sip", "group", "virtual")
NODE_KIND_NAMES = {"area": ("行政区域", "Administrative area"), "sip": ("SIP 服务器", "SIP server"),
                   "group": ("业务分组", "Business group"), "virtual": ("虚拟组织", "Virtual organisation")}

#: GB/T 28181-2022 DirectionType (监视方位, the direction the optical axis looks) → azimuth in degrees
#: clockwise from north: an approximation (±22.5°) used when a catalog gives no azimuth
DIRECTION_AZIMUTH: dict[int, float] = {1: 90.0, 2: 270.0, 3: 180.0, 4: 0.0, 5: 135.0, 6: 45.0, 7: 225.0, 8: 315.0}
DIRECTION_NAMES: dict[int, tuple[str, str]] = {
    1: ("东", "East"), 2: ("西", "West"), 3: ("南", "South"), 4: ("北", "North"),
    5: ("东南", "South-east"), 6: ("东北", "North-east"), 7: ("西南", "South-west"), 8: ("西北", "North-west")}


class InvalidDeviceId(ValueError):
    """A device ID that is not a valid GB/T 28181 rule-A code; the message names the segment and why."""

    def __init__(self, code: object, segment: str, reason: str):
        self.code = code
        self.segment = segment
        self.reason = reason
        super().__init__(f"device ID {code!r}: {segment}: {reason}")


@dataclass(frozen=True)
class DeviceId:
    """The segments of a GB/T 28181 device ID."""

    code: str
    centre: str
    industry: str
    type: str
    network: str
    serial: str

    @property
    def province(self) -> str:
        return self.centre[:2]

    @property
    def city(self) -> str:
        return self.centre[:4]

    @property
    def county(self) -> str:
        return self.centre[:6]

    @property
    def unit(self) -> str:
        """Grassroots unit digits 7–8 (``00`` when none)."""
        return self.centre[6:8]

    @property
    def type_name(self) -> str:
        return type_name(self.type)

    @property
    def is_camera(self) -> bool:
        return self.type in CAMERA_TYPES

    def __str__(self) -> str:
        return self.code


def type_name(type_code: str) -> str | None:
    """English name of a 3-digit device type code, or None when it lies in no reserved range."""
    if type_code in DEVICE_TYPES:
        return DEVICE_TYPES[type_code]
    if type_code.isascii() and type_code.isdigit():   # isdigit alone takes ５ or ² (int() refuses ²)
        n = int(type_code)
        for lo, hi, name in TYPE_RANGES:
            if lo <= n <= hi:
                return name
    return None


def industry_name(code: str) -> tuple[str, str] | None:
    """(中文, English) of a 2-digit industry code, named or in a reserved range; None when not one."""
    return INDUSTRY_NAMES.get(code)


def node_kind(code: object) -> str | None:
    """The catalog-tree kind of an item's ID (``"area"``, ``"sip"``, ``"group"``, ``"virtual"``) or None for a
    device. An administrative area is a GB/T 2260 code of 2, 4, 6 or 8 digits (province … grassroots unit).

    >>> node_kind("510304"), node_kind("51030400002150000001"), node_kind("51030400001320000001")
    ('area', 'group', None)
    """
    text = str(code).strip() if code is not None else ""
    if not (text.isascii() and text.isdigit()):
        return None
    if 2 <= len(text) <= 8 and len(text) % 2 == 0:
        return "area"
    if len(text) == 20:
        return NODE_TYPES.get(text[10:13])
    return None


def parse_device_id(code: object, centre: str | tuple[str, ...] | None = None) -> DeviceId:
    """Split and check a 20-digit GB/T 28181 device ID.

    Parameters
    ----------
    code : str
        The ID as written (surrounding blanks are ignored).
    centre : str, tuple of str, or None
        Prefix(es) the centre code must start with (the district's ``District.camera_prefixes``: its county
        code ``"510304"``, which accepts any grassroots unit under it, and the further prefixes a platform
        uses). ``None`` (the default) only parses: the importer always passes the district's.

    Raises
    ------
    InvalidDeviceId
        Naming the segment (length, centre, industry, type, network) and the reason.

    Examples
    --------
    >>> parse_device_id("51030400001320000001").type
    '132'
    """
    if not isinstance(code, str):
        raise InvalidDeviceId(code, "format", f"must be a string of 20 digits, got {type(code).__name__}")
    text = code.strip()
    if len(text) != 20:
        raise InvalidDeviceId(code, "length", f"must have 20 digits, has {len(text)}")
    if not (text.isascii() and text.isdigit()):
        bad = next(i for i, ch in enumerate(text) if not (ch.isascii() and ch.isdigit()))
        raise InvalidDeviceId(code, _segment_at(bad), f"character {bad + 1} ({text[bad]!r}) is not a digit")
    did = DeviceId(text, text[:8], text[8:10], text[10:13], text[13], text[14:])
    prefixes = (centre,) if isinstance(centre, str) else tuple(centre or ())
    if centre is not None and not did.centre.startswith(prefixes):
        raise InvalidDeviceId(code, "centre code", f"{did.centre} is not under the district's centre "
                              f"{' or '.join(prefixes)}")
    if industry_name(did.industry) is None:
        raise InvalidDeviceId(code, "industry", f"unknown industry code {did.industry} "
                              "(00–11 and 40–55 named, 12–39 and 56–99 reserved)")
    if type_name(did.type) is None:
        raise InvalidDeviceId(code, "type", f"unknown device type code {did.type} "
                              "(111–130 front-end devices, 131–199 peripherals, 200–299 platform devices)")
    if did.network not in NETWORKS:
        raise InvalidDeviceId(code, "network", f"unknown network code {did.network} (0–8)")
    return did


def _segment_at(index: int) -> str:
    for end, name in ((8, "centre code"), (10, "industry"), (13, "type"), (14, "network"), (20, "serial")):
        if index < end:
            return name
    return "serial"


def is_camera_type(code_or_type: str | DeviceId) -> bool:
    """True for a camera (131), an IPC (132) or a video checkpoint (121): a full ID or a 3-digit type code."""
    if isinstance(code_or_type, DeviceId):
        return code_or_type.is_camera
    text = str(code_or_type).strip()
    if len(text) == 20:
        return text[10:13] in CAMERA_TYPES
    return text in CAMERA_TYPES
