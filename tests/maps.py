"""Reading a rendered map page back: the feature collections its layers embed."""
from __future__ import annotations

import json
import re

_ADD_DATA = re.compile(r"\.addData\((\{.*?\})\);")


def collections(html: str) -> list[dict]:
    """The feature collections embedded by ``layers.base.GeoJsonLayer``, in page order."""
    return [json.loads(m) for m in _ADD_DATA.findall(html)]
