"""The computed collections' fingerprints (``app.ogc.computed``) see every committed change of the cameras
and grids, in whatever order the transactions commit: the memo must never serve a frame computed before a
change that has committed."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from app.ogc import computed


@pytest.mark.parametrize("fp, table, key", [(computed.CAMERAS_FP, "cameras", "device_id"),
                                            (computed.GRIDS_FP, "grids", "code")], ids=["cameras", "grids"])
def test_a_change_committed_after_a_later_one_changes_the_fingerprint(demo_copy, fp, table, key):
    engine = demo_copy(f"fp_{table}")
    with engine.connect() as conn:
        first, second = conn.execute(text(f"SELECT {key} FROM {table} ORDER BY {key} LIMIT 2")).scalars().all()
        start = conn.execute(text(fp)).scalar_one()
    early, late = engine.connect(), engine.connect()
    try:
        early.begin()  # writes first (its now(), or the grids' clock_timestamp() trigger: the older time)...
        early.execute(text(f"UPDATE {table} SET name = name || ' ', updated_at = now() WHERE {key} = :k"),
                      {"k": first})
        late.begin()
        late.execute(text(f"UPDATE {table} SET name = name || ' ', updated_at = now() WHERE {key} = :k"),
                      {"k": second})
        late.commit()
        with engine.connect() as conn:
            seen = conn.execute(text(fp)).scalar_one()  # what a request memoises now
        assert seen != start
        early.commit()  # ...and commits after the fingerprint above, with an older updated_at than the late change
        with engine.connect() as conn:
            after = conn.execute(text(fp)).scalar_one()
            older = conn.execute(text(f"SELECT (SELECT updated_at FROM {table} WHERE {key} = :a) < "
                                      f"(SELECT updated_at FROM {table} WHERE {key} = :b)"),
                                 {"a": first, "b": second}).scalar_one()
        assert older  # the situation max(updated_at) could not see
        assert after != seen
    finally:
        early.close()
        late.close()


def test_the_fingerprint_changes_on_insert_and_delete_and_is_stable_otherwise(demo_copy):
    engine = demo_copy("fp_stable")
    with engine.begin() as conn:
        a = conn.execute(text(computed.GRIDS_FP)).scalar_one()
        assert conn.execute(text(computed.GRIDS_FP)).scalar_one() == a  # nothing changed: the memo hits
        row = conn.execute(text("SELECT code FROM grids ORDER BY code DESC LIMIT 1")).scalar_one()
        conn.execute(text("DELETE FROM member_roles WHERE grid_code = :c"), {"c": row})
        conn.execute(text("UPDATE incidents SET grid_code = NULL WHERE grid_code = :c"), {"c": row})
        conn.execute(text("DELETE FROM grids WHERE code = :c"), {"c": row})
        assert conn.execute(text(computed.GRIDS_FP)).scalar_one() != a
