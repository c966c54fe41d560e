"""Settings: one table of ``Setting(name, default, help)``.

Values come from the defaults, then an optional ``gridwatch.toml`` (path in ``GRIDWATCH_CONFIG``,
else ``./gridwatch.toml``), then environment variables (``GRIDWATCH_<NAME>``, and ``DATABASE_URL``),
then explicit overrides (tests). Each value is checked against its default's type.
"""
from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Mapping

from gis.district import District

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS = [
    Setting("database_url", "", "SQLAlchemy URL of the PostGIS database; empty = the embedded cluster under var/"),
    Setting("database_read_url", "", "SQLAlchemy URL of a read replica for the read-only queries (statistics, "
            "OGC API reads); empty = the primary (docs/scaling.md)"),
    Setting("var_dir", str(PROJECT_ROOT / "var"), "where the embedded cluster and caches live"),
    Setting("data_dir", str(PROJECT_ROOT / "data"), "demo district and reference tables"),
    Setting("secret_key", "", "Flask session secret; empty = a random key kept in var/secret_key"),
    Setting("basemap", "none", "none | osm | tianditu | amap | an XYZ URL template of an intranet tile server"),
    Setting("tianditu_key", "", "Tianditu tk key, needed when basemap = tianditu"),
    Setting("language", "zh", "default interface language: zh or en"),
    Setting("district_code", "510304", "GB/T 2260 code of the district"),
    Setting("district_name", "大安区", "the district's name as the interface and Open311 show it (Chinese)"),
    Setting("district_name_en", "Da'an", "the district's name in the English interface"),
    Setting("camera_centre_code", "51030400", "GB/T 28181 centre code (first 8 digits) cameras must carry"),
    Setting("camera_centre_prefixes", [], "further GB/T 28181 centre-code prefixes (2–8 digits) a video platform "
            "gives the district's cameras; any grassroots unit under the district code is always accepted"),
    Setting("video_platforms", {}, "the GB/T 28181 platforms cameras are synced from: {\"<platform SIP ID>\": "
            "{\"name\": \"…\", \"crs\": \"wgs84|gcj02|cgcs2000\"}}; crs is what the platform's catalog "
            "coordinates are in (wvp-GB28181-pro writes WGS-84); cameras import --crs overrides it"),
    Setting("video_url_template", "", "link to a camera's live video, {device_id} replaced by its GB/T 28181 ID "
            "(e.g. https://video.example/live?deviceId={device_id}); empty = no live-view links"),
    Setting("open311_cors_origins", [], "origins (scheme://host[:port]) of browser-based civic apps allowed to "
            "call the Open311 API (CORS); empty = none"),
    Setting("district_bbox", [104.55, 29.20, 105.00, 29.55], "lon/lat extent of the district (W, S, E, N)"),
    Setting("extent_margin_m", 2000.0, "how far outside the district extent a coordinate may lie before it is refused"),
    Setting("camera_min_spacing_m", 2.0, "two cameras closer than this are reported as a probable duplicate"),
    Setting("duplicate_radius_m", 50.0, "a new incident this close to an open one of the same category is a suspected duplicate"),
    Setting("duplicate_window_h", 24.0, "... and reported within this many hours of it"),
    Setting("households_per_grid", [300, 500], "local guideline for households per urban grid (a setting, not a rule)"),
    Setting("timezone", "Asia/Shanghai", "time zone of the district"),
    Setting("session_idle_minutes", 120, "a log-in session unused this long ends (minutes)"),
    Setting("session_max_hours", 12, "a log-in session ends this long after log-in, however busy (hours)"),
    Setting("cookie_secure", False, "send the session cookie only over HTTPS (set true behind TLS)"),
    Setting("login_max_failures", 5, "failed log-ins per account or per client address before log-in is throttled"),
    Setting("login_max_failures_per_address", 20, "failed log-ins from one client address (whatever the "
            "accounts, successes not resetting the count) before log-ins from it are throttled"),
    Setting("login_attempts_keep_days", 180, "log-in attempts (the audit of failed log-ins) older than this are deleted"),
    Setting("login_window_minutes", 15, "the window those failures are counted in, and how long throttling lasts"),
    Setting("open311_anonymous_reads", False, "let Open311 GET requests through without an API key (sensitive "
            "categories then show no text or address, and spots rounded to about 100 m)"),
    Setting("patrol_retention_days", 0, "patrol track points older than this many days are removed by "
            "`gridwatch patrols prune` (0 = kept for ever)"),
    Setting("data_start_date", "2010-01-01", "the earliest date an incident or patrol point may carry (ISO date)"),
    Setting("due_soon_hours", 4.0, "an open incident whose deadline is this close is 'due soon' (badges, work-order "
            "order, the due_soon webhook event)"),
    Setting("photo_max_count", 6, "photos one report or one action may carry"),
    Setting("photo_max_bytes", 10_000_000, "largest photo file accepted (bytes)"),
    Setting("photo_max_pixels", 40_000_000, "largest photo accepted (width × height); a larger one, such as a "
            "decompression bomb, is refused before it is decoded"),
    Setting("photo_thumb_px", 320, "the longer side of a photo's thumbnail (pixels)"),
    Setting("webhook_url", "", "where incident events are POSTed as signed JSON (empty = no webhook)"),
    Setting("webhook_secret", "", "the HMAC-SHA256 key that signs each webhook body (X-Gridwatch-Signature)"),
    Setting("webhook_timeout_s", 5.0, "how long one webhook delivery may take (seconds)"),
    Setting("webhook_max_attempts", 8, "deliveries of one event before it is given up as failed (back-off doubles "
            "from 30 s)"),
]
_BY_NAME = {s.name: s for s in SETTINGS}

_ENV_ALIASES = {"database_url": "DATABASE_URL", "database_read_url": "DATABASE_READ_URL"}


def _coerce(setting: Setting, value: Any, source: str) -> Any:
    default = setting.default
    if isinstance(default, bool):
        if isinstance(value, str):
            low = value.strip().lower()
            if low in {"1", "true", "yes", "on"}:
                return True
            if low in {"0", "false", "no", "off", ""}:
                return False
        if isinstance(value, bool):
            return value
    elif isinstance(default, (int, float)) and not isinstance(default, bool):
        try:
            return type(default)(value)
        except (TypeError, ValueError):
            pass
    elif isinstance(default, list):
        if isinstance(value, str):
            value = [v for v in value.replace(";", ",").split(",") if v.strip()]
        if isinstance(value, (list, tuple)):
            try:
                return [type(default[0])(v) for v in value] if default else list(value)
            except (TypeError, ValueError):
                pass
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, dict):
        if isinstance(value, str):  # an environment variable holds the table as JSON
            try:
                value = json.loads(value or "{}")
            except ValueError:
                pass
        if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, dict) for k, v in value.items()):
            return {k: dict(v) for k, v in value.items()}
    raise ValueError(f"setting {setting.name!r} from {source}: {value!r} is not a {type(default).__name__}")


class Settings(Mapping[str, Any]):
    """Read-only mapping of setting name → value (also readable as attributes)."""

    def __init__(self, values: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None,
                 config_file: str | os.PathLike | None = None):
        env = os.environ if environ is None else environ
        data = {s.name: s.default for s in SETTINGS}
        path = Path(config_file or env.get("GRIDWATCH_CONFIG") or "gridwatch.toml")
        if path.is_file():
            with open(path, "rb") as fh:
                for key, value in tomllib.load(fh).items():
                    data[key] = self._checked(key, value, str(path))
        for s in SETTINGS:
            env_name = _ENV_ALIASES.get(s.name, f"GRIDWATCH_{s.name.upper()}")
            if env.get(env_name) not in (None, ""):
                data[s.name] = _validated(s.name, _coerce(s, env[env_name], env_name))
        for key, value in (values or {}).items():
            data[key] = self._checked(key, value, "overrides")
        self._data = data

    @staticmethod
    def _checked(key: str, value: Any, source: str) -> Any:
        if key not in _BY_NAME:
            raise ValueError(f"unknown setting {key!r} in {source}; known: {', '.join(sorted(_BY_NAME))}")
        return _validated(key, _coerce(_BY_NAME[key], value, source))

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(key) from None

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def replace(self, **values: Any) -> "Settings":
        merged = dict(self._data)
        merged.update({k: self._checked(k, v, "replace") for k, v in values.items()})
        new = object.__new__(Settings)
        new._data = merged
        return new

    @property
    def var_path(self) -> Path:
        return Path(self.var_dir)

    @property
    def district(self) -> District:
        """The district context of these settings, built on first use and kept (``district_of``)."""
        d = self.__dict__.get("_district")
        if d is None:
            d = self.__dict__["_district"] = district_of(self)
        return d


def _validated(key: str, value: Any) -> Any:
    """``value`` of setting ``key`` checked beyond its type (ValueError naming the setting): the live-view
    template (``app.cameras.live.check_template``, where a template is defined once)."""
    if key == "video_url_template":
        from app.cameras.live import check_template

        return check_template(value)
    if key == "patrol_retention_days" and value < 0:
        raise ValueError(f"setting 'patrol_retention_days': {value!r}; give a number of days ≥ 0 (0 = keep for ever)")
    if key == "database_read_url" and value and not value.startswith(("postgresql://", "postgresql+psycopg://")):
        raise ValueError(f"setting 'database_read_url': {value!r} is not a PostgreSQL URL "
                         "(postgresql://user@host/dbname)")
    return value


def district_of(settings: Settings) -> District:
    """The one district context of a deployment, from its settings (built at the composition root only).

    Raises ValueError naming the setting when the district settings are inconsistent."""
    try:
        start = date.fromisoformat(settings.data_start_date)
    except ValueError:
        raise ValueError(f"setting 'data_start_date': {settings.data_start_date!r} is not an ISO date "
                         "(YYYY-MM-DD)") from None
    return District(code=settings.district_code, name=settings.district_name, name_en=settings.district_name_en,
                    camera_centre_code=settings.camera_centre_code,
                    bbox=tuple(settings.district_bbox), margin_m=settings.extent_margin_m,
                    timezone=settings.timezone, language=settings.language, data_start=start,
                    camera_extra_prefixes=tuple(settings.camera_centre_prefixes))
