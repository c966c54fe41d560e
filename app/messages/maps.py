"""Messages of the map layers (see app.messages): popup rows, legends and layer names of the dashboard maps.

``layers/`` has no Flask and no catalogue: ``app.dashboards.pages`` hands each builder ``say`` (a message key →
text in the page's language) and the code names of ``app.labels``. The camera fields' Chinese names are the
registry's own headers (``camera_registry.schema``), with a unit where the value has one.
"""
from camera_registry.schema import BY_NAME, DERIVED

# camera field → (English name, unit)
_CAMERA_FIELDS = {"device_id": ("Device ID", ""), "name": ("Name", ""), "programme": ("Programme", ""),
                  "status": ("Status", ""), "ptz_type": ("Camera type", ""), "azimuth": ("Azimuth", "°"),
                  "fov": ("Horizontal field of view", "°"), "range_m": ("Maximum view distance", "m"),
                  "address": ("Address", "")}


def _zh(field: str) -> str:
    return BY_NAME[field].zh if field in BY_NAME else DERIVED[field][0]


def _with_unit(name: str, unit: str, lang: str) -> str:
    if not unit:
        return name
    return f"{name}（{'米' if unit == 'm' else unit}）" if lang == "zh" else f"{name} ({unit})"


MESSAGES: dict[str, dict[str, str]] = {
    **{f"map_camera_{f}": {"zh": _with_unit(_zh(f), unit, "zh"), "en": _with_unit(en, unit, "en")}
       for f, (en, unit) in _CAMERA_FIELDS.items()},
    "map_camera_grid_code": {"zh": _zh("grid_code"), "en": "Grid code"},
    "map_code": {"zh": "编码", "en": "Code"},
    "map_street_kind": {"zh": "类型", "en": "Kind"},
    "map_street_code": {"zh": "街道编码", "en": "Street code"},
    "map_community_code": {"zh": "社区编码", "en": "Community code"},
    "map_households": {"zh": "户数", "en": "Households"},
    "map_population": {"zh": "人口", "en": "Population"},
    "map_area_m2": {"zh": "面积（平方米）", "en": "Area (m²)"},
    "map_coverage_pct": {"zh": "覆盖率（%）", "en": "Coverage (%)"},
    "map_gain_m2": {"zh": "新增覆盖（平方米）", "en": "Coverage gain (m²)"},
    "map_rank": {"zh": "排序", "en": "Rank"},
    "map_camera_count": {"zh": "摄像头数", "en": "Cameras"},
    "map_camera_counts": {"zh": "各网格摄像头数", "en": "Cameras per grid"},
}
