"""``gis.text.like_literal``: a user's text found literally by PostgreSQL's LIKE (the oracle is ``strpos``)."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from gis.text import like_literal

WORDS = ["100%", "a_b", "a\\b", "%", "_", "\\", "ab", "a%b", "a\\%b", "aXb", "100x", "", "网格_1", "50%_off"]


@pytest.mark.parametrize("needle", ["%", "_", "\\", "a_b", "100%", "a\\%b", "网格_", "x"])
def test_like_literal_matches_exactly_the_rows_containing_the_text(session, needle):
    found = session.execute(text(
        "SELECT w FROM unnest(CAST(:words AS text[])) AS w WHERE w LIKE :pattern ORDER BY w"),
        {"words": WORDS, "pattern": "%" + like_literal(needle) + "%"}).scalars().all()
    oracle = session.execute(text(
        "SELECT w FROM unnest(CAST(:words AS text[])) AS w WHERE strpos(w, :needle) > 0 ORDER BY w"),
        {"words": WORDS, "needle": needle}).scalars().all()
    assert found == oracle
    assert found != sorted(WORDS) or needle == ""  # a wildcard left unescaped would match every word
