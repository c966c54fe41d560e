"""The words of a layer's popups and legends, in the page's language, handed in by the page.

``layers`` has no Flask and no message catalogue: a page (``app.dashboards.pages``) gives each builder
``say``, a function from a message key (``app.messages``) to its text in the page's language, and where a
legend names codes, their names (``app.labels``). Without ``say`` a label is the key itself.

A popup field is specified as ``(message key, property, label kind or None)``; ``feature_js`` takes rows
``(label, property)`` or ``(label, property, kind)``, and the page script shows a value of a kind by its
name (``gw.label(kind, value)``), so codes stay codes in the data and words on the screen.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional

Say = Optional[Callable[[str], str]]


def key_itself(key: str) -> str:
    return key


def popup_rows(fields: Iterable[tuple[str, str, str | None]], say: Say = None) -> list[tuple]:
    """``feature_js`` rows of ``(message key, property, kind)`` specs: the label in the page's language,
    the kind only when there is one."""
    say = say or key_itself
    return [(say(key), prop, kind) if kind else (say(key), prop) for key, prop, kind in fields]
