"""The /grids pages as each role sees them: the list (filters, search, paging, a field role's own grids),
a grid's page (members by their real names with roles by name, phones masked unless ``member.phones``,
the actions the account may take), and 4xx for bad parameters."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from app.grids import members as svc
from tests.app.dash_helpers import lead_grid, login, page_data  # noqa: F401  (fixture)

ROWS = re.compile(r'<tr data-grid="([0-9]{15})">')


def test_list_filters_search_and_paging(client, demo_db, lead_grid):
    login(client, "operator")
    with demo_db.session() as s:
        total = s.execute(text("SELECT count(*) FROM grids")).scalar()
        community, name = s.execute(text("SELECT community_code, name FROM grids ORDER BY code OFFSET 7 LIMIT 1")).one()
        in_community = s.execute(text("SELECT code FROM grids WHERE community_code = :c ORDER BY code"),
                                 {"c": community}).scalars().all()
    html = client.get("/grids").get_data(as_text=True)
    assert len(ROWS.findall(html)) == min(total, svc.PAGE_SIZE)
    assert f"共 {total} 个网格" in html
    html = client.get(f"/grids?community={community}").get_data(as_text=True)
    assert ROWS.findall(html) == in_community[:svc.PAGE_SIZE]
    assert name in client.get("/grids", query_string={"q": name}).get_data(as_text=True)
    last = -(-total // svc.PAGE_SIZE)
    assert len(ROWS.findall(client.get(f"/grids?page={last}").get_data(as_text=True))) == total - (last - 1) * svc.PAGE_SIZE
    for bad, field in (("street=12", "street"), ("community=abc", "community"), ("page=0", "page"),
                       ("q=a%00b", "q")):
        r = client.get(f"/grids?{bad}")
        assert r.status_code == 422 and field in r.get_data(as_text=True)


def test_a_field_role_lists_only_its_grids(client, demo_db, lead_grid):
    login(client, "lead")
    assert ROWS.findall(client.get("/grids").get_data(as_text=True)) == [lead_grid]
    with demo_db.session() as s:
        other = s.execute(text("SELECT code FROM grids WHERE code <> :g LIMIT 1"), {"g": lead_grid}).scalar()
    assert client.get(f"/grids/{other}").status_code == 404


def _grid_page(client, code):
    r = client.get(f"/grids/{code}")
    assert r.status_code == 200
    return r.get_data(as_text=True)


@pytest.mark.parametrize("account, phones_shown, manage, own_roles", [
    ("admin", True, True, True), ("operator", True, False, False), ("planner", False, False, False),
    ("lead", True, False, True), ("member", True, False, False)])
def test_grid_page_by_role(client, demo_db, lead_grid, account, phones_shown, manage, own_roles):
    with demo_db.session() as s:
        members = svc.grid_members(s, lead_grid, show_phones=True)
        g = svc.grid_summary(s, lead_grid)
    login(client, account)
    html = _grid_page(client, lead_grid)
    for m in members:
        assert f'data-name="{m["name"]}"' in html  # the real name
        if m["phone"]:
            assert (m["phone"] in html) is phones_shown
    assert "网格长" in html  # the lead role by its name, never the code alone
    assert f'data-version="{g["version"]}"' in html
    assert f'data-incidents="{g["incidents"]}"' in html and f'data-cameras="{g["cameras"]}"' in html
    assert ('id="gw-assign-form"' in html) is manage
    assert ('class="gw-unassign-form"' in html) is manage
    assert ('class="gw-roles-form"' in html) is own_roles
    assert ("<th>登录账号</th>" in html) is manage
    if own_roles and not manage:  # a lead cannot tick the lead role
        assert re.search(r'value="lead"\s*(checked)?\s*disabled', html)


def test_grid_page_404_and_login(client, demo_db, lead_grid):
    assert client.get(f"/grids/{lead_grid}").status_code == 302  # log in first
    login(client, "admin")
    assert client.get("/grids/510304999999999").status_code == 404
    assert client.get("/grids/%E4%BA%94").status_code == 404
    html = _grid_page(client, lead_grid)
    assert 'list="gw-grid-choices"' in html and lead_grid not in re.findall(r'<option value="([0-9]{15})">', html)




def test_the_move_choices_carry_each_destinations_version_and_lead(client, demo_db, lead_grid):
    """The page offers the grids a member may move to with their versions now (sent back as ``to_version``)
    and their leads by name: a brute-force oracle of grid_version per grid."""
    login(client, "admin")
    html = _grid_page(client, lead_grid)
    data = page_data(html)["grid"]
    with demo_db.session() as s:
        codes = s.execute(text("SELECT code FROM grids WHERE code <> :g ORDER BY code"), {"g": lead_grid}).scalars().all()
        want = {c: svc.grid_version(s, c) for c in codes}
        leads = dict(s.execute(text("SELECT r.grid_code, m.name FROM member_roles r JOIN members m ON m.id = r.member_id "
                                    "WHERE r.role = 'lead'")).all())
    assert data["versions"] == want and lead_grid not in data["versions"]
    some = next(c for c in codes if c in leads)
    assert re.search(rf'<option value="{some}">[^<]*网格长 {re.escape(leads[some])}</option>', html)
    login(client, "operator")  # no move, no choices
    data = page_data(_grid_page(client, lead_grid))["grid"]
    assert data["versions"] == {}
