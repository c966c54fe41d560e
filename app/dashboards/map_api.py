"""Map layers loaded by the map as it moves (issue 16): registered on the dashboards' blueprint."""
from __future__ import annotations
