"""GB/T 28181 catalogs (目录): the XML bodies of ``CmdType=Catalog`` responses and ``Notify`` messages, and
wvp-GB28181-pro's channel exports (JSON), read into one shape the sync (``camera_registry.sync``) applies.

A catalog answers a query in one or more MESSAGE bodies::

    <?xml version="1.0" encoding="GB2312"?>
    <Response>
      <CmdType>Catalog</CmdType><SN>17</SN><DeviceID>51030400002000000001</DeviceID>
      <SumNum>3</SumNum>
      <DeviceList Num="2"><Item><DeviceID>…</DeviceID><Name>…</Name>…</Item>…</DeviceList>
    </Response>

``SumNum`` is the size of the whole catalog, ``DeviceList/@Num`` the items of this message; a catalog
spread over several messages (one file each, or several bodies in one file) is complete when the items of
its messages add up to ``SumNum``. A ``<Notify>`` with ``CmdType=Catalog`` carries items with an ``<Event>``
(ON, OFF, VLOST, DEFECT, ADD, DEL, UPDATE).

Every item's elements are handed over by their GB/T 28181 names (``Name``, ``Manufacturer``, ``Longitude``,
``PTZType`` …; those under ``<Info>`` flattened), wvp's JSON names (``gbDeviceId``, ``gbName``,
``gbLongitude`` …) translated to the same names, so one mapping (``camera_registry.schema`` header aliases)
turns them into registry fields.
"""
from __future__ import annotations

import codecs
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from camera_registry.gb28181 import node_kind
from camera_registry.models import EVENTS
from gis.errors import InvalidData, RowError

#: the events a Notify item may carry (``camera_registry.models.EVENTS``)
NOTIFY_EVENTS = EVENTS
#: the root element of a body → ``Catalog.kind``
ROOTS = {"Response": "catalog", "Notify": "notify"}
#: the files a folder read takes, and :func:`read_catalog` reads (case-insensitive)
SUFFIXES = (".xml", ".json")
#: elements never handed on: a device's password has no place in the registry, nor in a message about it
DROPPED = frozenset({"Password"})
#: declared encodings read as GB18030 (the superset: real devices write GB18030 characters under a GB2312 or
#: GBK declaration)
GB_ENCODINGS = frozenset({"gb2312", "gb_2312", "gb_2312-80", "gbk", "cp936", "ms936", "x-gbk", "euc-cn",
                          "csgb2312", "gb18030"})

#: wvp-GB28181-pro's channel fields (``CommonGBChannel``) → the GB/T 28181 element each carries
WVP_ELEMENTS: dict[str, str] = {
    "gbDeviceId": "DeviceID", "gbName": "Name", "gbManufacturer": "Manufacturer", "gbModel": "Model",
    "gbOwner": "Owner", "gbCivilCode": "CivilCode", "gbBlock": "Block", "gbAddress": "Address",
    "gbParental": "Parental", "gbParentId": "ParentID", "gbSafetyWay": "SafetyWay", "gbRegisterWay": "RegisterWay",
    "gbCertNum": "CertNum", "gbCertifiable": "Certifiable", "gbErrCode": "ErrCode", "gbEndTime": "EndTime",
    "gbSecrecy": "Secrecy", "gbIpAddress": "IPAddress", "gbPort": "Port", "gbPassword": "Password",
    "gbStatus": "Status", "gbLongitude": "Longitude", "gbLatitude": "Latitude",
    "gbBusinessGroupId": "BusinessGroupID", "gbPtzType": "PTZType", "gbPositionType": "PositionType",
    "gbRoomType": "RoomType", "gbUseType": "UseType", "gbSupplyLightType": "SupplyLightType",
    "gbDirectionType": "DirectionType", "gbResolution": "Resolution", "gbDownloadSpeed": "DownloadSpeed",
    "gbSvcSpaceSupportMod": "SVCSpaceSupportMode", "gbSvcTimeSupportMode": "SVCTimeSupportMode",
}
#: wvp 2.x ``DeviceChannel`` names: the same without ``gb`` (``gbCivilCode`` → ``civilCode``), ``channelId`` for
#: the channel's ID and, in the oldest releases, ``manufacture``. A record with ``channelId`` has the ID of the
#: device the channel hangs off in ``deviceId``; only a record without ``channelId`` has its own ID there.
WVP_LEGACY: dict[str, str] = {
    **{key[2].lower() + key[3:]: element for key, element in WVP_ELEMENTS.items()},
    "channelId": "DeviceID", "manufacture": "Manufacturer",
}
#: the keys that make a JSON record a wvp channel
WVP_ID_KEYS = ("gbDeviceId", "channelId")
#: wvp 2.x sends a channel's status as 1/0 (or a boolean)
WVP_STATUS = {"1": "ON", "0": "OFF", "true": "ON", "false": "OFF"}

_DECLARATION = re.compile(rb"""\A\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_DECL_START = re.compile(rb"<\?xml\b")
_BODY_START = re.compile(rb"<\?xml\b|<(?:Response|Notify)[\s>]")
_ROOT_END = re.compile(rb"</\s*(?:Response|Notify)\s*>")
_DTD = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_SNIFF = 65_536


@dataclass
class CatalogItem:
    """One ``<Item>`` of a catalog or a Notify, or one wvp channel.

    ``elements`` maps GB/T 28181 element names (as the standard spells them: ``DeviceID``, ``Name``,
    ``Longitude``, ``PTZType``, ``DirectionType`` …) to their text, stripped; an element present but empty is
    ``""``. ``where`` names the item for a person fixing the source ("catalog-2.xml, message 1, item 3");
    ``line`` is its 1-based position over the whole read (what a RowError's line shows).
    """

    device_id: str
    elements: dict[str, str]
    where: str
    line: int
    event: str | None = None  # a Notify item's Event; None in a catalog

    @property
    def node_kind(self) -> str | None:
        """``"area"``, ``"sip"``, ``"group"`` or ``"virtual"`` for a node of the catalog tree, None for a device
        (:func:`camera_registry.gb28181.node_kind`)."""
        return node_kind(self.device_id)


@dataclass
class Catalog:
    """What :func:`read_catalog` read from a file or a folder."""

    platform: str | None          # the DeviceID of the answering platform (the root's <DeviceID>), if one
    kind: str                     # "catalog" (a full catalog: absent cameras are gone) or "notify" (events)
    items: list[CatalogItem] = field(default_factory=list)
    sum_num: int | None = None    # the SumNum the messages announce (a wvp export: its records; None: a Notify)
    errors: list[RowError] = field(default_factory=list)   # messages that could not be read, missing items
    sources: list[str] = field(default_factory=list)        # the files read, in order

    @property
    def complete(self) -> bool:
        """A catalog whose messages add up to SumNum (only then may absent cameras be retired)."""
        if self.kind != "catalog" or self.sum_num is None:
            return False
        return len({item.device_id for item in self.items}) == self.sum_num


def is_catalog(path: str | Path) -> bool:
    """Whether ``path`` is a GB/T 28181 catalog/Notify body (``.xml``), a wvp channel export (``.json`` whose
    records carry wvp's field names) or a folder of them: what ``gridwatch cameras import`` hands to the sync
    instead of the table importer."""
    path = Path(path)
    if path.is_dir():
        if path.suffix.lower() == ".gdb":       # a FileGDB is a folder the table importer reads
            return False
        return any(_is_catalog_file(p) for p in _folder_files(path))
    return path.is_file() and _is_catalog_file(path)


def _is_catalog_file(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix == ".xml":        # no table format is read from .xml: read_catalog names what is wrong with one
        return True
    if suffix != ".json":
        return False
    try:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF)
        if not any(f'"{key}"'.encode() in head for key in WVP_ID_KEYS):
            return False                        # a GeoJSON: the table importer's
        return _wvp_records(json.loads(path.read_bytes())) is not None
    except (OSError, ValueError):
        return False


def _folder_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES),
                  key=lambda p: p.name)


def read_catalog(path: str | Path) -> Catalog:
    """Read a catalog/Notify body, a wvp export, or every such file of a folder (sorted by name).

    Raises :class:`gis.errors.InvalidData` when nothing readable is found (naming the file and why); an item
    without a DeviceID, a message of another CmdType, a malformed body or a missing part of the catalog is an
    entry of ``Catalog.errors`` naming its file/message/item.
    """
    path = Path(path)
    if path.is_dir():
        files = _folder_files(path)
        if not files:
            raise InvalidData("the folder holds no .xml (GB/T 28181 catalog) or .json (wvp channel export) file",
                              source=str(path))
    elif path.is_file():
        if path.suffix.lower() not in SUFFIXES:
            raise InvalidData(f"{path.name}: not a catalog file: use a GB/T 28181 catalog body (.xml) or a "
                              "wvp channel export (.json)", source=str(path))
        files = [path]
    else:
        raise InvalidData("file not found", source=str(path))
    reader = _Reader()
    for file in files:
        if file.suffix.lower() == ".json":
            reader.read_wvp(file)
        else:
            reader.read_xml(file)
    return reader.catalog(str(path))


@dataclass
class _Message:
    """One readable body (or one wvp file)."""

    file: str
    number: int
    kind: str                   # catalog | notify | wvp
    platform: str | None
    sn: str | None
    sum_num: int | None
    items: list[CatalogItem]


class _Reader:
    def __init__(self) -> None:
        self.errors: list[RowError] = []
        self.messages: list[_Message] = []
        self.sources: list[str] = []
        self.line = 0

    # -- GB/T 28181 XML ------------------------------------------------------------------------------------
    def read_xml(self, file: Path) -> None:
        self.sources.append(str(file))
        raw = file.read_bytes()
        bodies = _split_bodies(raw)
        if not bodies:
            self.errors.append(RowError(None, None, f"{file.name}: the file is empty: export the catalog again"))
        for number, body in enumerate(bodies, start=1):
            self._body(file.name, number, body, several=len(bodies) > 1)

    def _body(self, name: str, number: int, body: bytes, *, several: bool) -> None:
        where = f"{name}, message {number}"
        try:
            text = _decode(body)
        except ValueError as exc:
            self.errors.append(RowError(None, None, f"{where}: {exc}"))
            return
        if _DTD.search(text):
            self.errors.append(RowError(None, None, f"{where}: the message has a DTD (<!DOCTYPE> or <!ENTITY>), "
                                        "refused (entities can expand without bound); a catalog body has none: "
                                        "remove it"))
            return
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            self.errors.append(RowError(None, None, f"{where}: not well-formed XML ({exc}); the message is "
                                        "truncated or damaged: capture or export it again"))
            return
        tag = _local(root.tag)
        if tag not in ROOTS:
            self.errors.append(RowError(None, None, f"{where}: the root element is <{tag}>, not <Response> (a "
                                        "catalog answer) or <Notify> (catalog events)"))
            return
        cmd = (root.findtext("CmdType") or "").strip()
        if cmd.lower() != "catalog":
            self.errors.append(RowError(None, "CmdType", f"{where}: CmdType {cmd or '(none)'}: not a catalog "
                                        "message (CmdType Catalog); read the platform's catalog answer instead"))
            return
        platform = (root.findtext("DeviceID") or "").strip() or None
        sn = (root.findtext("SN") or "").strip() or None
        sum_num = None
        if (sum_text := root.findtext("SumNum")) is not None:
            sum_text = sum_text.strip()
            if sum_text.isascii() and sum_text.isdigit():
                sum_num = int(sum_text)
            else:
                self.errors.append(RowError(None, "SumNum", f"{where}: SumNum {sum_text!r} is not a whole number "
                                            "of items"))
        kind = ROOTS[tag]
        device_list = root.find("DeviceList")
        elements_list = [] if device_list is None else device_list.findall("Item")
        items = []
        for index, node in enumerate(elements_list, start=1):
            self.line += 1
            item_where = f"{where}, item {index}"
            item = self._item(_elements(node), item_where, notify=kind == "notify")
            if item is not None:
                items.append(item)
        if device_list is not None and (num := (device_list.get("Num") or "").strip()):
            if num.isascii() and num.isdigit() and int(num) != len(elements_list):
                self.errors.append(RowError(None, "Num", f"{where}: DeviceList Num {num} but {len(elements_list)} "
                                            "items: the message was cut or edited; capture it again"))
        self.messages.append(_Message(name, number, kind, platform, sn, sum_num, items))

    def _item(self, elements: dict[str, str], where: str, *, notify: bool) -> CatalogItem | None:
        elements = {k: v for k, v in elements.items() if k not in DROPPED}
        device_id = elements.get("DeviceID", "")
        if not device_id:
            name = elements.get("Name")
            named = f" (Name {name!r})" if name else ""
            self.errors.append(RowError(self.line, "DeviceID", f"{where}{named}: an item without a DeviceID: "
                                        "give it its 20-digit GB/T 28181 code in the platform and export again"))
            return None
        parent = elements.get("ParentID")
        if parent and "/" in parent:            # a path of the tree, root first: the parent is its last part
            parts = [p.strip() for p in parent.split("/") if p.strip()]
            elements["ParentPath"] = parent
            elements["ParentID"] = parts[-1] if parts else ""
        event = None
        if notify:
            event = elements.get("Event", "").upper()
            if event not in NOTIFY_EVENTS:
                what = f"event {elements['Event']!r}" if elements.get("Event") else "no <Event>"
                self.errors.append(RowError(self.line, "Event", f"{where} (DeviceID {device_id}): {what}: a catalog "
                                            f"Notify item carries one of {', '.join(NOTIFY_EVENTS)}"))
                return None
        return CatalogItem(device_id, elements, where, self.line, event)

    # -- wvp-GB28181-pro JSON --------------------------------------------------------------------------------
    def read_wvp(self, file: Path) -> None:
        self.sources.append(str(file))
        try:
            data = json.loads(file.read_bytes())
        except ValueError as exc:
            self.errors.append(RowError(None, None, f"{file.name}: not valid JSON ({exc}): export the channels "
                                        "from wvp again"))
            return
        if isinstance(data, dict) and "code" in data and data.get("code") not in (0, "0"):
            self.errors.append(RowError(None, None, f"{file.name}: wvp answered code {data.get('code')!r} "
                                        f"({data.get('msg', '')!s:.200}) instead of the channel list"))
            return
        records = _wvp_records(data)
        if records is None:
            self.errors.append(RowError(None, None, f"{file.name}: not a wvp-GB28181-pro channel export (a JSON "
                                        "array of channels with gbDeviceId or channelId, or wvp's "
                                        '{"code":0,"data":{"list":[…]}} page); a GeoJSON is imported as a table'))
            return
        items = []
        for index, record in enumerate(records, start=1):
            self.line += 1
            where = f"{file.name}, record {index}"
            if not isinstance(record, dict):
                self.errors.append(RowError(self.line, None, f"{where}: not a JSON object (a channel)"))
                continue
            item = self._item(_wvp_elements(record), where, notify=False)
            if item is not None:
                items.append(item)
        self.messages.append(_Message(file.name, 1, "wvp", None, None, len(records), items))

    # -- one catalog out of the messages -----------------------------------------------------------------------
    def catalog(self, source: str) -> Catalog:
        messages = self.messages
        if not messages:
            raise InvalidData(self.errors or "nothing readable", source=source)
        kinds: dict[str, list[str]] = {}
        for m in messages:
            kinds.setdefault(m.kind, []).append(_label(m))
        if len(kinds) > 1:
            named = {"catalog": "catalog answers", "notify": "Notify events", "wvp": "wvp channel exports"}
            raise InvalidData(" and ".join(f"{named[k]} ({', '.join(_first(v))})" for k, v in kinds.items())
                              + " in one read: read each kind on its own", source=source)
        kind = next(iter(kinds))
        platforms: dict[str, list[str]] = {}
        for m in messages:
            if m.platform:
                platforms.setdefault(m.platform, []).append(_label(m))
        if len(platforms) > 1:
            raise InvalidData("messages of different platforms in one read: " + "; ".join(
                f"{p} ({', '.join(_first(v))})" for p, v in platforms.items()) + ": read one platform's catalog "
                "at a time", source=source)
        platform = next(iter(platforms), None)
        errors = list(self.errors)
        if kind == "notify":
            items = [item for m in messages for item in m.items]
            return Catalog(platform, "notify", items, None, errors, self.sources)
        if kind == "catalog":
            sns: dict[str, list[str]] = {}
            for m in messages:
                if m.sn:
                    sns.setdefault(m.sn, []).append(_label(m))
            if len(sns) > 1:
                raise InvalidData(f"messages of {len(sns)} catalog answers of {platform or 'the platform'} in one "
                                  "read: " + "; ".join(f"SN {sn} ({', '.join(_first(v))})" for sn, v in sns.items())
                                  + ": read one answer (one SN) at a time", source=source)
            announced = {m.sum_num for m in messages if m.sum_num is not None}
            sum_num = max(announced, default=None)      # disagreeing: the largest (complete only when all came)
            if len(announced) > 1:
                errors.append(RowError(None, "SumNum", "the messages announce different SumNum (" + ", ".join(
                    f"{m.sum_num} in {_label(m)}" for m in messages if m.sum_num is not None)
                    + f"): {sum_num} taken; they may belong to different answers: capture one answer again"))
            elif sum_num is None:
                errors.append(RowError(None, "SumNum", "no message gives SumNum: whether the catalog is complete "
                                       "is unknown, so no camera will be retired"))
        else:
            sum_num = sum(m.sum_num or 0 for m in messages)   # a full export: every record is a channel
        by_id: dict[str, CatalogItem] = {}
        for m in messages:
            for item in m.items:
                by_id[item.device_id] = item            # repeated across messages: the last wins
        items = list(by_id.values())
        if sum_num is not None and len(items) != sum_num:
            what = ("a wvp export of" if kind == "wvp" else "the catalog announces SumNum")
            more = (f"{sum_num - len(items)} missing: absent cameras will not be retired until every message (and "
                    "every item) of the catalog is read" if len(items) < sum_num else
                    "more items than announced: the messages belong to different answers")
            errors.append(RowError(None, "SumNum", f"{what} {sum_num}, {len(items)} distinct items read; {more}"))
        return Catalog(platform, "catalog", items, sum_num, errors, self.sources)


def _label(m: _Message) -> str:
    return m.file if m.kind == "wvp" else f"{m.file} message {m.number}"


def _first(labels: list[str], n: int = 3) -> list[str]:
    return labels[:n] + ([f"… {len(labels) - n} more"] if len(labels) > n else [])


def _split_bodies(raw: bytes) -> list[bytes]:
    """The XML bodies of a file: one, or several back to back (a SIP log capture); what lies between them
    (SIP headers) is left out. A body is cut at its root's end tag, or at the next declaration when truncated."""
    out = []
    pos = 0
    while (m := _BODY_START.search(raw, pos)) is not None:
        nxt = _DECL_START.search(raw, m.end())
        end = _ROOT_END.search(raw, m.end())
        if end is not None and (nxt is None or end.end() <= nxt.start()):
            out.append(raw[m.start():end.end()])
            pos = end.end()
        else:
            stop = nxt.start() if nxt is not None else len(raw)
            out.append(raw[m.start():stop])
            pos = stop
    if not out and raw.strip():
        out.append(raw)
    return out


def _decode(body: bytes) -> str:
    """The text of a body by its declared encoding (GB2312/GBK read as GB18030), or UTF-8 then GB18030."""
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8):]
        declared = "utf-8"
    else:
        m = _DECLARATION.match(body)
        declared = m.group(1).decode("ascii").lower() if m else None
    if declared is None:
        for codec in ("utf-8", "gb18030"):
            try:
                return body.decode(codec)
            except UnicodeDecodeError:
                continue
        raise ValueError("neither UTF-8 nor GB18030 and no encoding declared: declare the encoding the message is "
                         'written in (<?xml version="1.0" encoding="…"?>)')
    codec = "gb18030" if declared in GB_ENCODINGS else declared
    try:
        codecs.lookup(codec)
    except LookupError:
        raise ValueError(f"unknown encoding {declared!r} declared: use GB2312, GB18030 or UTF-8") from None
    try:
        return body.decode(codec)
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid {declared.upper()} (byte {exc.start + 1} of the message, as declared): save "
                         "it in the encoding it declares") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else str(tag)


def _elements(item: ET.Element) -> dict[str, str]:
    """An Item's elements by name, its ``<Info>`` children flattened (the Item's own element wins)."""
    own: dict[str, str] = {}
    info: dict[str, str] = {}
    for child in item:
        tag = _local(child.tag)
        if tag == "Info":
            for sub in child:
                info.setdefault(_local(sub.tag), (sub.text or "").strip())
        else:
            own.setdefault(tag, (child.text or "").strip())
    for key, value in info.items():
        own.setdefault(key, value)
    return own


def _wvp_records(data) -> list | None:
    """The channel records of a wvp export (an array, or wvp's ``{"code":0,"data":{"list":[…]}}``), or None."""
    if isinstance(data, dict) and "data" in data:
        data = data["data"]
        if isinstance(data, dict):
            data = data.get("list")
    if not isinstance(data, list):
        return None
    first = next((r for r in data if isinstance(r, dict)), None)
    if first is None or not any(key in first for key in WVP_ID_KEYS):
        return None
    return data


def _wvp_text(value) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value).strip()


def _wvp_elements(record: dict) -> dict[str, str]:
    """A wvp channel's fields by their GB/T 28181 names: the ``gb…`` field where it has a value, else the
    wvp 2.x name."""
    out: dict[str, str] = {}
    legacy = "channelId" in record
    for key, value in record.items():
        element = WVP_LEGACY.get(key)
        if element is None or (key == "deviceId" and legacy):
            continue
        text = _wvp_text(value)
        if text is not None and (text or element not in out):
            out[element] = text
    for key, value in record.items():
        element = WVP_ELEMENTS.get(key)
        text = _wvp_text(value) if element else None
        if text:
            out[element] = text
    if "Status" in out:
        out["Status"] = WVP_STATUS.get(out["Status"].lower(), out["Status"])
    return out
