"""The district a deployment serves (区县): its codes, extent, time zone and language, in one object.

``app.config.district_of(settings)`` builds it once at the composition root (the Flask factory, the
CLI) from the settings, whose defaults are the one place Da'an's facts (510304, centre 51030400, the
extent, Asia/Shanghai) are written. Everything below takes a ``District`` (or the one field it needs)
as a parameter; nothing builds its own.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class District:
    """The served district.

    Parameters
    ----------
    code : str
        GB/T 2260 six-digit county code, e.g. ``"510304"``.
    name, name_en : str
        The district's name in Chinese and in English, as the interface and the ports show it.
    camera_centre_code : str
        GB/T 28181 centre code (8 digits: county + grassroots unit) that camera IDs carry.
    bbox : tuple of float
        Extent (west, south, east, north), lon/lat in EPSG:4326.
    margin_m : float
        How far outside ``bbox`` (metres) a coordinate may lie before it is refused.
    timezone : str
        IANA zone of the district (dates shown, local dates read without an offset).
    language : str
        Default interface language, ``"zh"`` or ``"en"``.
    data_start : datetime.date
        The earliest date an incident or a patrol point may carry.
    camera_extra_prefixes : tuple of str
        Further GB/T 28181 centre-code prefixes (2–8 digits) a video platform gives the district's cameras,
        beside the county code (setting ``camera_centre_prefixes``).
    """

    code: str
    name: str
    name_en: str
    camera_centre_code: str
    bbox: tuple[float, float, float, float]
    margin_m: float
    timezone: str
    language: str
    data_start: date
    camera_extra_prefixes: tuple[str, ...] = ()

    def __post_init__(self):
        problems = []
        object.__setattr__(self, "camera_extra_prefixes", tuple(self.camera_extra_prefixes or ()))
        for prefix in self.camera_extra_prefixes:
            if not re.fullmatch(r"[0-9]{2,8}", str(prefix), re.ASCII):
                problems.append(f"camera_centre_prefixes: {prefix!r} is not a centre-code prefix of 2–8 digits")
        if not re.fullmatch(r"[0-9]{6}", self.code or "", re.ASCII):
            problems.append(f"district_code {self.code!r} is not a six-digit GB/T 2260 code")
        if not re.fullmatch(r"[0-9]{8}", self.camera_centre_code or "", re.ASCII) \
                or not self.camera_centre_code.startswith(self.code or "-"):
            problems.append(f"camera_centre_code {self.camera_centre_code!r} must be 8 digits starting with "
                            f"the district code {self.code!r}")
        w, s, e, n = (tuple(self.bbox) + (math.nan,) * 4)[:4]
        if len(tuple(self.bbox)) != 4 or not all(math.isfinite(v) for v in (w, s, e, n)) \
                or not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
            problems.append(f"district_bbox {tuple(self.bbox)!r} must be W,S,E,N in degrees with W<E and S<N")
        if not (math.isfinite(self.margin_m) and self.margin_m >= 0):
            problems.append(f"extent_margin_m {self.margin_m!r} must be a finite number ≥ 0")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            problems.append(f"timezone {self.timezone!r} is not an IANA time zone name (Region/City)")
        if not (self.name or "").strip() or not (self.name_en or "").strip():
            problems.append("district_name and district_name_en must not be empty")
        if self.language not in ("zh", "en"):
            problems.append(f"language {self.language!r} must be zh or en")
        if problems:
            raise ValueError("; ".join(problems))
        object.__setattr__(self, "bbox", tuple(float(v) for v in self.bbox))

    @property
    def camera_prefixes(self) -> tuple[str, ...]:
        """What a camera's centre code (its first 8 digits) must start with: the county code (any grassroots
        unit under the district, ``510304`` + two digits) or one of the platform prefixes of the settings."""
        return (self.code, *self.camera_extra_prefixes)

    @cached_property
    def tz(self) -> ZoneInfo:
        """The district's time zone as a ``ZoneInfo``."""
        return ZoneInfo(self.timezone)

    def display_name(self, lang: str) -> str:
        """The district's name in the interface language ``lang`` (``zh`` or ``en``)."""
        return self.name_en if lang == "en" else self.name
