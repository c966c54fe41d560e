"""Uploaded boundary files kept between the dry run and the commit (``var/uploads/boundaries/<token>/``).

Each upload is a folder named by a random token holding the file and ``meta.json`` (who uploaded it,
when, with which options, and the stamp of the grids table its preview was computed against). It
answers only to the account that made it and only for :data:`TTL`; expired folders are swept at every
new upload. A token that is malformed, unknown, another account's or expired is one NotFound: the
answer names nothing of it.
"""
from __future__ import annotations

import json
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from gis.errors import InvalidData, NotFound, RowError

TTL = timedelta(hours=1)
#: the grid layer files an upload may be: GeoJSON, GeoPackage, a zipped Shapefile (the readers of gis.io)
SUFFIXES = (".geojson", ".json", ".gpkg", ".zip")
TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
NAME_MAX = 200


@dataclass(frozen=True)
class Upload:
    token: str
    path: Path          # the file
    meta: dict

    @property
    def expires(self) -> datetime:
        return datetime.fromisoformat(self.meta["created"]) + TTL


def root(settings) -> Path:
    return Path(settings.var_path) / "uploads" / "boundaries"


def suffix_of(filename: str) -> str:
    """The file's suffix, lower case, when an upload may have it; else InvalidData naming ``file``."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidData(RowError(None, "file", f"{suffix or 'no suffix'}: give a grid layer as "
                                   f"{', '.join(SUFFIXES)} (a Shapefile zipped with its .dbf, .shx and .prj)"))
    return suffix


def save(settings, user, stream, filename: str, options: dict, *, now: datetime | None = None) -> Upload:
    """Keep ``stream`` (a file-like object) as a new upload of ``user`` with ``options``; sweep expired ones."""
    now = now or datetime.now(timezone.utc)
    suffix = suffix_of(filename)
    sweep(settings, now=now)
    token = secrets.token_urlsafe(24)
    folder = root(settings) / token
    folder.mkdir(parents=True, mode=0o700)
    path = folder / f"upload{suffix}"
    with path.open("wb") as out:
        shutil.copyfileobj(stream, out)
    meta = {"user_id": user.id, "username": user.username, "created": now.isoformat(),
            "filename": Path(filename).name[:NAME_MAX], **options}
    upload = Upload(token, path, meta)
    put(settings, upload, "meta", meta)
    return upload


def load(settings, user, token: str, *, now: datetime | None = None) -> Upload:
    """The upload ``token`` of ``user``, unexpired; NotFound otherwise (naming nothing of it)."""
    now = now or datetime.now(timezone.utc)
    gone = NotFound("no such upload: it was committed, cancelled or has expired (uploads are kept "
                    f"{int(TTL.total_seconds() // 60)} minutes); upload the file again")
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        raise gone
    folder = root(settings) / token
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise gone from None
    suffix = Path(meta.get("filename", "")).suffix.lower()
    upload = Upload(token, folder / f"upload{suffix}", meta)
    if meta.get("user_id") != user.id or meta.get("username") != user.username:
        raise gone
    if upload.expires <= now:
        drop(settings, token)
        raise gone
    return upload


def put(settings, upload: Upload, name: str, data) -> None:
    """Keep ``data`` (JSON) beside the upload as ``<name>.json`` (written whole, then renamed into place)."""
    folder = root(settings) / upload.token
    tmp = folder / f"{name}.json.tmp"
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    tmp.replace(folder / f"{name}.json")


def get(settings, upload: Upload, name: str):
    """What :func:`put` kept as ``name`` (None when nothing was)."""
    try:
        return json.loads((root(settings) / upload.token / f"{name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def update(settings, upload: Upload, **changes) -> Upload:
    """The upload with ``changes`` merged into its meta (kept)."""
    meta = {**upload.meta, **changes}
    put(settings, upload, "meta", meta)
    return Upload(upload.token, upload.path, meta)


def drop_file(upload: Upload) -> None:
    """Delete the uploaded file, keeping the record (a committed upload shows its result until it expires)."""
    upload.path.unlink(missing_ok=True)


def drop(settings, token: str) -> None:
    """Forget upload ``token`` (its file and meta)."""
    if TOKEN.fullmatch(token or ""):
        shutil.rmtree(root(settings) / token, ignore_errors=True)


def sweep(settings, *, now: datetime | None = None) -> int:
    """Remove the expired uploads (and folders without a readable meta); returns how many."""
    now = now or datetime.now(timezone.utc)
    base = root(settings)
    if not base.is_dir():
        return 0
    n = 0
    for folder in base.iterdir():
        try:
            created = datetime.fromisoformat(json.loads((folder / "meta.json").read_text(encoding="utf-8"))["created"])
            stale = created + TTL <= now
        except (OSError, ValueError, KeyError, TypeError):
            # a folder whose meta is still being written is younger than a minute: leave it
            stale = datetime.fromtimestamp(folder.stat().st_mtime, timezone.utc) + timedelta(minutes=1) <= now
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            n += 1
    return n
