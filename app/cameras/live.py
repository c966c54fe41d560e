"""The live-view link (实时视频): a camera's live video on the district's video platform.

The setting ``video_url_template`` (e.g. ``https://video.example/live?deviceId={device_id}``) is checked once,
when the settings are built (:func:`check_template`, called by ``app.config``), and turned into a camera's link
by :func:`live_url`, the one definition; the page scripts mirror it in ``gw.liveUrl(id)``
(``app/static/js/features.js``), fed the template by :func:`page_data` in the page data block.

Only built cameras (``lifecycle = 'active'``) have video: a planned site has none, and a retired camera's
stream is gone (:func:`has_video`). No Flask, no settings object here: the template is a parameter.
"""
from __future__ import annotations

from urllib.parse import quote, urlsplit

#: the one placeholder a template carries (at least once)
PLACEHOLDER = "{device_id}"
#: the longest template accepted (a URL, not a document)
TEMPLATE_MAX_LEN = 2000
#: the lifecycles whose cameras have video to show
VIDEO_LIFECYCLES = ("active",)
SETTING = "video_url_template"


def check_template(template: str) -> str:
    """``template`` if it is a usable live-view template (or empty: no links), else ValueError naming the
    setting: an http or https URL with a host, ``{device_id}`` at least once, no other ``{…}`` field, no
    blank or control characters."""
    if not isinstance(template, str):
        raise ValueError(f"setting {SETTING!r}: {template!r} is not text")
    if template == "":
        return template
    shown = template if len(template) <= 120 else template[:117] + "…"

    def bad(why: str) -> ValueError:
        return ValueError(f"setting {SETTING!r}: {shown!r} {why} (e.g. https://video.example/live?deviceId="
                          f"{PLACEHOLDER}; empty = no live-view links)")

    if len(template) > TEMPLATE_MAX_LEN:
        raise bad(f"is longer than {TEMPLATE_MAX_LEN} characters")
    if any(c.isspace() or not c.isprintable() for c in template):
        raise bad("contains a blank or a control character")
    if PLACEHOLDER not in template:
        raise bad(f"does not contain {PLACEHOLDER}")
    rest = template.replace(PLACEHOLDER, "")
    if "{" in rest or "}" in rest:
        raise bad(f"has a field other than {PLACEHOLDER} (only {PLACEHOLDER} is replaced)")
    try:
        parts = urlsplit(template.replace(PLACEHOLDER, "0"))
        parts.port  # noqa: B018  (a bad port raises here)
    except ValueError as exc:
        raise bad(f"is not a URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise bad("is not an http or https URL")
    if not parts.hostname:
        raise bad("has no host")
    return template


def live_url(template: str, device_id: str) -> str | None:
    """The live-view URL of ``device_id``: every ``{device_id}`` of ``template`` replaced by the ID
    percent-encoded (``quote(…, safe="")``: every character but letters, digits and ``-._~``); None when
    the template is empty (no links)."""
    if not template:
        return None
    return template.replace(PLACEHOLDER, quote(str(device_id), safe=""))


def has_video(lifecycle: str | None) -> bool:
    """Whether a camera of this lifecycle has a live view (built and not retired)."""
    return lifecycle in VIDEO_LIFECYCLES


def camera_live_url(template: str, camera) -> str | None:
    """The live-view URL of a camera record, None when there is no template or it has no video."""
    return live_url(template, camera.device_id) if has_video(camera.lifecycle) else None


def page_data(template: str, label: str) -> dict | None:
    """``js["live"]`` of a page: the template, the link's text (``cam_live_view`` in the page's language) and
    the lifecycles with video, for ``gw.liveUrl`` / ``gw.liveLink`` (``app/static/js/features.js``); None when
    the template is empty (the scripts then show no link)."""
    return {"template": template, "label": label, "lifecycles": list(VIDEO_LIFECYCLES)} if template else None
