"""One check for every free text a user or a file hands us: names, addresses, descriptions, notes.

Refused, never stripped or cut: NUL and other control characters (C0 and C1; a multi-line text may
keep tab, line feed and carriage return), the bidirectional embedding, override and isolate controls
(U+202A–U+202E, U+2066–U+2069: a right-to-left override flips how a camera name reads on a map),
lone surrogates, and text longer than its column. The reason names the character by its code point,
so the person fixing the row can find it.
"""
from __future__ import annotations

import re

from gis.errors import RowError

_BIDI = "\u202a-\u202e\u2066-\u2069"
#: what may surround a cell's value and is trimmed (``value.strip(BLANKS)``); Python's own ``strip()`` would
#: also drop U+001C–U+001F and U+0085 unseen, which must stay in the value to be refused
BLANKS = " \t\r\n\u3000\xa0"
# C0 controls but tab/LF/CR, DEL, C1 controls, bidi controls, surrogates
_BAD_MULTILINE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}\ud800-\udfff]")
_BAD_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}\ud800-\udfff]")

_NAMES = {"\x00": "NUL", "\t": "tab", "\n": "line feed", "\r": "carriage return", "\x1b": "ESC",
          "\u202e": "right-to-left override", "\u202d": "left-to-right override",
          "\u202b": "right-to-left embedding", "\u202a": "left-to-right embedding",
          "\u202c": "pop directional formatting", "\u2066": "left-to-right isolate",
          "\u2067": "right-to-left isolate", "\u2068": "first strong isolate", "\u2069": "pop directional isolate"}


def char_name(ch: str) -> str:
    """``'\\x00'`` → ``'U+0000 (NUL)'``: how a reason names a refused character."""
    name = _NAMES.get(ch)
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


def text_problem(value: str, *, max_len: int | None = None, multiline: bool = False) -> str | None:
    """Why ``value`` may not be stored, or None when it may.

    Parameters
    ----------
    value : str
        The text as received (not stripped: the caller decides about surrounding blanks).
    max_len : int, optional
        The column's size in characters (``String(n)``); None for unbounded ``Text``.
    multiline : bool
        Allow tab, line feed and carriage return (descriptions, notes); names and codes are one line.

    Examples
    --------
    >>> text_problem("a\\x00b")
    'contains U+0000 (NUL) at position 2; control and bidirectional-override characters are not allowed'
    >>> text_problem("东路", max_len=1)
    'is 2 characters long; at most 1 allowed'
    """
    m = (_BAD_MULTILINE if multiline else _BAD_LINE).search(value)
    if m is not None:
        return (f"contains {char_name(m.group())} at position {m.start() + 1}; control and "
                "bidirectional-override characters are not allowed")
    if max_len is not None and len(value) > max_len:
        return f"is {len(value)} characters long; at most {max_len} allowed"
    return None


def check_text(value, field: str, *, max_len: int | None = None, multiline: bool = False,
               line: int | None = None) -> RowError | None:
    """A ``RowError`` for ``field`` (on ``line``) when ``value`` may not be stored; None otherwise.

    ``None`` and non-strings other than numbers are the caller's business (required or not); a number is
    checked as its text."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    reason = text_problem(value, max_len=max_len, multiline=multiline)
    return None if reason is None else RowError(line, field, reason)


def column_length(column) -> int | None:
    """The character limit of a SQLAlchemy column (``String(n)`` → n, ``Text`` → None).

    Validators read limits from the schema through this, so a column's size is written once."""
    return getattr(getattr(column, "type", None), "length", None)


# what PostgreSQL's integer types hold; the one place their ranges are written
_INTEGER_RANGES = {"small_integer": (-2**15, 2**15 - 1), "integer": (-2**31, 2**31 - 1),
                   "big_integer": (-2**63, 2**63 - 1)}


def integer_range(column) -> tuple[int, int] | None:
    """The smallest and largest value a SQLAlchemy integer column holds (``Integer`` → ±2³¹), or None.

    Validators read ranges from the schema through this, so a value the column would overflow on is a
    row error that names the limit, not a database error."""
    return _INTEGER_RANGES.get(getattr(getattr(column, "type", None), "__visit_name__", None))


#: how a client writes a whole number or a decimal: ASCII digits only. ``int()`` and ``float()`` also take
#: full-width ``１０``, ``1_0``, surrounding blanks and ``nan``/``inf``; every parameter reader uses these.
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,18}")
DECIMAL_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")


def like_literal(value: str) -> str:
    r"""``value`` matched literally by SQL ``LIKE``/``ILIKE`` (PostgreSQL's default escape ``\``): a user's
    ``%`` or ``_`` is a character to find, not a wildcard."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
