"""Photos (issue 12): what is accepted (JPEG/PNG/WebP that decode completely, within the count, byte and pixel
limits, a decompression bomb refused from its header), what is stored (upright, no EXIF: GPS gone, read back
with Pillow; a thumbnail), all or nothing, who may fetch them (the incident's visibility, 404 outside it,
API keys scoped the same), the cache headers, and Open311's media_url pointing at the real route."""
from __future__ import annotations

import hashlib
import io
import struct
import zlib

import pytest
from PIL import Image, ImageOps
from sqlalchemy import event, text
from werkzeug.datastructures import FileStorage

from app.photos.service import add_photos, photos_of
from gis.errors import InvalidData
from tests.app.dash_helpers import csrf, lead_grid  # noqa: F401  (fixture)
from tests.settings import TEST_SETTINGS

GPS_LAT = (30.0, 45.0, 12.5)
MARKER = "SECRET-CAMERA-SERIAL-4711"


# -- images made here ---------------------------------------------------------------------------------
def _quadrants(size=(120, 80), mode="RGB"):
    """An image whose top-left quadrant is red and the rest blue: rotation shows where red ends up."""
    w, h = size
    im = Image.new(mode, size, (0, 0, 255) if mode == "RGB" else (0, 0, 255, 255))
    im.paste((255, 0, 0) if mode == "RGB" else (255, 0, 0, 255), (0, 0, w // 2, h // 2))
    return im


def _exif(orientation: int | None = 6):
    ex = Image.Exif()
    if orientation:
        ex[0x0112] = orientation  # Orientation
    ex[0x010F] = "PhoneMaker"  # Make
    ex[0xA431] = MARKER  # BodySerialNumber
    gps = ex.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", GPS_LAT, "E", (104.0, 46.0, 0.0)
    return ex


def jpeg(size=(120, 80), orientation: int | None = 6, **kw) -> bytes:
    buf = io.BytesIO()
    _quadrants(size).save(buf, "JPEG", exif=_exif(orientation), quality=95, **kw)
    return buf.getvalue()


def png(size=(120, 80), mode="RGB", orientation: int | None = None) -> bytes:
    buf = io.BytesIO()
    _quadrants(size, mode).save(buf, "PNG", exif=_exif(orientation))
    return buf.getvalue()


def webp(size=(120, 80)) -> bytes:
    buf = io.BytesIO()
    _quadrants(size).save(buf, "WEBP", exif=_exif(None), quality=90)
    return buf.getvalue()


def other(fmt: str, size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    _quadrants(size).save(buf, fmt)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(w: int, h: int) -> bytes:
    """A valid PNG header claiming ``w``×``h`` pixels with a few bytes of image data: a decompression bomb."""
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + _chunk(b"IEND", b""))


def _red_corner(im: Image.Image) -> str:
    """Which corner of ``im`` is red (the oracle for orientation)."""
    im = im.convert("RGB")
    w, h = im.size
    corners = {"tl": (w // 8, h // 8), "tr": (w - 1 - w // 8, h // 8), "bl": (w // 8, h - 1 - h // 8),
               "br": (w - 1 - w // 8, h - 1 - h // 8)}
    red = [k for k, xy in corners.items() if im.getpixel(xy)[0] > 180 and im.getpixel(xy)[2] < 80]
    assert len(red) == 1, (red, im.size)
    return red[0]


# -- fixtures -------------------------------------------------------------------------------------------
def _spot_in(s, grid: str) -> tuple[float, float]:
    return tuple(s.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids "
                                "WHERE code = :g) q"), {"g": grid}).one())


def _incident(s, grid: str, *, media_url: str | None = None):
    from app.incidents.service import report_incident

    lon, lat = _spot_in(s, grid)
    category = s.execute(text("SELECT min(code) FROM categories WHERE NOT sensitive")).scalar()
    return report_incident(s, category=category, source="patrol", description="井盖缺失", lon=lon, lat=lat,
                           actor="test", media_url=media_url, settings=TEST_SETTINGS)


@pytest.fixture
def incident(demo_session):
    grid = demo_session.execute(text("SELECT min(code) FROM grids")).scalar()
    return _incident(demo_session, grid)


def _stored(s, incident_id: int) -> list[dict]:
    return [dict(r) for r in s.execute(text(
        "SELECT id, kind, content_type, byte_size, width, height, sha256, data, thumb, uploaded_by, event_id "
        "FROM incident_photos WHERE incident_id = :i ORDER BY id"), {"i": incident_id}).mappings()]


def _refusal(exc_info) -> dict[str, str]:
    return {e.field: e.reason for e in exc_info.value.errors}


# -- what is stored -------------------------------------------------------------------------------------
@pytest.mark.parametrize("orientation, corner", [(1, "tl"), (3, "br"), (6, "tr"), (8, "bl")])
def test_jpeg_is_stored_upright_without_exif_or_gps(demo_session, incident, orientation, corner):
    raw = jpeg(orientation=orientation)
    original = Image.open(io.BytesIO(raw))
    assert original.getexif().get_ifd(0x8825)[2] == GPS_LAT and MARKER.encode() in raw  # the input carries them
    oracle = ImageOps.exif_transpose(original)  # Pillow's own reading of the orientation
    (photo,) = add_photos(demo_session, incident, [("IMG_1.jpg", raw)], kind="before", actor="张网格",
                          settings=TEST_SETTINGS, event=incident.events[0])
    (row,) = _stored(demo_session, incident.id)
    stored = Image.open(io.BytesIO(row["data"]))
    assert stored.format == "JPEG" and row["content_type"] == "image/jpeg"
    assert stored.size == oracle.size == (row["width"], row["height"])
    assert _red_corner(stored) == _red_corner(oracle) == corner
    ex = stored.getexif()
    assert len(ex) == 0 and not ex.get_ifd(0x8825) and "exif" not in stored.info
    assert MARKER.encode() not in row["data"] and b"PhoneMaker" not in row["data"] and b"Exif" not in row["data"]
    assert row["sha256"] == hashlib.sha256(row["data"]).hexdigest() and row["byte_size"] == len(row["data"])
    assert (row["uploaded_by"], row["event_id"], row["kind"]) == ("张网格", incident.events[0].id, "before")
    assert photo.id == row["id"]


def test_png_and_webp_keep_their_type_and_lose_their_exif(demo_session, incident):
    files = [("a.png", png(orientation=8)), ("b.png", png(mode="RGBA")), ("c.webp", webp())]
    add_photos(demo_session, incident, files, kind="after", actor="lead", settings=TEST_SETTINGS)
    rows = _stored(demo_session, incident.id)
    assert [r["content_type"] for r in rows] == ["image/png", "image/png", "image/webp"]
    for row, fmt in zip(rows, ("PNG", "PNG", "WEBP")):
        im = Image.open(io.BytesIO(row["data"]))
        assert im.format == fmt and len(im.getexif()) == 0 and MARKER.encode() not in row["data"]
        im.load()
    assert Image.open(io.BytesIO(rows[0]["data"])).size == (80, 120)  # orientation 8 applied
    assert _red_corner(Image.open(io.BytesIO(rows[0]["data"]))) == "bl"
    assert Image.open(io.BytesIO(rows[1]["data"])).mode == "RGBA"  # transparency kept in the photo
    assert {r["event_id"] for r in rows} == {None}


@pytest.mark.parametrize("size, px, expected", [((1000, 500), 320, (320, 160)), ((300, 900), 320, (107, 320)),
                                                ((100, 60), 320, (100, 60)), ((1000, 500), 64, (64, 32))])
def test_thumbnail_longer_side_is_the_setting(demo_session, incident, size, px, expected):
    settings = TEST_SETTINGS.replace(photo_thumb_px=px)
    add_photos(demo_session, incident, [("p.jpg", jpeg(size, orientation=None))], kind="before", actor="x",
               settings=settings)
    (row,) = _stored(demo_session, incident.id)
    thumb = Image.open(io.BytesIO(row["thumb"]))
    assert thumb.format == "JPEG" and thumb.size == expected  # never enlarged
    assert _red_corner(thumb) == "tl"


def test_transparent_png_thumbnail_is_laid_on_white(demo_session, incident):
    im = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    add_photos(demo_session, incident, [("clear.png", buf.getvalue())], kind="before", actor="x",
               settings=TEST_SETTINGS)
    (row,) = _stored(demo_session, incident.id)
    assert Image.open(io.BytesIO(row["thumb"])).convert("L").getextrema()[0] > 240


def test_a_phone_jpeg_with_extra_images_is_a_jpeg(demo_session, incident):
    """Many phones write MPO (a JPEG followed by a depth or gain map): it is stored as a plain JPEG of its
    first image, upright, without EXIF."""
    buf = io.BytesIO()
    _quadrants((120, 80)).save(buf, "MPO", save_all=True, append_images=[Image.new("RGB", (30, 20))],
                               exif=_exif(6))
    assert Image.open(io.BytesIO(buf.getvalue())).format == "MPO"
    add_photos(demo_session, incident, [("IMG_0001.JPG", buf.getvalue())], kind="before", actor="x",
               settings=TEST_SETTINGS)
    (row,) = _stored(demo_session, incident.id)
    stored = Image.open(io.BytesIO(row["data"]))
    assert (stored.format, row["content_type"], stored.size) == ("JPEG", "image/jpeg", (80, 120))
    assert getattr(stored, "n_frames", 1) == 1 and len(stored.getexif()) == 0 and _red_corner(stored) == "tr"


def test_file_storage_and_pairs_are_both_accepted(demo_session, incident):
    fs = FileStorage(io.BytesIO(jpeg()), filename="IMG_2.jpg", content_type="application/octet-stream")
    photos = add_photos(demo_session, incident, [fs, ("IMG_3.jpg", jpeg())], kind="before", actor="x",
                        settings=TEST_SETTINGS)
    assert len(photos) == 2 and len(_stored(demo_session, incident.id)) == 2


# -- what is refused ------------------------------------------------------------------------------------
def test_decompression_bomb_is_refused_from_its_header(demo_session, incident):
    bomb = png_claiming(30000, 30000)
    assert len(bomb) < 200  # a few bytes that would decode to 2.7 GB
    with pytest.raises(InvalidData) as exc:
        add_photos(demo_session, incident, [("bomb.png", bomb)], kind="before", actor="x", settings=TEST_SETTINGS)
    reason = _refusal(exc)["photos[0]"]
    assert "bomb.png" in reason and "pixels" in reason and "before decoding" in reason
    assert _stored(demo_session, incident.id) == []


@pytest.mark.parametrize("w, h, ok", [(100, 100, True), (101, 100, False), (50, 200, True), (4000, 3, False)])
def test_pixel_limit_is_the_setting_and_read_before_decoding(demo_session, incident, w, h, ok):
    """A header over photo_max_pixels (10 000 here) is refused, exactly at the limit accepted: the oracle is
    w × h; the bytes after the header are not a valid image, so anything that decoded them would fail."""
    settings = TEST_SETTINGS.replace(photo_max_pixels=10_000)
    real = png((w, h))
    if ok:
        add_photos(demo_session, incident, [("ok.png", real)], kind="before", actor="x", settings=settings)
        assert _stored(demo_session, incident.id)[0]["width"] == w
        return
    for data in (real, png_claiming(w, h)):
        with pytest.raises(InvalidData) as exc:
            add_photos(demo_session, incident, [("big.png", data)], kind="before", actor="x", settings=settings)
        assert f"{w * h:,} pixels" in _refusal(exc)["photos[0]"] and "10,000" in _refusal(exc)["photos[0]"]


@pytest.mark.parametrize("name, data, says", [
    ("notes.jpg", b"this is not an image at all" * 20, "not an image"),
    ("doc.pdf.jpg", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n" * 10, "not an image"),
    ("anim.gif", other("GIF"), "not an image of a type accepted"),
    ("scan.bmp", other("BMP"), "not an image of a type accepted"),
    ("scan.tif", other("TIFF"), "not an image of a type accepted"),
    ("svg.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "not an image"),
    ("empty.jpg", b"", "empty"),
])
def test_files_that_are_not_accepted_images(demo_session, incident, name, data, says):
    with pytest.raises(InvalidData) as exc:
        add_photos(demo_session, incident, [(name, data)], kind="before", actor="x", settings=TEST_SETTINGS)
    reason = _refusal(exc)["photos[0]"]
    assert name in reason and says in reason


def test_truncated_and_corrupt_files_are_refused(demo_session, incident):
    whole = jpeg((600, 400))
    cut = whole[: len(whole) // 2]
    broken_png = bytearray(png((60, 40)))
    broken_png[40] ^= 0xFF  # inside a chunk: its CRC no longer matches
    with pytest.raises(InvalidData) as exc:
        add_photos(demo_session, incident, [("half.jpg", cut), ("crc.png", bytes(broken_png))], kind="before",
                   actor="x", settings=TEST_SETTINGS)
    reasons = _refusal(exc)
    assert "half.jpg" in reasons["photos[0]"] and "incomplete" in reasons["photos[0]"]
    assert "crc.png" in reasons["photos[1]"] and "damaged" in reasons["photos[1]"]


class _CountingStream(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.asked = 0

    def read(self, n=-1):
        self.asked = max(self.asked, n if n is not None and n >= 0 else len(self.getvalue()))
        return super().read(n)


def test_byte_limit_reads_at_most_one_byte_more(demo_session, incident):
    data = jpeg((400, 300))
    settings = TEST_SETTINGS.replace(photo_max_bytes=len(data) - 1)
    stream = _CountingStream(data + b"\0" * 1_000_000)
    with pytest.raises(InvalidData) as exc:
        add_photos(demo_session, incident, [FileStorage(stream, filename="IMG_9.jpg")], kind="before", actor="x",
                   settings=settings)
    assert stream.asked == len(data) and stream.tell() == len(data)  # limit + 1, never the whole upload
    reason = _refusal(exc)["photos[0]"]
    assert "IMG_9.jpg" in reason and f"{len(data) - 1:,} bytes" in reason
    # exactly at the limit is accepted
    add_photos(demo_session, incident, [("IMG_9.jpg", data)], kind="before", actor="x",
               settings=TEST_SETTINGS.replace(photo_max_bytes=len(data)))
    assert len(_stored(demo_session, incident.id)) == 1


def test_more_than_the_count_is_refused_as_a_whole(demo_session, incident):
    files = [(f"IMG_{i}.jpg", jpeg()) for i in range(TEST_SETTINGS.photo_max_count + 1)]
    assert len(files) == 7
    with pytest.raises(InvalidData) as exc:
        add_photos(demo_session, incident, files, kind="before", actor="x", settings=TEST_SETTINGS)
    assert set(_refusal(exc)) == {"photos"} and "at most 6" in _refusal(exc)["photos"]
    assert _stored(demo_session, incident.id) == []
    add_photos(demo_session, incident, files[:6], kind="before", actor="x", settings=TEST_SETTINGS)
    assert len(_stored(demo_session, incident.id)) == 6


def test_all_or_nothing_and_every_bad_file_named(demo_session, incident):
    files = [("good.jpg", jpeg()), ("bad1.jpg", b"nope" * 50), ("good2.png", png()),
             ("bad2.png", png_claiming(90000, 90000))]
    with pytest.raises(InvalidData) as exc:
        add_photos(demo_session, incident, files, kind="before", actor="x", settings=TEST_SETTINGS)
    reasons = _refusal(exc)
    assert set(reasons) == {"photos[1]", "photos[3]"}
    assert "bad1.jpg" in reasons["photos[1]"] and "bad2.png" in reasons["photos[3]"]
    assert _stored(demo_session, incident.id) == []


def test_a_file_name_is_shown_without_path_or_control_characters(demo_session, incident):
    with pytest.raises(InvalidData) as exc:
        add_photos(demo_session, incident, [("C:\\Users\\张\\x\u202e\ngpj.exe", b"no")], kind="before", actor="x",
                   settings=TEST_SETTINGS)
    reason = _refusal(exc)["photos[0]"]
    assert reason.startswith("x??gpj.exe:") and "Users" not in reason


def test_kind_must_be_before_or_after(demo_session, incident):
    with pytest.raises(InvalidData) as exc:
        add_photos(demo_session, incident, [("a.jpg", jpeg())], kind="during", actor="x", settings=TEST_SETTINGS)
    assert set(_refusal(exc)) == {"kind"}


# -- photos_of ------------------------------------------------------------------------------------------
def test_photos_of_lists_before_then_after_without_bytes(app, demo_session, incident):
    after = add_photos(demo_session, incident, [("after.jpg", jpeg())], kind="after", actor="lead",
                       settings=TEST_SETTINGS)
    before = add_photos(demo_session, incident, [("b1.jpg", jpeg()), ("b2.png", png())], kind="before",
                        actor="member", settings=TEST_SETTINGS, event=incident.events[0])
    other = _incident(demo_session, incident.grid_code)
    got = photos_of(demo_session, [incident.id, other.id])
    assert list(got) == [incident.id]  # an incident without photos is absent
    listed = got[incident.id]
    assert [p["id"] for p in listed] == [before[0].id, before[1].id, after[0].id]
    assert [p["kind"] for p in listed] == ["before", "before", "after"]
    assert set(listed[0]) == {"id", "kind", "url", "thumb_url", "width", "height", "uploaded_by", "at", "event_id"}
    assert listed[0]["url"] == f"/media/photos/{before[0].id}"
    assert listed[0]["thumb_url"] == f"/media/photos/{before[0].id}/thumb"
    assert listed[0]["event_id"] == incident.events[0].id and listed[2]["event_id"] is None
    assert listed[0]["at"].endswith("+00:00") and (listed[1]["width"], listed[1]["height"]) == (120, 80)
    with app.test_request_context():
        assert photos_of(demo_session, [incident.id])[incident.id][0]["url"] == f"/media/photos/{before[0].id}"
    seen = []
    engine = demo_session.connection().engine
    listener = lambda conn, cur, statement, *a: seen.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        photos_of(demo_session, [incident.id])
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len(seen) == 1 and "incident_photos.id" in seen[0]
    assert "incident_photos.data" not in seen[0] and "incident_photos.thumb" not in seen[0]  # a listing reads no bytes
    assert photos_of(demo_session, []) == {}


# -- serving --------------------------------------------------------------------------------------------
def _login(client, username, password):
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": csrf(client)})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]


@pytest.fixture
def world(app, demo_db, lead_grid):
    """A photo in the demo lead's grid and one in another grid (with its own lead account), and API keys."""
    from app.accounts.service import add_user
    from app.accounts.keys import add_api_key

    with demo_db.session() as s:
        other_grid = s.execute(text("SELECT min(grid_code) FROM member_roles WHERE role = 'lead' AND grid_code <> :g"),
                               {"g": lead_grid}).scalar()
        add_user(s, "lead2", "lead2-password", role="grid_lead", grid_code=other_grid)
        mine, theirs = _incident(s, lead_grid), _incident(s, other_grid, media_url="https://example.org/x.jpg")
        bare = _incident(s, lead_grid, media_url="https://example.org/own.jpg")
        p_mine = add_photos(s, mine, [("m.jpg", jpeg()), ("m2.png", png())], kind="before", actor="member",
                            settings=TEST_SETTINGS)
        p_theirs = add_photos(s, theirs, [("t.jpg", jpeg())], kind="before", actor="lead2", settings=TEST_SETTINGS)
        keys = {u: add_api_key(s, f"photos-{u}", u) for u in ("lead", "operator", "lead2")}
        out = {"mine": mine.id, "theirs": theirs.id, "bare": bare.id, "p_mine": [p.id for p in p_mine],
               "p_theirs": p_theirs[0].id, "keys": keys, "grid": lead_grid, "other_grid": other_grid}
        out["data"] = {p.id: (p.data, p.thumb, p.sha256) for p in p_mine + p_theirs}
    return out


@pytest.mark.parametrize("account, sees_mine, sees_theirs", [
    ("member", True, False), ("lead", True, False), ("operator", True, True), ("planner", True, True),
    ("admin", True, True)])
def test_photo_route_follows_incident_visibility(client, world, account, sees_mine, sees_theirs):
    from app.demo import DEMO_ACCOUNTS

    _login(client, account, DEMO_ACCOUNTS[account][1])
    mine, theirs = world["p_mine"][0], world["p_theirs"]
    for pid, sees in ((mine, sees_mine), (theirs, sees_theirs)):
        for suffix in ("", "/thumb"):
            r = client.get(f"/media/photos/{pid}{suffix}")
            assert r.status_code == (200 if sees else 404), (pid, suffix, r.status_code)
            if sees:
                data, thumb, _ = world["data"][pid]
                assert r.data == (thumb if suffix else data)


def test_lead_of_another_grid_gets_404_like_a_missing_photo(client, world):
    _login(client, "lead2", "lead2-password")
    assert client.get(f"/media/photos/{world['p_theirs']}").status_code == 200
    hidden = client.get(f"/media/photos/{world['p_mine'][0]}")
    missing = client.get("/media/photos/999999999")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.data.replace(str(world["p_mine"][0]).encode(), b"N") == missing.data.replace(b"999999999", b"N")
    assert client.get("/media/photos/99999999999999999999").status_code == 404


def test_anonymous_is_sent_to_log_in(client, world):
    pid = world["p_mine"][0]
    for path in (f"/media/photos/{pid}", f"/media/photos/{pid}/thumb"):
        r = client.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"] and r.data[:3] != b"\xff\xd8\xff"


def test_response_headers_and_conditional_get(client, world):
    _login(client, "lead", __import__("app.demo", fromlist=["x"]).DEMO_ACCOUNTS["lead"][1])
    pid = world["p_mine"][1]  # the PNG
    data, thumb, sha = world["data"][pid]
    r = client.get(f"/media/photos/{pid}")
    assert r.status_code == 200 and r.data == data
    assert r.headers["Content-Type"] == "image/png"
    assert r.headers["Cache-Control"].startswith("private, max-age=")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Disposition"].startswith("inline")
    assert r.headers["ETag"] == f'"{sha}"'
    t = client.get(f"/media/photos/{pid}/thumb")
    assert t.headers["Content-Type"] == "image/jpeg" and t.data == thumb and t.headers["ETag"] != r.headers["ETag"]
    again = client.get(f"/media/photos/{pid}", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == r.headers["ETag"]
    stale = client.get(f"/media/photos/{pid}", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.data == data


def test_api_keys_are_scoped_like_their_accounts(client, world):
    keys, mine, theirs = world["keys"], world["p_mine"][0], world["p_theirs"]
    assert client.get(f"/media/photos/{mine}?api_key={keys['lead']}").status_code == 200
    assert client.get(f"/media/photos/{theirs}?api_key={keys['lead']}").status_code == 404
    assert client.get(f"/media/photos/{theirs}/thumb", headers={"X-API-Key": keys["lead2"]}).status_code == 200
    assert client.get(f"/media/photos/{mine}", headers={"X-API-Key": keys["lead2"]}).status_code == 404
    assert client.get(f"/media/photos/{theirs}?api_key={keys['operator']}").status_code == 200
    assert client.get(f"/media/photos/{mine}?api_key=wrong").status_code == 401
    assert client.get(f"/media/photos/{mine}?api_key=").status_code == 401


def test_a_revoked_key_is_refused(client, world, demo_db, cli):
    assert cli(demo_db, "api-keys", "revoke", "photos-lead").exit_code == 0
    assert client.get(f"/media/photos/{world['p_mine'][0]}?api_key={world['keys']['lead']}").status_code == 403


def test_serving_one_photo_reads_no_other_photos_bytes(client, world, demo_db):
    """The statements of one request: bytes (data or thumb) are selected only for the photo asked for."""
    _login(client, "operator", __import__("app.demo", fromlist=["x"]).DEMO_ACCOUNTS["operator"][1])
    seen = []

    def record(conn, cursor, statement, params, context, executemany):
        if "incident_photos" in statement:
            seen.append((statement, params))

    engine = demo_db.engine if hasattr(demo_db, "engine") else None
    target = engine or client.application.extensions["gridwatch.db"].engine
    event.listen(target, "before_cursor_execute", record)
    try:
        pid = world["p_mine"][0]
        assert client.get(f"/media/photos/{pid}").status_code == 200
        assert client.get(f"/media/photos/{pid}/thumb").status_code == 200
    finally:
        event.remove(target, "before_cursor_execute", record)
    byte_reads = [(st, p) for st, p in seen if "incident_photos.data" in st or "incident_photos.thumb" in st]
    assert len(byte_reads) == 2, seen
    for st, params in byte_reads:
        assert "WHERE incident_photos.id =" in st and pid in (params.values() if isinstance(params, dict) else params)


# -- Open311 media_url ----------------------------------------------------------------------------------
def test_open311_media_url_is_the_first_photo_behind_the_same_rules(client, world):
    keys = world["keys"]
    first = world["p_mine"][0]
    (row,) = client.get(f"/open311/v2/requests/{world['mine']}.json", headers={"X-API-Key": keys["lead"]}).get_json()
    assert row["media_url"] == f"http://localhost/media/photos/{first}"
    # the link works with the caller's own key, and returns the stored bytes
    r = client.get(row["media_url"].replace("http://localhost", "") + f"?api_key={keys['lead']}")
    assert r.status_code == 200 and r.data == world["data"][first][0]
    # without a key or log-in it does not
    assert client.get(row["media_url"].replace("http://localhost", "")).status_code == 302
    # another grid's key: the photo is 404 (and the request itself is not listed for it)
    assert client.get(f"/media/photos/{first}?api_key={keys['lead2']}").status_code == 404
    assert client.get(f"/open311/v2/requests/{world['mine']}.json", headers={"X-API-Key": keys["lead2"]}
                      ).status_code == 404
    # an incident without photos keeps the link its client sent
    (bare,) = client.get(f"/open311/v2/requests/{world['bare']}.json", headers={"X-API-Key": keys["lead"]}).get_json()
    assert bare["media_url"] == "https://example.org/own.jpg"
    # a list: each request its own first photo
    rows = {r["service_request_id"]: r for r in client.get("/open311/v2/requests.json?status=open",
                                                          headers={"X-API-Key": keys["operator"]}).get_json()}
    assert rows[str(world["theirs"])]["media_url"] == f"http://localhost/media/photos/{world['p_theirs']}"
    # XML carries the same link
    xml = client.get(f"/open311/v2/requests/{world['mine']}.xml", headers={"X-API-Key": keys["lead"]}).get_data(
        as_text=True)
    assert f"<media_url>http://localhost/media/photos/{first}</media_url>" in xml


def test_open311_anonymous_reads_get_no_photo_link(tmp_path, demo_db, world):
    from app import create_app
    from app.config import Settings

    settings = Settings({"var_dir": str(tmp_path / "var"), "secret_key": "t", "open311_anonymous_reads": True},
                        environ={}, config_file=tmp_path / "none.toml")
    anon = create_app(settings, database=demo_db).test_client()
    (row,) = anon.get(f"/open311/v2/requests/{world['theirs']}.json").get_json()
    assert "/media/photos/" not in str(row["media_url"])
    assert anon.get(f"/media/photos/{world['p_theirs']}").status_code == 302


def test_the_request_limit_fits_the_most_and_largest_photos_allowed():
    """A report with photo_max_count photos of photo_max_bytes each is never cut off by a bare 413."""
    from app import REQUEST_MARGIN_BYTES, max_request_bytes
    from app.config import Settings

    for count, size in ((6, 10_000_000), (12, 20_000_000), (1, 1_000)):
        settings = Settings({"photo_max_count": count, "photo_max_bytes": size}, environ={},
                            config_file="/nonexistent.toml")
        limit = max_request_bytes(settings)
        assert limit >= count * size + REQUEST_MARGIN_BYTES and limit >= 50 * 2**20
