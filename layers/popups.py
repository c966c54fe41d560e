"""Popup and tooltip HTML. Every value is escaped here, once, so user text always shows as text."""
from __future__ import annotations

from html import escape
from typing import Any, Iterable

import pandas as pd


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return escape(str(value), quote=True)


def table(title: Any, rows: Iterable[tuple[str, Any]]) -> str:
    """An HTML snippet: a bold title and a two-column table, all text escaped."""
    body = "".join(f"<tr><th>{escape(label)}</th><td>{_text(value)}</td></tr>" for label, value in rows)
    return f'<div class="gw-popup"><b>{_text(title)}</b><table>{body}</table></div>'


def column(frame: pd.DataFrame, title: str, fields: list[tuple[str, str]]) -> pd.Series:
    """One popup per row of ``frame``: ``fields`` is a list of (label, column name)."""
    return pd.Series([table(row.get(title), [(label, row.get(col)) for label, col in fields])
                      for row in frame.to_dict("records")], index=frame.index, dtype=object)
