"""One definition for each code kind of the district hierarchy.

GB/T 2260 division codes and the common grid-code practice (DOMAIN.md):

* street / town (街道/镇): 9 digits = 6-digit county + 3-digit town;
* community (社区): 12 digits = street code + 3 digits;
* grid (网格): 15 digits = community code + 3-digit serial.

Camera IDs (GB/T 28181, 20 digits) live in ``camera_registry.gb28181``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class CodeKind:
    """A kind of digit-string code: its name, its length and the kind it nests under."""

    name: str
    length: int
    parent_length: int | None = None

    @property
    def pattern(self) -> str:
        """Regular expression (anchored) for a valid code of this kind."""
        return rf"^[0-9]{{{self.length}}}$"

    @property
    def sql_check(self) -> str:
        """SQL CHECK expression for a column named ``code`` of this kind (PostgreSQL regex)."""
        return f"~ '^[0-9]{{{self.length}}}$'"

    def is_valid(self, code: object) -> bool:
        return isinstance(code, str) and re.fullmatch(self.pattern, code) is not None

    def validate(self, code: object, *, parent: str | None = None) -> str:
        """Return ``code`` if it is well formed (and under ``parent``), else raise ValueError."""
        if not isinstance(code, str):
            raise ValueError(f"{self.name} code must be a string of {self.length} digits, got {code!r}")
        if len(code) != self.length:
            raise ValueError(f"{self.name} code {code!r} must have {self.length} digits, has {len(code)}")
        if not code.isdigit() or not code.isascii():
            raise ValueError(f"{self.name} code {code!r} must contain digits only")
        if parent is not None and not code.startswith(parent):
            raise ValueError(f"{self.name} code {code!r} does not start with its parent code {parent!r}")
        return code

    def parent_of(self, code: str) -> str:
        if self.parent_length is None:
            raise ValueError(f"{self.name} codes have no parent")
        return code[: self.parent_length]


STREET = CodeKind("street", 9, 6)
COMMUNITY = CodeKind("community", 12, 9)
GRID = CodeKind("grid", 15, 12)
KINDS = {k.name: k for k in (STREET, COMMUNITY, GRID)}
