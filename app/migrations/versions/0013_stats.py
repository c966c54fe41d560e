"""Statistics at scale (issue 16): an index on ``dispatched_at`` and monthly roll-ups kept by triggers.

- ``ix_incidents_dispatched_at``: ``on_time_rate`` filters on the time of dispatch (it scanned every row).
- ``stats_zone``: one row, the IANA zone whose calendar months the roll-ups count in (the setting
  ``timezone``; ``gw_stats_rebuild(zone)`` recounts everything in another zone).
- ``stats_incidents_monthly``: incidents per month of report (district time), grid, community and category
  (``n``), and of those closed, how many per class of hours from report to close (``b1`` … ``b7``, the
  classes of ``width_bucket`` over ``RESOLUTION_BINS_H``).
- ``stats_dispatch_monthly``: closed incidents with a deadline per month of dispatch, grid and community, and
  how many of them closed on time (the closed side of ``on_time_rate``; the open-and-late side depends on
  the clock and is counted live through ``ix_incidents_open_deadline``).
- ``gw_stats_insert/update/delete()``: statement-level triggers (transition tables) on ``incidents`` add the
  new rows and subtract the old ones in the same transaction (an update that moves nothing writes nothing),
  in static SQL so PL/pgSQL keeps the plans (a dynamic EXECUTE per statement cost +28 s on an import of 16k
  incidents, which runs one INSERT per row); TRUNCATE empties the roll-ups. A roll-up row whose counts fall to 0 stays (readers skip it).

Revision ID: 0013_stats
Revises: 0012_district_code
"""
import sqlalchemy as sa
from alembic import context, op

revision = "0013_stats"
down_revision = "0012_district_code"
branch_labels = None
depends_on = None

# frozen copies: app.dashboards.stats.RESOLUTION_BINS_H, app.config's default timezone, OPEN_STATES
BINS_H = (0, 2, 8, 24, 48, 72, 168)
DEFAULT_ZONE = "Asia/Shanghai"
NB = len(BINS_H)
BCOLS = ", ".join(f"b{i}" for i in range(1, NB + 1))


def _upserts(src: str, xact: str | None = None) -> str:
    """The two upserts that add the rows of the query ``src`` (its column ``d`` is +1 or −1 per row) to the
    roll-ups: the one text the triggers and the rebuild are made of (static SQL, so PL/pgSQL keeps its plans).
    ``xact``: 0015's SQL expression for the row's ``xact`` column, part of the key (None: 0013's key)."""
    xc, xv = ("", "") if xact is None else (", xact", f", {xact}")
    edges = "ARRAY[" + ", ".join(f"{float(e)}" for e in BINS_H) + "]::float8[]"
    bin_expr = (f"CASE WHEN state = 'closed' AND closed_at IS NOT NULL THEN width_bucket("
                f"EXTRACT(EPOCH FROM (closed_at - reported_at)) / 3600.0, {edges}) END")
    sums = ", ".join(f"coalesce(sum(d) FILTER (WHERE bin = {i}), 0) AS b{i}" for i in range(1, NB + 1))
    nonzero = " OR ".join(["n <> 0"] + [f"b{i} <> 0" for i in range(1, NB + 1)])
    sets = ", ".join(["n = r.n + EXCLUDED.n"] + [f"b{i} = r.b{i} + EXCLUDED.b{i}" for i in range(1, NB + 1)])
    zone = "(SELECT zone FROM stats_zone WHERE id = 1)"
    monthly = (
        f"WITH ch AS ({src}), "
        f"g AS (SELECT date_trunc('month', ch.reported_at AT TIME ZONE {zone})::date AS month, grid_code, "
        f"community_code, category_code, sum(d) AS n, {sums} FROM "
        f"(SELECT ch.*, {bin_expr} AS bin FROM ch) ch GROUP BY 1, 2, 3, 4) "
        f"INSERT INTO stats_incidents_monthly AS r (month, grid_code, community_code, category_code{xc}, n, {BCOLS}) "
        f"SELECT month, grid_code, community_code, category_code{xv}, n, {BCOLS} FROM g WHERE {nonzero} "
        f"ON CONFLICT (month, grid_code, community_code, category_code{xc}) DO UPDATE SET {sets}")
    dispatch = (
        f"WITH ch AS ({src}), "
        f"g AS (SELECT date_trunc('month', ch.dispatched_at AT TIME ZONE {zone})::date AS month, grid_code, "
        "community_code, sum(d) AS closed, coalesce(sum(d) FILTER (WHERE closed_at <= deadline), 0) AS on_time "
        "FROM ch WHERE state = 'closed' AND deadline IS NOT NULL AND dispatched_at IS NOT NULL "
        "GROUP BY 1, 2, 3) "
        f"INSERT INTO stats_dispatch_monthly AS r (month, grid_code, community_code{xc}, closed, on_time) "
        f"SELECT month, grid_code, community_code{xv}, closed, on_time FROM g WHERE closed <> 0 OR on_time <> 0 "
        f"ON CONFLICT (month, grid_code, community_code{xc}) DO UPDATE SET closed = r.closed + EXCLUDED.closed, "
        "on_time = r.on_time + EXCLUDED.on_time")
    return f"{monthly};\n{dispatch};"


#: the rows each trigger adds (+1) and takes away (−1): its transition tables
SOURCES = {"insert": "SELECT 1 AS d, * FROM gw_new",
           "update": "SELECT -1 AS d, * FROM gw_old UNION ALL SELECT 1 AS d, * FROM gw_new",
           "delete": "SELECT -1 AS d, * FROM gw_old"}
REFERENCING = {"insert": "NEW TABLE AS gw_new", "update": "OLD TABLE AS gw_old NEW TABLE AS gw_new",
               "delete": "OLD TABLE AS gw_old"}


def upgrade() -> None:
    bind = op.get_bind()
    op.create_index("ix_incidents_dispatched_at", "incidents", ["dispatched_at"])
    op.create_table(
        "stats_zone",
        sa.Column("id", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("zone", sa.Text(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_stats_zone_one_row"),
        sa.PrimaryKeyConstraint("id", name="pk_stats_zone"),
    )
    op.create_table(
        "stats_incidents_monthly",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("grid_code", sa.String(15)),
        sa.Column("community_code", sa.String(12)),
        sa.Column("category_code", sa.String(40), nullable=False),
        sa.Column("n", sa.Integer(), server_default="0", nullable=False),
        *[sa.Column(f"b{i}", sa.Integer(), server_default="0", nullable=False) for i in range(1, NB + 1)],
    )
    op.create_index("ux_stats_incidents_monthly_key", "stats_incidents_monthly",
                    ["month", "grid_code", "community_code", "category_code"], unique=True,
                    postgresql_nulls_not_distinct=True)
    op.create_table(
        "stats_dispatch_monthly",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("grid_code", sa.String(15)),
        sa.Column("community_code", sa.String(12)),
        sa.Column("closed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("on_time", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_index("ux_stats_dispatch_monthly_key", "stats_dispatch_monthly",
                    ["month", "grid_code", "community_code"], unique=True, postgresql_nulls_not_distinct=True)
    for name, src in SOURCES.items():
        op.execute(f"CREATE FUNCTION gw_stats_{name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   f"{_upserts(src)} RETURN NULL; END $$")
        op.execute(f"CREATE TRIGGER gw_stats_{name} AFTER {name.upper()} ON incidents REFERENCING "
                   f"{REFERENCING[name]} FOR EACH STATEMENT EXECUTE FUNCTION gw_stats_{name}()")
    op.execute("CREATE FUNCTION gw_stats_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               "TRUNCATE stats_incidents_monthly, stats_dispatch_monthly; RETURN NULL; END $$")
    op.execute("CREATE TRIGGER gw_stats_truncate AFTER TRUNCATE ON incidents "
               "FOR EACH STATEMENT EXECUTE FUNCTION gw_stats_truncate()")
    op.execute(f"""
        CREATE FUNCTION gw_stats_rebuild(new_zone text) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM now() AT TIME ZONE new_zone;  -- an unknown zone fails here, before anything changes
            LOCK TABLE incidents IN SHARE MODE;   -- no write between the count and the end of the transaction
            INSERT INTO stats_zone (id, zone) VALUES (1, new_zone) ON CONFLICT (id) DO UPDATE SET zone = new_zone;
            TRUNCATE stats_incidents_monthly, stats_dispatch_monthly;
            {_upserts("SELECT 1 AS d, * FROM incidents")}
        END $$""")
    zone = context.config.attributes.get("timezone") or DEFAULT_ZONE
    bind.execute(sa.text("SELECT gw_stats_rebuild(:z)"), {"z": zone})


def downgrade() -> None:
    for name in (*SOURCES, "truncate"):
        op.execute(f"DROP TRIGGER gw_stats_{name} ON incidents")
        op.execute(f"DROP FUNCTION gw_stats_{name}()")
    op.execute("DROP FUNCTION gw_stats_rebuild(text)")
    op.drop_table("stats_dispatch_monthly")
    op.drop_table("stats_incidents_monthly")
    op.drop_table("stats_zone")
    op.drop_index("ix_incidents_dispatched_at", table_name="incidents")
