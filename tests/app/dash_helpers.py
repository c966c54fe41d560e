"""Shared helpers of the auth and dashboard tests: log in through the real form, read CSRF tokens."""
from __future__ import annotations

import json
import re

from app.demo import DEMO_ACCOUNTS

TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')
PAGE_DATA = re.compile(r'<script type="application/json" id="gw-page"[^>]*>(.*?)</script>', re.S)


def page_data(html: str) -> dict:
    """The ``data`` of a page's data block (``page_data`` in the base template)."""
    return json.loads(PAGE_DATA.search(html).group(1))["data"]


def csrf(client, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    return TOKEN.search(html).group(1)


def login(client, account: str):
    """Log in as one of the demo accounts (admin, operator, planner, lead) via the form."""
    _role, password = DEMO_ACCOUNTS[account]
    r = client.post("/login", data={"username": account, "password": password, "csrf_token": csrf(client)})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    return r


import pytest  # noqa: E402


@pytest.fixture
def lead_grid(app, demo_db):
    """Create the demo accounts inside the test's rolled-back transaction; returns the lead's grid."""
    from app.demo import create_demo_accounts

    with demo_db.session() as s:
        return create_demo_accounts(s)
