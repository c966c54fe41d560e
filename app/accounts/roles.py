"""The account roles (a module of its own, so the command line reads them without the ORM)."""
from __future__ import annotations

#: account roles; ``grid_lead`` (网格长) and ``member`` (网格员) are tied to a member record
ACCOUNT_ROLES = ("admin", "operator", "planner", "grid_lead", "member")
FIELD_ROLES = ("grid_lead", "member")
