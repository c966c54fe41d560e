"""``gridwatch users list|add|disable|enable|remove|remove-demo``: the same service as /admin/users."""
from __future__ import annotations

from sqlalchemy import text

from app.demo import DEMO_ACCOUNTS
from tests.app.dash_helpers import lead_grid  # noqa: F401  (fixture)


def q(demo_db, sql: str, **params):
    with demo_db.Session() as s:
        return s.execute(text(sql), params).all()


def listed(output: str) -> dict[str, list[str]]:
    return {line.split("\t")[0]: line.split("\t") for line in output.splitlines() if line}


def test_list_shows_every_account_with_its_scope(cli, demo_db, lead_grid):
    r = cli(demo_db, "users", "list")
    assert r.exit_code == 0, r.output
    rows = listed(r.output)
    assert sorted(rows) == sorted(u for u, in q(demo_db, "SELECT username FROM users"))
    assert rows["operator"][1:5] == ["operator", "active", "-", "-"]
    member_name, = q(demo_db, "SELECT m.name FROM users u JOIN members m ON m.id = u.member_id WHERE u.username = 'lead'")[0]
    assert rows["lead"][3].startswith(member_name) and f"{lead_grid}*" in rows["lead"][4].split(",")
    assert rows["admin"][5] == "never" and rows["admin"][6:] == ["sessions=0", "keys=0"]


def test_list_filters(cli, demo_db, lead_grid):
    assert cli(demo_db, "users", "disable", "planner").exit_code == 0
    assert list(listed(cli(demo_db, "users", "list", "--state", "disabled").output)) == ["planner"]
    assert sorted(listed(cli(demo_db, "users", "list", "--role", "grid_lead").output)) == ["lead"]
    assert sorted(listed(cli(demo_db, "users", "list", "--grid", lead_grid).output)) == ["lead", "member"]
    assert sorted(listed(cli(demo_db, "users", "list", "--search", "oper").output)) == ["operator"]
    bad = cli(demo_db, "users", "list", "--grid", "12")
    assert bad.exit_code == 2 and "grid" in bad.output


def test_remove_asks_unless_yes_and_audits(cli, demo_db, lead_grid):
    r = cli(demo_db, "users", "remove", "planner", input="n\n")
    assert r.exit_code == 1 and q(demo_db, "SELECT 1 FROM users WHERE username = 'planner'")
    r = cli(demo_db, "users", "remove", "planner", input="y\n")
    assert r.exit_code == 0, r.output
    assert not q(demo_db, "SELECT 1 FROM users WHERE username = 'planner'")
    (actor, before), = q(demo_db, "SELECT actor, before FROM audit_log WHERE object_type = 'user' "
                                  "AND object_id = 'planner' AND action = 'delete'")
    assert actor.startswith("cli:") and before["role"] == "planner"
    assert cli(demo_db, "users", "remove", "operator", "--yes").exit_code == 0
    missing = cli(demo_db, "users", "remove", "nobody", "--yes")
    assert missing.exit_code == 3 and "no account named 'nobody'" in missing.output


def test_the_last_administrator_is_kept(cli, demo_db, lead_grid):
    for args in (["disable", "admin"], ["remove", "admin", "--yes"]):
        r = cli(demo_db, "users", *args)
        assert r.exit_code == 6 and "last active administrator" in r.output, args
    r = cli(demo_db, "users", "add", "admin", "--role", "operator", "--password-stdin", input="demo-admin-pw\n")
    assert r.exit_code == 6 and "last active administrator" in r.output
    assert q(demo_db, "SELECT role, active FROM users WHERE username = 'admin'") == [("admin", True)]


def test_remove_demo_needs_another_administrator(cli, demo_db, lead_grid):
    r = cli(demo_db, "users", "remove-demo", "--yes")
    assert r.exit_code == 6 and "only active administrator" in r.output
    assert cli(demo_db, "users", "add", "chief", "--role", "admin", "--password-stdin",
               input="chief-password-1\n").exit_code == 0
    r = cli(demo_db, "users", "remove-demo", "--yes")
    assert r.exit_code == 0, r.output
    assert q(demo_db, "SELECT username FROM users") == [("chief",)]
    assert sorted(r.output.strip().removeprefix("removed ").split(", ")) == sorted(DEMO_ACCOUNTS)
    assert cli(demo_db, "users", "remove-demo", "--yes").output.strip() == "no demo account exists"


def test_a_field_account_needs_a_member_in_a_grid(cli, demo_db, lead_grid):
    with demo_db.session() as s:
        free = s.execute(text("INSERT INTO members (name) VALUES ('无网格员') RETURNING id")).scalar()
    r = cli(demo_db, "users", "add", "nogrid", "--role", "member", "--member", str(free), "--password-stdin",
            input="nogrid-password\n")
    assert r.exit_code == 2 and "holds no role in any grid" in r.output
    assert not q(demo_db, "SELECT 1 FROM users WHERE username = 'nogrid'")
