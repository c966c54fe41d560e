"""Camera record fields: names, Chinese headers, value parsing and per-row validation.

One definition of every importable field (:data:`FIELDS`), the header aliases a district's
spreadsheet uses (:data:`HEADER_ALIASES`, English, Chinese and the 10-character Shapefile names) and
:func:`validate_rows`, which turns a frame of text cells into typed values and a list of
:class:`~gis.errors.RowError`. Positions are checked by the importer (``gis.crs``), not here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from camera_registry.gb28181 import DIRECTION_AZIMUTH, DIRECTION_NAMES, InvalidDeviceId, parse_device_id
from camera_registry.models import (POINT_CLASS_NAMES, PROGRAMME_NAMES, PROGRAMMES, PTZ_NAMES, STATUS_NAMES, STATUSES,
                                    Camera)
from gis.codes import COMMUNITY
from gis.errors import RowError
from gis.text import BLANKS, column_length, text_problem

if TYPE_CHECKING:  # pandas stays off the paths that only list (the CLI starts in under a second)
    import pandas as pd


@dataclass(frozen=True)
class Field:
    """An importable camera attribute: its column, Chinese header, Shapefile name and kind."""

    name: str
    zh: str
    kind: str  # text | int | float | date | code | bool
    shp: str = ""

    @property
    def shp_name(self) -> str:
        return self.shp or self.name

    @property
    def max_len(self) -> int | None:
        """The column's size in characters, read from the model (written once, in ``String(n)``)."""
        return column_length(Camera.__table__.c[self.name])


FIELDS: tuple[Field, ...] = (
    Field("device_id", "设备编码", "code"),
    Field("name", "设备名称", "text"),
    Field("point_name", "点位名称", "text"),
    Field("programme", "建设工程", "code"),
    Field("point_class", "点位类型", "int", shp="pt_class"),
    Field("ptz_type", "摄像机类型", "int"),
    Field("function_types", "功能类型", "code", shp="func_types"),
    Field("height_m", "安装高度", "float"),
    Field("azimuth", "方位角", "float"),
    Field("fov", "水平视场角", "float"),
    Field("vfov", "垂直视场角", "float"),
    Field("range_m", "最大可视距离", "float"),
    Field("install_date", "安装时间", "date", shp="inst_date"),
    Field("management_unit", "管理单位", "text", shp="mgmt_unit"),
    Field("contact", "联系方式", "text"),
    Field("record_days", "录像保存天数", "int", shp="rec_days"),
    Field("address", "安装地址", "text"),
    Field("status", "在线状态", "code"),
    Field("declared_community_code", "所属社区编码", "code", shp="decl_comm"),
    Field("source_crs", "来源坐标系", "text", shp="src_crs"),
    # GB/T 28181 catalog attributes (0011_catalog): what a video platform's catalog says of the device
    Field("manufacturer", "设备厂商", "text", shp="manufactur"),
    Field("model", "设备型号", "text"),
    Field("owner", "设备归属", "text"),
    Field("civil_code", "行政区域", "code"),
    Field("parent_id", "父节点编码", "code"),
    Field("business_group_id", "业务分组编码", "code", shp="bgroup_id"),
    Field("parental", "有无子设备", "int"),
    Field("secrecy", "保密属性", "int"),
    Field("direction_type", "监视方位", "int", shp="dir_type"),
    Field("azimuth_approx", "方位角为估算", "bool", shp="azi_approx"),
    Field("platform", "视频平台", "code"),
)
BY_NAME = {f.name: f for f in FIELDS}
# Derived values that an export writes and an import ignores (recomputed from the position).
DERIVED: dict[str, tuple[str, str]] = {  # name -> (Chinese header, Shapefile name)
    "grid_code": ("网格编码", "grid_code"),
    "community_code": ("所在社区编码", "comm_code"),
    "street_code": ("街道编码", "street_cd"),
}
# Export only: written for the file's reader, never read back by an import. A camera's lifecycle (planned,
# active, retired) changes only in camera_registry.history (commissioning, retirement), not by a file.
EXPORT_ONLY: dict[str, tuple[str, str]] = {  # name -> (Chinese header, Shapefile name)
    "lifecycle": ("生命周期", "lifecycle"),
}
POSITION = {"lon": "经度", "lat": "纬度"}
#: every column of a camera that a file or a layer carries, in order: the importable fields, the derived codes
#: and the lifecycle. The one list behind the exports (camera_registry.exporter), the map layer and the
#: analyses (app.layers_db), and the OGC API's collection (which reads the layer)
COLUMNS: tuple[str, ...] = tuple(f.name for f in FIELDS) + tuple(DERIVED) + tuple(EXPORT_ONLY)
#: a person's contact (a phone number, GB/T 28181 ContactInfo): in the administrators' exports only, never on
#: a map, in the analysts' ``gis`` views or the OGC API
PERSONAL: tuple[str, ...] = ("contact",)
#: what a map layer shows of a built camera (the layer holds active cameras only: no lifecycle column)
LAYER_COLUMNS: tuple[str, ...] = tuple(c for c in COLUMNS if c not in PERSONAL and c not in EXPORT_ONLY)
#: columns by kind, for writers that type them (integers stay integers with nulls, dates stay dates)
INT_COLUMNS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.kind == "int")
BOOL_COLUMNS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.kind == "bool")
DATE_COLUMNS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.kind == "date")
REQUIRED = ("device_id", "name")
# GB/T 28181-2022 catalog: InstallTime, ManagementUnit, ContactInfo and RecordSaveDays are mandatory for
# class-1 (一类) points; the position (mandatory for classes 1 and 2) is required of every row here.
CLASS1_REQUIRED = ("install_date", "management_unit", "contact", "record_days")

HEADER_ALIASES: dict[str, str] = {}
for _f in FIELDS:
    for _alias in (_f.name, _f.zh, _f.shp_name):
        HEADER_ALIASES[_alias.lower()] = _f.name
for _name, (_zh, _shp) in (DERIVED | EXPORT_ONLY).items():  # recognised, so not "ignored", and not read
    for _alias in (_name, _zh, _shp):
        HEADER_ALIASES[_alias.lower()] = _name
HEADER_ALIASES.update({
    "设备id": "device_id", "设备编号": "device_id", "国标编码": "device_id", "deviceid": "device_id",
    "名称": "name", "摄像机名称": "name",
    "点位名": "point_name", "通用名称": "point_name",
    "所属工程": "programme", "工程": "programme", "项目": "programme",
    "点位级别": "point_class", "point_type": "point_class", "pointtype": "point_class",
    "ptz类型": "ptz_type", "ptztype": "ptz_type", "云台类型": "ptz_type",
    "function_type": "function_types", "functiontype": "function_types",
    "高度": "height_m", "安装高度(米)": "height_m", "安装高度(m)": "height_m", "height": "height_m",
    "朝向": "azimuth", "方向角": "azimuth", "direction": "azimuth",
    "视场角": "fov", "horizontalfieldangle": "fov", "verticalfieldangle": "vfov",
    "可视距离": "range_m", "最大可视距离(米)": "range_m", "maxviewdistance": "range_m",
    "安装日期": "install_date", "installtime": "install_date",
    "managementunit": "management_unit", "管理部门": "management_unit",
    "联系电话": "contact", "contactinfo": "contact",
    "存储天数": "record_days", "recordsavedays": "record_days",
    "地址": "address", "安装位置": "address",
    "状态": "status", "设备状态": "status",
    "declared_community": "declared_community_code", "社区编码": "declared_community_code",
    # GB/T 28181 catalog element names (camera_registry.catalog hands an Item's elements over by these)
    "civilcode": "civil_code", "parentid": "parent_id", "businessgroupid": "business_group_id",
    "directiontype": "direction_type", "厂商": "manufacturer", "型号": "model", "监视方向": "direction_type",
    "lon": "lon", "lat": "lat", "经度": "lon", "longitude": "lon", "lng": "lon", "x": "lon",
    "纬度": "lat", "latitude": "lat", "y": "lat",
})

# each code's Chinese name (camera_registry.models *_NAMES, the names the interface shows) and common variants
PROGRAMME_ALIASES = {
    **{zh: code for code, (zh, _) in PROGRAMME_NAMES.items()},
    "天网工程": "skynet", "雪亮": "xueliang", "慧眼": "huiyan", "平安小区": "compound", "其它": "other",
    **{p: p for p in PROGRAMMES},
}
STATUS_ALIASES = {**{zh: code for code, (zh, _) in STATUS_NAMES.items()}, **{s: s for s in STATUSES}}
CLASS_ALIASES = {**{zh: code for code, (zh, _) in POINT_CLASS_NAMES.items()}, "1": 1, "2": 2, "3": 3, "9": 9}
PTZ_ALIASES = {**{zh: code for code, (zh, _) in PTZ_NAMES.items()}, "枪机": 3,
               **{str(i): i for i in PTZ_NAMES}}
DIRECTION_ALIASES = {**{zh: code for code, (zh, _) in DIRECTION_NAMES.items()}, **{str(i): i for i in DIRECTION_AZIMUTH}}
FLAG_ALIASES = {"0": 0, "1": 1}  # Parental, Secrecy
BOOL_ALIASES = {"true": True, "t": True, "1": True, "yes": True, "是": True,
                "false": False, "f": False, "0": False, "no": False, "否": False}
#: a code's digits (min, max): administrative-area codes (GB/T 2260, 2–12 digits) and catalog IDs (2–20)
CODE_DIGITS = {"civil_code": (2, 12), "parent_id": (2, 20), "business_group_id": (20, 20)}
FUNCTION_TYPES = ("01", "02", "03", "04", "05", "99")

# (low, high, low inclusive, high inclusive, unit) of numeric fields
RANGES = {
    "azimuth": (0.0, 360.0, True, True, "degrees clockwise from north"),
    "fov": (0.0, 360.0, False, True, "degrees"),
    "vfov": (0.0, 180.0, False, True, "degrees"),
    "range_m": (0.0, 10_000.0, False, True, "metres"),
    "height_m": (0.0, 300.0, False, True, "metres above ground"),
    "record_days": (1, 3650, True, True, "days"),
}


def canonical_header(header: str) -> str | None:
    """The field a column header names (English, Chinese or Shapefile spelling), or None."""
    key = re.sub(r"\s+", "", str(header)).lower().replace("（", "(").replace("）", ")")
    return HEADER_ALIASES.get(key)


def _number(text: str) -> float | None:
    try:
        value = float(text.replace("，", "."))
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def _date(text: str) -> date | None:
    # Excel cells come back as "2017-01-14 00:00:00"; a time other than midnight is not a date
    m = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]00:00(?::00)?)?", text)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _function_types(text: str) -> str | None:
    parts = [p.strip() for p in re.split(r"[;,/、，；\s]+", text) if p.strip()]
    out = []
    for p in parts:
        code = p.zfill(2) if p.isdigit() else p
        if code not in FUNCTION_TYPES:
            return None
        if code not in out:
            out.append(code)
    return ";".join(out)


def parse_value(name: str, text: str, *, centre: str | tuple[str, ...] | None):
    """Typed value of field ``name`` from a non-empty cell, or raise ValueError with the reason.

    ``centre`` is what a device ID's centre code must start with (``District.camera_prefixes``, the district's
    county code first), or None to only parse."""
    f = BY_NAME[name]
    if name == "device_id":
        try:
            did = parse_device_id(text, centre)
        except InvalidDeviceId as exc:
            raise ValueError(f"{exc.segment}: {exc.reason}") from None
        if not did.is_camera:
            raise ValueError(f"type: {did.type} ({did.type_name}) is not a camera type (121, 131 or 132)")
        return did.code
    if name == "programme":
        value = PROGRAMME_ALIASES.get(text.lower() if text.isascii() else text)
        if value is None:
            raise ValueError(f"{text!r} is not a programme: use {'/'.join(zh for zh, _ in PROGRAMME_NAMES.values())} "
                             f"or {'/'.join(PROGRAMMES)}")
        return value
    if name == "status":
        value = STATUS_ALIASES.get(text.upper() if text.isascii() else text)
        if value is None:
            raise ValueError(f"{text!r} is not a status: use ON/OFF (在线/离线), VLOST or DEFECT")
        return value
    if name == "point_class":
        return _alias_int(text, CLASS_ALIASES, "a point class: use 1, 2, 3 or 9 (一类/二类/三类)")
    if name == "ptz_type":
        return _alias_int(text, PTZ_ALIASES, "a PTZ type: use 0–7 "
                                             f"({'/'.join(zh for zh, _ in PTZ_NAMES.values())})")
    if name == "direction_type":
        return _alias_int(text, DIRECTION_ALIASES, "a direction type: use 1–8 "
                                                   f"({'/'.join(zh for zh, _ in DIRECTION_NAMES.values())})")
    if name in ("parental", "secrecy"):
        return _alias_int(text, FLAG_ALIASES, f"a {name} flag: use 0 or 1")
    if name in CODE_DIGITS:
        lo, hi = CODE_DIGITS[name]
        if not (text.isascii() and text.isdigit() and lo <= len(text) <= hi):
            raise ValueError(f"{text!r} is not a code of {lo}–{hi} digits" if lo != hi
                             else f"{text!r} is not a code of {lo} digits")
        return text
    if name == "platform":
        if not re.fullmatch(r"[0-9A-Za-z_.-]{1,20}", text):
            raise ValueError(f"{text!r} is not a platform ID (its SIP ID, or up to 20 letters, digits, '_', '-', '.')")
        return text
    if f.kind == "bool":
        value = BOOL_ALIASES.get(text.lower())
        if value is None:
            raise ValueError(f"{text!r} is not true or false (1/0, 是/否)")
        return value
    if name == "function_types":
        value = _function_types(text)
        if value is None:
            raise ValueError(f"{text!r}: function types are {'/'.join(FUNCTION_TYPES)} separated by ';'")
        return value
    if name == "declared_community_code":
        try:
            county = (centre if isinstance(centre, str) else centre[0])[:6] if centre else None
            return COMMUNITY.validate(text, parent=county)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
    if f.kind == "date":
        value = _date(text)
        if value is None:
            raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)")
        if value > date.today():
            raise ValueError(f"{value.isoformat()} is in the future")
        return value
    if f.kind in ("float", "int"):
        value = _number(text)
        if value is None:
            raise ValueError(f"{text!r} is not a number")
        if f.kind == "int":
            if value != int(value):
                raise ValueError(f"{text!r} is not a whole number")
            value = int(value)
        _check_range(name, value)
        return value
    problem = text_problem(text, max_len=f.max_len)
    if problem is not None:
        raise ValueError(problem)
    return text


def apply_direction(row: dict, stored: Camera | None, given: set[str]) -> dict:
    """The row with the azimuth a DirectionType implies, where nothing better is known.

    ``given`` is the fields the source carries (the file's columns, a catalog item's elements). A row that gives
    an azimuth keeps it (surveyed: ``azimuth_approx`` false unless the row says so); one that gives none but a
    ``direction_type`` gets that direction's azimuth, marked approximate, unless the stored camera already has
    a surveyed azimuth (a catalog sync must not overwrite what a surveyor measured).
    """
    out = dict(row)
    direction = out.get("direction_type")
    if "azimuth" in given and out.get("azimuth") is not None:
        if "azimuth_approx" not in given:
            out["azimuth_approx"] = False
        return out
    if isinstance(direction, int) and direction in DIRECTION_AZIMUTH:
        if stored is None or stored.azimuth is None or stored.azimuth_approx:
            out["azimuth"] = DIRECTION_AZIMUTH[direction]
            out["azimuth_approx"] = True
    return out


def _alias_int(text: str, aliases: dict, what: str) -> int:
    key = text[:-2] if text.endswith(".0") else text
    if key not in aliases:
        raise ValueError(f"{text!r} is not {what}")
    return aliases[key]


def _check_range(name: str, value: float) -> None:
    if name not in RANGES:
        return
    lo, hi, lo_in, hi_in, unit = RANGES[name]
    ok = (value >= lo if lo_in else value > lo) and (value <= hi if hi_in else value < hi)
    if not ok:
        interval = f"{'[' if lo_in else '('}{lo:g}, {hi:g}{']' if hi_in else ')'}"
        raise ValueError(f"{value:g} is outside {interval} {unit}")


def validate_rows(frame: pd.DataFrame, lines, *, centre: str | tuple[str, ...] | None) -> tuple[list[dict], list[RowError]]:
    """Typed values of every row (only the fields present as columns) and every problem found.

    ``frame`` has canonical column names (see :func:`canonical_header`) and text cells; an empty
    cell is ``None`` (cleared). Required fields and class-1 fields are checked here too.
    """
    present = [f.name for f in FIELDS if f.name in frame.columns]
    errors: list[RowError] = []
    rows: list[dict] = []
    for line, cells in zip(lines, frame[present].itertuples(index=False, name=None)):
        row: dict = {}
        for name, raw in zip(present, cells):
            text = "" if raw is None else str(raw).strip(BLANKS)
            if not text:
                row[name] = None
                continue
            problem = text_problem(text)  # a NUL or a bidi override is refused in any cell, named as such
            if problem is not None:
                errors.append(RowError(int(line), name, problem))
                row[name] = _BAD
                continue
            try:
                row[name] = parse_value(name, text, centre=centre)
            except ValueError as exc:
                errors.append(RowError(int(line), name, str(exc)))
                row[name] = _BAD
        for name in REQUIRED:
            if row.get(name) is None:
                errors.append(RowError(int(line), name, f"missing: every camera needs a {name} "
                                       f"({BY_NAME[name].zh})"))
        if row.get("point_class") == 1:
            missing = [n for n in CLASS1_REQUIRED if row.get(n) is None]
            if missing:
                errors.append(RowError(int(line), ",".join(missing),
                                       "a class-1 point (一类点位) must have " + ", ".join(
                                           f"{n} ({BY_NAME[n].zh})" for n in missing) + " (GB/T 28181-2022)"))
        rows.append(row)
    return rows, errors


class _Bad:
    """Marks a cell that failed to parse (distinct from an empty cell)."""

    def __repr__(self) -> str:
        return "<bad>"


_BAD = _Bad()
