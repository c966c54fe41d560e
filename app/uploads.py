"""Files kept between a dry run and its commit (上传暂存): one store per area, one way of keeping them.

A store keeps its uploads under ``<var>/uploads/<area>/`` (``cameras``, ``boundaries``), one folder each,
named by a random token (``secrets``, 32 URL-safe characters)::

    <token>/meta.json         the record: account (id and name), created (UTC), the file's own name, the
                              area's options, later what the commit did
    <token>/<name>.json       sidecars the area keeps beside it (a dry run's report, a preview)
    <token>/file/<filename>   the file under its own checked name (its own folder: no name can clash)

Every JSON file is written whole and renamed into place. An upload answers only to the account that made
it and only for the store's TTL (one hour): a token that is malformed, unknown, another account's or expired
is one :class:`NotFound` that names nothing of it. After a commit the file is dropped and the record kept,
so the page shows the result until it expires; :meth:`UploadStore.sweep` (run at every new upload and by
the areas' forms) deletes what has expired. Stores of two areas never see each other's uploads. No Flask
here: the views hand in the settings' ``var_path`` and the account (anything with ``id`` and ``username``).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from gis.errors import InvalidData, NotFound, RowError
from gis.text import check_text

#: how long an upload waits for its commit or cancel (seconds)
TTL_S = 3600
TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
#: the areas' sub-folders and the sidecars' names: plain words, never a path
NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
FILENAME_MAX = 120
#: what the store itself writes in a record; an area's options may not reuse these keys
RECORD_KEYS = frozenset({"user_id", "username", "created", "filename"})


def new_token() -> str:
    return secrets.token_urlsafe(24)  # 32 URL-safe characters, 192 random bits


def _now(now: datetime | None) -> datetime:
    return datetime.now(timezone.utc) if now is None else now


@dataclass(frozen=True)
class Upload:
    """One kept upload: its token, its folder and its record (``meta``).

    ``upload["crs"]`` (and Jinja's ``up.crs``) read the record's fields."""

    token: str
    folder: Path
    meta: dict
    ttl_s: float

    @property
    def filename(self) -> str:
        return self.meta["filename"]

    @property
    def path(self) -> Path:
        """The uploaded file (gone once :meth:`UploadStore.drop_file` ran)."""
        return self.folder / "file" / self.filename

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.meta["created"])

    @property
    def expires(self) -> datetime:
        return self.created + timedelta(seconds=self.ttl_s)

    def __getitem__(self, key: str):
        return self.meta[key]

    def get(self, key: str, default=None):
        return self.meta.get(key, default)


def _write_json(path: Path, data) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class UploadStore:
    """The uploads of one area under ``<var_path>/uploads/<area>/``.

    Parameters
    ----------
    var_path : path
        The settings' ``var_path``.
    area : str
        The sub-folder (``cameras``, ``boundaries``).
    suffixes : tuple of str
        The file suffixes (lower case, with the dot) an upload may have.
    ttl_s : float
        How long an upload lives (seconds).
    what : str
        What the file is, for the messages (``"a camera table"``).
    """

    def __init__(self, var_path, area: str, suffixes: tuple[str, ...], *, ttl_s: float = TTL_S,
                 what: str = "a file"):
        if not NAME.fullmatch(area):
            raise ValueError(f"upload area {area!r} is not a plain name")
        self.root = Path(var_path) / "uploads" / area
        self.suffixes, self.ttl_s, self.what = tuple(suffixes), ttl_s, what

    # -- the file's name -----------------------------------------------------------------------------
    def check_filename(self, raw) -> str:
        """The uploaded file's own name, checked: its last path part, no control characters, at most
        :data:`FILENAME_MAX` characters, one of the store's suffixes; raises InvalidData naming ``file``."""
        name = re.split(r"[\\/]", raw if isinstance(raw, str) else "")[-1].strip()
        if not name:
            raise InvalidData(RowError(None, "file", f"is required: choose {self.what} to upload"))
        problem = check_text(name, "file", max_len=FILENAME_MAX)
        if problem is not None:
            raise InvalidData(problem)
        suffix = Path(name).suffix.lower()
        if suffix == ".shp" and ".zip" in self.suffixes:
            raise InvalidData(RowError(None, "file", "a Shapefile needs its .dbf, .shx and .prj: upload the "
                                       "four files zipped together (.zip)"))
        if suffix not in self.suffixes or name.startswith("."):
            raise InvalidData(RowError(None, "file", f"{suffix or 'no suffix'}: upload {self.what} as one of "
                                       f"{', '.join(self.suffixes)}"))
        return name

    def received(self, files, errors: list):
        """The form's ``file`` field (a werkzeug FileStorage) when its name passes :meth:`check_filename`;
        else None, with the reason appended to ``errors`` (a form's other errors are reported with it)."""
        sent = files.get("file")
        try:
            self.check_filename(sent.filename if sent is not None else None)
        except InvalidData as exc:
            errors.extend(exc.errors)
            return None
        return sent

    # -- keeping and finding ---------------------------------------------------------------------------
    def _upload(self, token: str, meta: dict) -> Upload:
        return Upload(token, self.root / token, meta, self.ttl_s)

    def save(self, user, filename: str, stream, options: dict | None = None, *,
             now: datetime | None = None) -> Upload:
        """Keep ``stream`` (a file object) as a new upload of ``user`` with ``options`` (JSON).

        Sweeps the expired uploads first."""
        options = dict(options or {})
        if RECORD_KEYS & options.keys():
            raise ValueError(f"options may not set {sorted(RECORD_KEYS & options.keys())}")
        filename = self.check_filename(filename)
        now = _now(now)
        self.sweep(now=now)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        token = new_token()
        up = self._upload(token, {"user_id": user.id, "username": user.username, "created": now.isoformat(),
                                  "filename": filename, **options})
        up.folder.mkdir(mode=0o700)
        # the record first: a sweep meanwhile reads its time and leaves a half-copied file alone
        _write_json(up.folder / "meta.json", up.meta)
        up.path.parent.mkdir(mode=0o700)
        try:
            with open(up.path, "wb") as out:
                shutil.copyfileobj(stream, out, 1 << 20)
        except BaseException:
            self.drop(token)
            raise
        return up

    def load(self, user, token, *, now: datetime | None = None) -> Upload:
        """The live upload ``token`` of ``user``; one NotFound for anything else (naming nothing of it).

        An expired upload is deleted on the way."""
        gone = NotFound(f"no such upload: it was committed long ago, cancelled, has expired (uploads are "
                        f"kept {int(self.ttl_s // 60)} minutes) or is another account's; upload the file "
                        "again")
        if not isinstance(token, str) or not TOKEN.fullmatch(token):
            raise gone
        try:
            meta = json.loads((self.root / token / "meta.json").read_text(encoding="utf-8"))
            up = self._upload(token, meta)
            mine = meta["user_id"] == user.id and meta["username"] == user.username
            expired = up.expires <= _now(now)
        except (OSError, ValueError, KeyError, TypeError):
            raise gone from None
        if expired:
            self.drop(token)
        if expired or not mine:
            raise gone
        return up

    def update(self, up: Upload, **changes) -> Upload:
        """The upload with ``changes`` (JSON) merged into its record, which is kept."""
        if RECORD_KEYS & changes.keys():
            raise ValueError(f"an update may not change {sorted(RECORD_KEYS & changes.keys())}")
        new = self._upload(up.token, {**up.meta, **changes})
        _write_json(new.folder / "meta.json", new.meta)
        return new

    def put(self, up: Upload, name: str, data) -> None:
        """Keep ``data`` (JSON) beside the upload as sidecar ``name``."""
        _write_json(self._sidecar(up, name), data)

    def get(self, up: Upload, name: str):
        """What :meth:`put` kept as ``name`` (None when nothing was)."""
        try:
            return json.loads(self._sidecar(up, name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _sidecar(self, up: Upload, name: str) -> Path:
        if not NAME.fullmatch(name) or name == "meta":
            raise ValueError(f"sidecar name {name!r}: a plain name other than 'meta'")
        return self.root / up.token / f"{name}.json"

    # -- forgetting -------------------------------------------------------------------------------------
    def drop_file(self, up: Upload) -> None:
        """Delete the uploaded file, keeping the record: a committed upload shows its result until it
        expires."""
        shutil.rmtree(up.path.parent, ignore_errors=True)

    def drop(self, token: str) -> None:
        """Forget upload ``token``: its file, record and sidecars."""
        if isinstance(token, str) and TOKEN.fullmatch(token):
            shutil.rmtree(self.root / token, ignore_errors=True)

    def sweep(self, *, now: datetime | None = None) -> int:
        """Delete every expired upload (and token folders without a readable record once as old); returns
        how many. Anything not named like a token is left alone."""
        if not self.root.is_dir():
            return 0
        now, swept = _now(now), 0
        for folder in sorted(self.root.iterdir()):
            if not TOKEN.fullmatch(folder.name) or not folder.is_dir():
                continue
            try:
                meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
                expires = self._upload(folder.name, meta).expires
            except (OSError, ValueError, KeyError, TypeError):
                try:  # the record was lost (a crash between the folder and its record)
                    made = datetime.fromtimestamp(folder.stat().st_mtime, timezone.utc)
                    expires = made + timedelta(seconds=self.ttl_s)
                except OSError:
                    continue  # swept meanwhile by another request
            if expires <= now:
                self.drop(folder.name)
                swept += 1
        return swept
