"""Photos of incidents (事件照片): verify, clean, thumbnail and store; list them without their bytes.

``add_photos`` checks every file before it stores any (all or nothing, in the caller's transaction):

- at most ``photo_max_count`` files (field ``photos``);
- each at most ``photo_max_bytes`` bytes (no more than the limit + 1 byte is ever read);
- each a JPEG, PNG or WebP as Pillow reads it (the client's file name and content type are ignored);
- each at most ``photo_max_pixels`` pixels (and Pillow's own ``Image.MAX_IMAGE_PIXELS``), read from the
  header before anything is decoded, so a decompression bomb costs a header read;
- each decodes completely (a truncated or corrupt file is refused, not stored half grey).

A problem names the file: field ``photos[i]`` (0-based, the order sent) and its name in the reason.

What is stored is not the upload: the decoded image, turned upright by its EXIF Orientation, is encoded
again in the same format with no EXIF, XMP, comments or embedded thumbnails (GPS and camera serial go with
them); only an ICC colour profile of at most ``ICC_MAX_BYTES`` is kept. Re-encoding also means the served
bytes are ones Pillow wrote, never a client's polyglot file. The thumbnail is a JPEG whose longer side is
``photo_thumb_px``. See docs/photos.md.
"""
from __future__ import annotations

import hashlib
import io
import unicodedata
from dataclasses import dataclass
from datetime import timezone

from PIL import Image, ImageOps
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from app.photos.models import PHOTO_KINDS, IncidentPhoto
from gis.errors import InvalidData, RowError

#: Pillow format → the content type stored and served. JPEG (every phone camera), PNG (screenshots) and
#: WebP (what some Android browsers hand over) are what phones produce and every browser shows. Not GIF
#: (animations, a 256-colour format no camera writes), not HEIC (Pillow cannot read it without a plug-in and
#: most browsers cannot show it), never SVG (a script carrier), nor TIFF/BMP (browsers do not show them).
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}

#: a phone's JPEG with extra images (depth map, HDR gain map) opens as MPO: it is a JPEG; its first image is kept
_ALIASES = {"MPO": "JPEG"}

#: the thumbnail's type: JPEG, whatever the photo's (transparency is laid on white)
THUMB_CONTENT_TYPE = "image/jpeg"

#: an ICC colour profile up to this size is kept (phones embed a few KB for Display P3); a larger one is dropped
ICC_MAX_BYTES = 64 * 1024

JPEG_QUALITY = 90
THUMB_QUALITY = 80
WEBP_QUALITY = 90

NAME_SHOWN_MAX = 80


@dataclass(frozen=True)
class _Clean:
    content_type: str
    data: bytes
    thumb: bytes
    width: int
    height: int


def add_photos(session: Session, incident, files, *, kind: str, actor, settings, event=None) -> list[IncidentPhoto]:
    """Check ``files`` and store them as photos of ``incident`` (kind ``before`` or ``after``); all or none.

    ``files``: werkzeug ``FileStorage`` objects or ``(filename, bytes)`` pairs. ``event``: the
    ``IncidentEvent`` the caller's action wrote (report, resolve, comment); the photos are linked to it
    (``event_id``) and nothing else is written: the incident's version was bumped by that event.

    Raises ``InvalidData`` listing every bad file (field ``photos`` for too many, ``photos[i]`` for file i);
    then nothing is stored.
    """
    from app.incidents.service import actor_name

    if kind not in PHOTO_KINDS:
        raise InvalidData(RowError(None, "kind", f"must be one of {', '.join(PHOTO_KINDS)}, not {kind!r}"))
    files = list(files or ())
    if not files:
        return []
    if len(files) > settings.photo_max_count:
        raise InvalidData(RowError(None, "photos", f"at most {settings.photo_max_count} photos may come with one "
                                   f"report or action; {len(files)} were sent: leave some out"))
    errors, cleaned = [], []
    for i, f in enumerate(files):
        name, raw = _read(f, settings.photo_max_bytes)
        try:
            cleaned.append(_clean(raw, settings))
        except _Refused as exc:
            errors.append(RowError(None, f"photos[{i}]", f"{_shown(name)}: {exc}"))
    if errors:
        raise InvalidData(errors)
    if event is not None and event.id is None:
        session.flush()
    who = actor_name(actor)
    photos = [IncidentPhoto(incident_id=incident.id, event_id=None if event is None else event.id, kind=kind,
                            content_type=c.content_type, byte_size=len(c.data), width=c.width, height=c.height,
                            sha256=hashlib.sha256(c.data).hexdigest(), data=c.data, thumb=c.thumb, uploaded_by=who)
              for c in cleaned]
    session.add_all(photos)
    session.flush()
    return photos


def photos_of(session: Session, incident_ids, *, tz=None) -> dict[int, list[dict]]:
    """Each incident's photos, before ones first, then in upload order, without their bytes:
    ``{id, kind, url, thumb_url, width, height, uploaded_by, at, event_id}`` (``at``: ISO 8601, in ``tz``
    when given, else UTC). Incidents without photos are absent."""
    ids = sorted({int(i) for i in incident_ids})
    out: dict[int, list[dict]] = {}
    if not ids:
        return out
    P = IncidentPhoto
    rows = session.execute(
        select(P.id, P.incident_id, P.kind, P.width, P.height, P.uploaded_by, P.created_at, P.event_id)
        .where(P.incident_id.in_(ids))
        .order_by(P.incident_id, P.kind.desc(), P.created_at, P.id))  # 'before' > 'after' descending
    for r in rows:
        at = r.created_at.astimezone(tz or timezone.utc).isoformat(timespec="seconds") if r.created_at else None
        out.setdefault(r.incident_id, []).append({
            "id": r.id, "kind": r.kind, "url": photo_url(r.id), "thumb_url": photo_url(r.id, thumb=True),
            "width": r.width, "height": r.height, "uploaded_by": r.uploaded_by, "at": at, "event_id": r.event_id})
    return out


def first_photo_ids(session: Session, incident_ids) -> dict[int, int]:
    """The first photo (before ones first, then the oldest) of each incident that has one: Open311's media_url."""
    ids = sorted({int(i) for i in incident_ids})
    if not ids:
        return {}
    P = IncidentPhoto
    rows = session.execute(select(P.incident_id, P.id).ext(distinct_on(P.incident_id)).where(P.incident_id.in_(ids))
                           .order_by(P.incident_id, P.kind.desc(), P.created_at, P.id))
    return {r.incident_id: r.id for r in rows}


def photo_url(photo_id: int, *, thumb: bool = False, external: bool = False) -> str:
    """The route of a photo (or its thumbnail); a plain path outside a request (the CLI)."""
    from flask import has_request_context, url_for

    endpoint = "photos.thumb" if thumb else "photos.photo"
    if has_request_context():
        return url_for(endpoint, photo_id=photo_id, _external=external)
    return f"/media/photos/{photo_id}" + ("/thumb" if thumb else "")


class _Refused(Exception):
    """Why one file is not accepted (becomes the reason of its RowError)."""


def _read(f, limit: int) -> tuple[str | None, bytes]:
    """A file's name and at most ``limit`` + 1 of its bytes (enough to tell it is too large)."""
    if isinstance(f, tuple):
        name, raw = f
        raw = bytes(raw[: limit + 1])
    else:
        name = getattr(f, "filename", None)
        raw = f.stream.read(limit + 1)
    return name, raw


def _shown(name) -> str:
    """The file's name as a message shows it: no path, no control characters, not too long."""
    if not isinstance(name, str) or not name.strip():
        return "(no name)"
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join("?" if unicodedata.category(ch).startswith("C") else ch for ch in name)
    return name if len(name) <= NAME_SHOWN_MAX else name[: NAME_SHOWN_MAX - 1] + "…"


def _pixel_limit(settings) -> int:
    pillow = Image.MAX_IMAGE_PIXELS
    return min(settings.photo_max_pixels, pillow) if pillow else settings.photo_max_pixels


def _clean(raw: bytes, settings) -> _Clean:
    """Verify one upload and return what is stored: re-encoded upright without metadata, and its thumbnail."""
    if len(raw) > settings.photo_max_bytes:
        raise _Refused(f"larger than {settings.photo_max_bytes:,} bytes; send a smaller photo (a phone's "
                       "'medium' size, or a screenshot of it)")
    if not raw:
        raise _Refused("is empty; choose the photo again")
    limit = _pixel_limit(settings)
    allowed = ", ".join(FORMATS)
    try:
        probe = Image.open(io.BytesIO(raw), formats=list(FORMATS))  # reads the header only
    except Image.DecompressionBombError:
        raise _Refused(f"claims more than {limit:,} pixels; refused before decoding it") from None
    except Exception as exc:  # Pillow raises many types (UnidentifiedImageError, SyntaxError, struct.error, …)
        if (looks := _sniff(raw)) is not None:
            raise _Refused(f"is a damaged {looks} file ({_why(exc)}); take or export it again") from None
        raise _Refused(f"is not an image of a type accepted here ({allowed}); send a photo from the camera") from None
    with probe:
        fmt, (w, h) = _ALIASES.get(probe.format, probe.format), probe.size
        if fmt not in FORMATS:  # formats= already limits this; kept as the one check that matters
            raise _Refused(f"is a {fmt} image; accepted are {allowed}")
        if w <= 0 or h <= 0 or w * h > limit:
            raise _Refused(f"is {w}×{h} = {w * h:,} pixels, more than the limit of {limit:,}; refused before "
                           "decoding it: send a smaller photo")
        try:
            probe.verify()  # structure and checksums (PNG chunks' CRC), without decoding the pixels
        except Exception as exc:
            raise _Refused(f"is a damaged {fmt} file ({_why(exc)}); take or export it again") from None
    try:
        with Image.open(io.BytesIO(raw), formats=[fmt]) as im:
            im.load()  # full decode: a truncated file fails here, bounded by the pixel check above
            icc = im.info.get("icc_profile")
            ImageOps.exif_transpose(im, in_place=True)  # Orientation applied to the pixels, no copy
            return _encode(im, fmt, icc if isinstance(icc, bytes) and len(icc) <= ICC_MAX_BYTES else None,
                           settings.photo_thumb_px)
    except _Refused:
        raise
    except Image.DecompressionBombError:
        raise _Refused(f"claims more than {limit:,} pixels; refused before decoding it") from None
    except Exception as exc:
        raise _Refused(f"is a damaged or incomplete {fmt} file ({_why(exc)}); take or export it again") from None


def _sniff(raw: bytes) -> str | None:
    """The accepted format ``raw`` starts like (its magic bytes), whether or not it is intact."""
    if raw.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "WEBP"
    return None


def _why(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:120]


def _encode(im: Image.Image, fmt: str, icc: bytes | None, thumb_px: int) -> _Clean:
    """``im`` encoded again as ``fmt`` with nothing from the upload's metadata but ``icc``, and a JPEG thumbnail."""
    alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    if fmt == "JPEG":
        pixels = im if im.mode in ("L", "RGB") else im.convert("RGB")
    elif fmt == "PNG":
        pixels = im if im.mode in ("1", "L", "LA", "RGB", "RGBA") else im.convert("RGBA" if alpha else "RGB")
    else:  # WEBP
        pixels = im if im.mode in ("RGB", "RGBA") else im.convert("RGBA" if alpha else "RGB")
    clean = pixels  # the decoded upload (closed by the caller) or a converted copy: its info may go
    clean.info = {}  # nothing of the upload's info (exif, xmp, comment, dpi, transparency…) reaches the encoder
    extra = {"icc_profile": icc} if icc else {}
    buf = io.BytesIO()
    if fmt == "JPEG":
        clean.save(buf, "JPEG", quality=JPEG_QUALITY, optimize=True, **extra)
    elif fmt == "PNG":
        clean.save(buf, "PNG", optimize=False, **extra)
    else:
        clean.save(buf, "WEBP", quality=WEBP_QUALITY, method=4, **extra)
    thumb = _thumbnail(clean, alpha, thumb_px)
    return _Clean(FORMATS[fmt], buf.getvalue(), thumb, clean.width, clean.height)


def _thumbnail(im: Image.Image, alpha: bool, px: int) -> bytes:
    w, h = im.size
    if max(w, h) > px:  # never enlarged; one resize, no full-size copy
        scale = px / max(w, h)
        size = (px, max(1, round(h * scale))) if w >= h else (max(1, round(w * scale)), px)
        t = im.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    else:
        t = im
    if alpha or t.mode not in ("L", "RGB"):
        rgba = t.convert("RGBA")
        t = Image.new("RGB", rgba.size, (255, 255, 255))
        t.paste(rgba, mask=rgba.getchannel("A"))
    buf = io.BytesIO()
    t.save(buf, "JPEG", quality=THUMB_QUALITY, optimize=True)
    return buf.getvalue()
