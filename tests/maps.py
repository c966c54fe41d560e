"""Reading a rendered map page back: the feature collections its layers embed."""
from __future__ import annotations

import json

_MARK = ".addData("


def collections(html: str) -> list[dict]:
    """The feature collections embedded by ``layers.base.GeoJsonLayer``, in page order (each parsed
    as JSON from just after ``.addData(``, so no text inside them can end one early)."""
    decoder, out, at = json.JSONDecoder(), [], html.find(_MARK)
    while at >= 0:
        value, _end = decoder.raw_decode(html, at + len(_MARK))
        out.append(value)
        at = html.find(_MARK, at + 1)
    return out
