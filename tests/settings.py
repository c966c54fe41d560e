"""The settings and district context tests pass down, as the composition root does in production.

The district's facts come from the one definition (the defaults in ``app.config.SETTINGS``); tests that
need other values use ``TEST_SETTINGS.replace(...)`` or the ``settings`` fixture.
"""
from __future__ import annotations

import os

from app.config import Settings

TEST_SETTINGS = Settings(environ={}, config_file=os.devnull)
DISTRICT = TEST_SETTINGS.district
