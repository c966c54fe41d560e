"""``gridwatch members list|add|assign|unassign|move``, in-process on the demo district: what each prints,
what it writes (with its audit rows, by the command line's actor), and the clear errors and exit codes."""
from __future__ import annotations

from sqlalchemy import text

from gis.errors import Conflict, InvalidData, NotFound


def _roles(demo_db, member: str, grid: str) -> list[str]:
    with demo_db.session() as s:
        return sorted(s.execute(text("SELECT r.role FROM member_roles r JOIN members m ON m.id = r.member_id "
                                     "WHERE m.external_id = :e AND r.grid_code = :g"), {"e": member, "g": grid}).scalars())


def _grids(demo_db, n: int = 2) -> list[str]:
    with demo_db.session() as s:
        return s.execute(text("SELECT code FROM grids ORDER BY code OFFSET 50 LIMIT :n"), {"n": n}).scalars().all()


def test_add_assign_move_unassign_and_list(cli, demo_db):
    a, b = _grids(demo_db)
    r = cli(demo_db, "members", "add", "命令行员", "--phone", "13900000009", "--external-id", "T-CLI-1")
    assert r.exit_code == 0, r.output
    assert "added: 命令行员 (T-CLI-1)" in r.output
    r = cli(demo_db, "members", "assign", "T-CLI-1", a, "--role", "security", "--role", "publicity")
    assert r.exit_code == 0, r.output
    assert _roles(demo_db, "T-CLI-1", a) == ["publicity", "security"]
    r = cli(demo_db, "members", "list", "--grid", a)
    assert r.exit_code == 0 and "命令行员" in r.output and "13900000009" in r.output
    r = cli(demo_db, "members", "move", "T-CLI-1", a, b)
    assert r.exit_code == 0, r.output
    assert _roles(demo_db, "T-CLI-1", a) == [] and _roles(demo_db, "T-CLI-1", b) == ["publicity", "security"]
    r = cli(demo_db, "members", "list", "-q", "T-CLI-1")
    assert f"{b} publicity,security" in r.output
    r = cli(demo_db, "members", "unassign", "T-CLI-1", b)
    assert r.exit_code == 0, r.output
    assert "(no grid)" in cli(demo_db, "members", "list", "-q", "命令行员").output
    with demo_db.session() as s:
        rows = s.execute(text(
            "SELECT a.actor, a.object_type, a.action FROM audit_log a JOIN members m ON split_part(a.object_id, '@', 1) = CAST(m.id AS text) "
            "WHERE m.external_id = 'T-CLI-1' AND a.object_type IN ('member', 'member_role') ORDER BY a.id")).all()
    assert all(actor.startswith("cli:") for actor, _t, _a in rows)
    assert [(t, a) for _actor, t, a in rows] == [("member", "insert")] + [("member_role", "insert")] * 2 + [
        ("member_role", "delete")] * 2 + [("member_role", "insert")] * 2 + [("member_role", "delete")] * 2


def test_the_lead_rules_on_the_command_line(cli, demo_db):
    with demo_db.session() as s:
        grid, lead, other = s.execute(text(
            "SELECT l.grid_code, ml.external_id, min(mo.external_id) FROM member_roles l JOIN members ml ON ml.id = l.member_id "
            "JOIN member_roles o ON o.grid_code = l.grid_code AND o.member_id <> l.member_id JOIN members mo ON mo.id = o.member_id "
            "WHERE l.role = 'lead' GROUP BY l.grid_code, ml.external_id ORDER BY l.grid_code OFFSET 60 LIMIT 1")).one()
    r = cli(demo_db, "members", "unassign", lead, grid)
    assert r.exit_code == Conflict.exit_code and "successor" in r.output
    r = cli(demo_db, "members", "assign", other, grid, "--role", "lead")
    assert r.exit_code == Conflict.exit_code and "replace_lead" in r.output
    r = cli(demo_db, "members", "unassign", lead, grid, "--successor", other)
    assert r.exit_code == 0, r.output
    assert "lead" in _roles(demo_db, other, grid) and _roles(demo_db, lead, grid) == []


def test_clear_errors(cli, demo_db):
    a = _grids(demo_db, 1)[0]
    r = cli(demo_db, "members", "add", "x" * 41)
    assert r.exit_code == InvalidData.exit_code and "'name'" in r.output
    r = cli(demo_db, "members", "assign", "NO-SUCH-MEMBER", a, "--role", "security")
    assert r.exit_code == NotFound.exit_code and "NO-SUCH-MEMBER" in r.output
    r = cli(demo_db, "members", "assign", "M00002", a, "--role", "boss")
    assert r.exit_code == InvalidData.exit_code and "boss" in r.output
    r = cli(demo_db, "members", "assign", "M00002", "123", "--role", "security")
    assert r.exit_code == InvalidData.exit_code and "15 digits" in r.output
    r = cli(demo_db, "members", "list", "--grid", "510304999999999")
    assert r.exit_code == NotFound.exit_code
