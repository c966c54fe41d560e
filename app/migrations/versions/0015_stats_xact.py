"""Roll-ups that concurrent writers do not queue on (issue 16): one delta row per writing transaction.

0013's triggers added each statement's counts to *the* row of (month, grid, community, category) with
``ON CONFLICT DO UPDATE``: two transactions that wrote incidents of the same grid and month waited on that
row's lock until the first one ended (an Open311 report behind a long import; a webhook scan behind a
report), and two that touched two such rows in opposite orders deadlocked.

Now every row also carries ``xact``, the writing transaction (``txid_current()``), in the unique key: a
transaction only ever upserts its own rows, so writers never wait on each other. Readers already sum over
the rows of a key. ``xact = 0`` rows are the folded totals: ``gw_stats_fold()`` moves the rows of committed
transactions into them (the rows of transactions still under way are invisible to it and stay); it runs
under a try-lock (a second folder skips instead of waiting), at most once per transaction, from the
triggers of one transaction in ``FOLD_EVERY``, so the unfolded rows stay a few transactions' worth;
``gw_stats_rebuild`` writes folded rows only.

Revision ID: 0015_stats_xact
Revises: 0014_patrol_retention
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0015_stats_xact"
down_revision = "0014_patrol_retention"
branch_labels = None
depends_on = None

FOLD_EVERY = 64
#: pg_try_advisory_xact_lock key of the fold (hashtext('gridwatch-stats-fold'), written out)
FOLD_LOCK = 1604168131

KEYS = {"stats_incidents_monthly": ("month", "grid_code", "community_code", "category_code"),
        "stats_dispatch_monthly": ("month", "grid_code", "community_code")}


def _m13():
    """0013's module (its SQL builder: the upserts stay one text)."""
    spec = importlib.util.spec_from_file_location("gw_migration_0013", Path(__file__).with_name("0013_stats.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _fold_sql(m13) -> str:
    counts = {"stats_incidents_monthly": ("n", *(f"b{i}" for i in range(1, m13.NB + 1))),
              "stats_dispatch_monthly": ("closed", "on_time")}
    out = []
    for table, key in KEYS.items():
        cols = ", ".join(key)
        vals = ", ".join(counts[table])
        sums = ", ".join(f"sum({c})" for c in counts[table])
        sets = ", ".join(f"{c} = r.{c} + EXCLUDED.{c}" for c in counts[table])
        out.append(
            f"WITH gone AS (DELETE FROM {table} WHERE xact <> 0 AND xact <> txid_current() RETURNING *) "
            f"INSERT INTO {table} AS r ({cols}, xact, {vals}) SELECT {cols}, 0, {sums} FROM gone "
            f"GROUP BY {cols} ON CONFLICT ({cols}, xact) DO UPDATE SET {sets};")
        out.append("GET DIAGNOSTICS k = ROW_COUNT; folded := folded + k;")
    return "\n".join(out)


def _functions(m13, xact: str) -> None:
    """(Re)create the trigger functions and the rebuild with the upserts keyed by ``xact`` (an SQL expression)
    and, when ``xact`` is not the 0013 one, the fold."""
    fold = "" if xact is None else "PERFORM gw_stats_maybe_fold();"
    for name, src in m13.SOURCES.items():
        op.execute(f"CREATE OR REPLACE FUNCTION gw_stats_{name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   f"{m13._upserts(src, xact=xact)} {fold} RETURN NULL; END $$")
    op.execute(f"""
        CREATE OR REPLACE FUNCTION gw_stats_rebuild(new_zone text) RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM now() AT TIME ZONE new_zone;  -- an unknown zone fails here, before anything changes
            LOCK TABLE incidents IN SHARE MODE;   -- no write between the count and the end of the transaction
            INSERT INTO stats_zone (id, zone) VALUES (1, new_zone) ON CONFLICT (id) DO UPDATE SET zone = new_zone;
            TRUNCATE stats_incidents_monthly, stats_dispatch_monthly;
            {m13._upserts("SELECT 1 AS d, * FROM incidents", xact=None if xact is None else "0")}
        END $$""")


def upgrade() -> None:
    m13 = _m13()
    for table, key in KEYS.items():
        op.add_column(table, sa.Column("xact", sa.BigInteger(), server_default=sa.text("0"), nullable=False))
        op.drop_index(f"ux_{table}_key", table_name=table)
        op.create_index(f"ux_{table}_key", table, [*key, "xact"], unique=True, postgresql_nulls_not_distinct=True)
    op.execute(f"""
        CREATE FUNCTION gw_stats_fold() RETURNS bigint LANGUAGE plpgsql AS $$
        DECLARE folded bigint := 0; k bigint;
        BEGIN
            IF NOT pg_try_advisory_xact_lock({FOLD_LOCK}) THEN RETURN 0; END IF;  -- another fold is under way
            {_fold_sql(m13)}
            RETURN folded;
        END $$""")
    op.execute(f"""
        CREATE FUNCTION gw_stats_maybe_fold() RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            IF txid_current() % {FOLD_EVERY} = 0
               AND current_setting('gridwatch.stats_folded', true) IS DISTINCT FROM '1' THEN
                PERFORM set_config('gridwatch.stats_folded', '1', true);  -- once per transaction
                PERFORM gw_stats_fold();
            END IF;
        END $$""")
    _functions(m13, "txid_current()")
    op.execute("SELECT gw_stats_fold()")


def downgrade() -> None:
    m13 = _m13()
    op.execute("SELECT gw_stats_fold()")  # one row per key again (rows of transactions under way: none at a downgrade)
    _functions(m13, None)
    op.execute("DROP FUNCTION gw_stats_maybe_fold()")
    op.execute("DROP FUNCTION gw_stats_fold()")
    for table, key in KEYS.items():
        op.drop_index(f"ux_{table}_key", table_name=table)
        op.create_index(f"ux_{table}_key", table, list(key), unique=True, postgresql_nulls_not_distinct=True)
        op.drop_column(table, "xact")
