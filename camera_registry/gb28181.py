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
}

#: ``{industry: (中文, English)}``: the names the interface shows (``app.labels`` kind ``industry``), read from
#: :data:`INDUSTRIES` ("English (中文)") so they are written once
INDUSTRY_NAMES: dict[str, tuple[str, str]] = {
    code: (text[text.index("(") + 1:-1], text[:text.index("(")].strip().capitalize()) for code, text in INDUSTRIES.items()}

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


def parse_device_id(code: object, centre: str | None = None) -> DeviceId:
    """Split and check a 20-digit GB/T 28181 device ID.

    Parameters
    ----------
    code : str
        The ID as written (surrounding blanks are ignored).
    centre : str or None
        Prefix the centre code must start with (the district's ``District.camera_centre_code``); a
        shorter prefix such as ``"510304"`` accepts any grassroots unit. ``None`` (the default) only
        parses: the importer always passes the district's.

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
    if centre is not None and not did.centre.startswith(centre):
        raise InvalidDeviceId(code, "centre code", f"{did.centre} is not under the district's centre {centre}")
    if did.industry not in INDUSTRIES:
        raise InvalidDeviceId(code, "industry", f"unknown industry code {did.industry} "
                              f"(known: {', '.join(sorted(INDUSTRIES))})")
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
