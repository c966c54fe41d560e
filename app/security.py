"""Security headers on every response, and the per-response nonce that lets the application's own scripts run.

Every response (pages, JSON, Open311, static files, errors, redirects) carries one Content-Security-Policy:
only this origin, plus the configured basemap's tile host for images; scripts only from this origin or
inline with this response's nonce (no ``'unsafe-inline'``, no ``'unsafe-eval'``), so markup that slips into a
page cannot run. Styles keep ``'unsafe-inline'``: Folium writes ``<style>`` blocks and Leaflet and the
templates set ``style`` attributes; a style cannot run code, a script can.

Why not Flask-Talisman: what we need is one ``after_request`` hook and a nonce (about 60 lines here),
while Talisman turns on HTTPS redirects, HSTS and its own session-cookie flags by default (an intranet
deployment on plain HTTP would break until each is switched off), and it cannot know the basemap's tile
host, which we derive from the same definition that builds the tile URL (``layers.base.basemap_url``).
Our own hook also keeps every header in one place that the tests read.
"""
from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from flask import Flask, Response, has_request_context, request

from layers.base import basemap_url

#: headers that do not depend on the response
STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # tile servers get our origin (OSM's tile policy and Tianditu's browser keys check it), never a
    # page's path or query, which carry filters and grid codes
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",  # browsers too old for frame-ancestors
    # field pages use the phone's position and camera; nothing else, and no embedded origin, may ask
    "Permissions-Policy": "geolocation=(self), camera=(self), microphone=(), payment=(), usb=()",
}

_NONCE_KEY = "gridwatch.csp_nonce"
_HOST = re.compile(r"(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\]")
_SCRIPT_OPEN = re.compile(r"<script(?=[\s>])", re.I)


def tile_sources(basemap: str, tianditu_key: str = "") -> tuple[str, ...]:
    """CSP source expressions (``scheme://host[:port]``) the basemap's tiles load from.

    Empty for no basemap and for tiles served by this origin (a URL starting with ``/``). A ``{s}``
    subdomain placeholder in the first label becomes ``*.``; a placeholder elsewhere in the host, or a
    host that is not a plain DNS name or IP, raises ValueError naming the setting (it would otherwise be
    written into the header).
    """
    tiles = basemap_url(basemap, tianditu_key)
    if tiles is None:
        return ()
    parts = urlsplit(tiles[0])
    if not parts.netloc:
        return ()
    host, port = parts.netloc.rpartition("@")[2].lower(), ""
    if not host.startswith("[") and ":" in host:
        host, port = host.rsplit(":", 1)
    labels = host.split(".")
    if "{" in labels[0]:
        labels[0] = "*"
    host = ".".join(labels)
    if not _HOST.fullmatch(host) or not (port == "" or (port.isascii() and port.isdigit())):
        raise ValueError(f"setting 'basemap': tile host {parts.netloc!r} cannot be allowed by a "
                         "Content-Security-Policy (a placeholder may only be the first label)")
    return (f"{parts.scheme}://{host}" + (f":{port}" if port else ""),)


def csp_nonce() -> str:
    """This response's script nonce (made on first use; one per request, never reused)."""
    env = request.environ
    if _NONCE_KEY not in env:
        env[_NONCE_KEY] = secrets.token_urlsafe(18)
    return env[_NONCE_KEY]


def nonce_scripts(html: str) -> str:
    """``html`` with this response's nonce on each ``<script>`` tag.

    Only for HTML the application itself generates (Folium's rendered header): text from users never
    reaches it. Outside a request (tests, files written to disk) ``html`` comes back unchanged.
    """
    if not has_request_context():
        return html
    return _SCRIPT_OPEN.sub(f'<script nonce="{csp_nonce()}"', html)


def content_security_policy(nonce: str, img_sources: tuple[str, ...] = ()) -> str:
    """The policy of one response: this origin only, scripts by ``nonce``, images from ``img_sources``."""
    directives = {
        "default-src": "'self'",
        "script-src": f"'self' 'nonce-{nonce}'",
        "style-src": "'self' 'unsafe-inline'",
        # data: for Leaflet's own blank tile (L.Util.emptyImageUrl, what a failed tile becomes); an image
        # cannot run code
        "img-src": " ".join(("'self'", "data:", *img_sources)),
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{k} {v}" for k, v in directives.items())


def register(app: Flask, settings) -> None:
    """Add the headers to every response of ``app`` and ``csp_nonce()`` to its templates.

    The tile host comes from ``settings`` once: a basemap that cannot be expressed stops the app here.
    """
    img_sources = tile_sources(settings.basemap, settings.tianditu_key)
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = content_security_policy(csp_nonce(), img_sources)
        response.headers.update(STATIC_HEADERS)
        return response
