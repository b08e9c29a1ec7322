"""The dashboard's per-day totals, kept by PostgreSQL in the writing transaction.

`analytics_daily` receives, from statement-level triggers on opportunities, quotes, invoices, payments,
tasks and institutions, the signed change each statement makes to a metric's total of a local day, for
everyone, for the record's team and for its salesperson (three rows per change, summed by GROUPING
SETS, zero changes left out). Deltas are inserted, never updated: concurrent writers never wait on a
shared total row. `analytics_first_invoices` keeps each client's first issued invoice date, so that
"new clients" move when that date does.

The local day is read in the zone `analytics_zone()` returns; `analytics_rebuild(zone)` sets it,
recomputes everything from the rows and is what the application calls when the organisation's time
zone is not the one the totals were built in (after this migration, when the setting changes). Until
then `analytics_zone()` is NULL, the triggers do nothing and the dashboard computes from the rows.

SQLite gets the two tables only (the dashboard computes from the rows there).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 22:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NIL = "'00000000-0000-0000-0000-000000000000'::uuid"

# What a set of rows `r` of each table adds to the totals: (metric, day, owner_id, team_id, count, amount).
CONTRIBUTIONS = {
    'opportunities': """
        SELECT CASE WHEN r.stage = 'won' THEN 'won' ELSE 'lost' END, analytics_day(r.closed_at),
               r.owner_id, r.team_id, 1::bigint, CASE WHEN r.stage = 'won' THEN r.amount ELSE 0 END
        FROM {rows} r WHERE r.stage IN ('won', 'lost') AND r.closed_at IS NOT NULL""",
    'quotes': """
        SELECT 'quote_sent', analytics_day(r.sent_at), r.owner_id, r.team_id, 1::bigint, 0::numeric
        FROM {rows} r WHERE r.superseded_by_id IS NULL AND r.sent_at IS NOT NULL
        UNION ALL
        SELECT 'quote_sent_accepted', analytics_day(r.sent_at), r.owner_id, r.team_id, 1::bigint, 0::numeric
        FROM {rows} r WHERE r.superseded_by_id IS NULL AND r.sent_at IS NOT NULL
                        AND r.status IN ('accepted', 'ordered')
        UNION ALL
        SELECT 'quote_accepted', analytics_day(r.decided_at), r.owner_id, r.team_id, 1::bigint, 0::numeric
        FROM {rows} r WHERE r.superseded_by_id IS NULL AND r.decided_at IS NOT NULL
                        AND r.status IN ('accepted', 'ordered')""",
    'invoices': """
        SELECT CASE WHEN r.kind = 'invoice' THEN 'invoiced' ELSE 'credited' END, r.issue_date,
               r.owner_id, r.team_id, 1::bigint, r.total_excl_vat
        FROM {rows} r WHERE r.status <> 'draft' AND r.issue_date IS NOT NULL""",
    'payments': """
        SELECT 'collected', r.paid_on, i.owner_id, i.team_id, 1::bigint, r.amount
        FROM {rows} r JOIN invoices i ON i.id = r.invoice_id""",
    'tasks': """
        SELECT 'task_done', analytics_day(r.completed_at), r.assignee_id, r.team_id, 1::bigint, 0::numeric
        FROM {rows} r WHERE r.status = 'done' AND r.completed_at IS NOT NULL""",
    # An institution carries its "new client" day (its first issued invoice), which moves with its
    # salesperson and team.
    'institutions': """
        SELECT 'institution_created', analytics_day(r.created_at), r.assigned_user_id, r.team_id,
               1::bigint, 0::numeric
        FROM {rows} r
        UNION ALL
        SELECT 'client_first', f.day, r.assigned_user_id, r.team_id, 1::bigint, 0::numeric
        FROM {rows} r JOIN analytics_first_invoices f ON f.institution_id = r.id""",
}

# What the rows of a table carry that another table's rows count: a payment is counted for its
# invoice's salesperson and team, so an invoice's change of them moves its payments' totals (for an
# unchanged salesperson, the old and new images cancel out). In the triggers only: a rebuild counts the
# payments once, from the payments.
CARRIED = {
    'invoices': """
        SELECT 'collected', p.paid_on, r.owner_id, r.team_id, 1::bigint, p.amount
        FROM {rows} r JOIN payments p ON p.invoice_id = r.id""",
}

# The columns whose change can change a table's contribution: an UPDATE that leaves them all alone
# (the amount paid on an invoice, a task's title...) costs the triggers nothing more.
RELEVANT = {
    'opportunities': ['stage', 'closed_at', 'amount', 'owner_id', 'team_id'],
    'quotes': ['superseded_by_id', 'sent_at', 'decided_at', 'status', 'owner_id', 'team_id'],
    'invoices': ['kind', 'status', 'issue_date', 'total_excl_vat', 'owner_id', 'team_id', 'institution_id'],
    'payments': ['paid_on', 'amount', 'invoice_id'],
    'tasks': ['status', 'completed_at', 'assignee_id', 'team_id'],
    'institutions': ['created_at', 'assigned_user_id', 'team_id'],
}

# Rows locked before reading through them, so that a concurrent change of the salesperson they carry
# waits for this transaction (or this one reads its outcome): a payment's invoice.
LOCKS = {
    'payments': "PERFORM 1 FROM invoices i WHERE i.id IN (SELECT x.invoice_id FROM {rows} x) "
                "ORDER BY i.id FOR NO KEY UPDATE;",
}


def _fan_out(deltas: str) -> str:
    """INSERT the deltas (metric, day, owner_id, team_id, count, amount) for everyone, per team and per
    salesperson; changes that cancel out are left out."""
    return f"""
        INSERT INTO analytics_daily (metric, day, scope, subject_id, count, amount)
        SELECT metric, day,
               CASE WHEN GROUPING(owner_id) = 0 THEN 'own' WHEN GROUPING(team_id) = 0 THEN 'team' ELSE 'all' END,
               CASE WHEN GROUPING(owner_id) = 0 THEN owner_id WHEN GROUPING(team_id) = 0 THEN team_id
                    ELSE {NIL} END,
               sum(count), sum(amount)
        FROM ({deltas}) AS d (metric, day, owner_id, team_id, count, amount)
        WHERE day IS NOT NULL
        GROUP BY GROUPING SETS ((metric, day), (metric, day, team_id), (metric, day, owner_id))
        HAVING (sum(count) <> 0 OR sum(amount) <> 0)
           AND (GROUPING(team_id) = 1 OR team_id IS NOT NULL)
           AND (GROUPING(owner_id) = 1 OR owner_id IS NOT NULL);"""


def _signed(table: str, rows: str, sign: int, *, carried: bool = True) -> str:
    """What rows of `table` add (sign 1) or take away (sign -1), with what they carry (`CARRIED`)."""
    parts = [CONTRIBUTIONS[table]] + ([CARRIED[table]] if carried and table in CARRIED else [])
    union = " UNION ALL ".join(part.format(rows=rows) for part in parts)
    return (f"SELECT metric, day, owner_id, team_id, {sign} * count, {sign} * amount "
            f"FROM ({union}) AS c (metric, day, owner_id, team_id, count, amount)")


def _changed(table: str, image: str) -> str:
    """The old (`o`) or new (`n`) images of the updated rows whose relevant columns changed."""
    differs = " OR ".join(f"o.{column} IS DISTINCT FROM n.{column}" for column in RELEVANT[table])
    return f"(SELECT {image}.* FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {differs})"


def _first_invoices(touched: str) -> str:
    """Move the "new client" day of the institutions of the `touched` invoices to their first issued
    invoice's date, if it changed. Their rows are locked first: a concurrent change of their salesperson
    waits for this transaction, or is seen by it."""
    deltas = """
            SELECT 'client_first', m.old_day, i.assigned_user_id, i.team_id, -1::bigint, 0::numeric
            FROM moved m JOIN institutions i ON i.id = m.institution_id WHERE m.old_day IS NOT NULL
            UNION ALL
            SELECT 'client_first', m.new_day, i.assigned_user_id, i.team_id, 1::bigint, 0::numeric
            FROM moved m JOIN institutions i ON i.id = m.institution_id WHERE m.new_day IS NOT NULL"""
    return f"""
        PERFORM 1 FROM institutions i WHERE i.id IN (SELECT t.institution_id FROM {touched} t)
        ORDER BY i.id FOR NO KEY UPDATE;
        WITH fresh AS (
            SELECT t.institution_id,
                   (SELECT min(v.issue_date) FROM invoices v
                    WHERE v.institution_id = t.institution_id AND v.kind = 'invoice' AND v.status <> 'draft') AS day
            FROM (SELECT DISTINCT t.institution_id FROM {touched} t) t
        ), moved AS (
            SELECT f.institution_id, s.day AS old_day, f.day AS new_day
            FROM fresh f LEFT JOIN analytics_first_invoices s ON s.institution_id = f.institution_id
            WHERE f.day IS DISTINCT FROM s.day
        ), kept AS (
            INSERT INTO analytics_first_invoices (institution_id, day)
            SELECT institution_id, new_day FROM moved WHERE new_day IS NOT NULL
            ON CONFLICT (institution_id) DO UPDATE SET day = EXCLUDED.day
        ), dropped AS (
            DELETE FROM analytics_first_invoices s USING moved m
            WHERE s.institution_id = m.institution_id AND m.new_day IS NULL
        )
        {_fan_out(deltas).strip()}"""


def _trigger_function(table: str) -> str:
    lock = LOCKS.get(table, "")
    changed_new, changed_old = _changed(table, "n"), _changed(table, "o")
    first_invoices = {"INSERT": "", "DELETE": "", "UPDATE": ""}
    if table == "invoices":
        first_invoices = {
            "INSERT": _first_invoices("new_rows"),
            "DELETE": _first_invoices("old_rows"),
            "UPDATE": _first_invoices(f"({changed_new} UNION ALL {changed_old})"),
        }
    return f"""
CREATE FUNCTION analytics_{table}_changed() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    IF analytics_zone() IS NULL THEN
        RETURN NULL;  -- not built yet: the dashboard computes from the rows
    END IF;
    IF TG_OP = 'INSERT' THEN
        {lock.format(rows="new_rows")}
        {_fan_out(_signed(table, "new_rows", 1))}
        {first_invoices["INSERT"]}
    ELSIF TG_OP = 'DELETE' THEN
        {lock.format(rows="old_rows")}
        {_fan_out(_signed(table, "old_rows", -1))}
        {first_invoices["DELETE"]}
    ELSE
        IF NOT EXISTS {changed_new} THEN
            RETURN NULL;  -- no column the totals read changed
        END IF;
        {lock.format(rows=changed_new)}
        {_fan_out(_signed(table, changed_new, 1) + " UNION ALL " + _signed(table, changed_old, -1))}
        {first_invoices["UPDATE"]}
    END IF;
    RETURN NULL;
END
$body$;"""


def _rebuild_function() -> str:
    everything = " UNION ALL ".join(_signed(table, table, 1, carried=False) for table in CONTRIBUTIONS)
    return f"""
CREATE FUNCTION analytics_rebuild(zone text) RETURNS void LANGUAGE plpgsql AS $body$
BEGIN
    -- Writers wait (their triggers insert here) while the totals are recomputed; those that wrote
    -- before have committed once the lock is granted, and each statement below sees their rows.
    LOCK TABLE analytics_daily, analytics_first_invoices IN EXCLUSIVE MODE;
    EXECUTE format('CREATE OR REPLACE FUNCTION analytics_zone() RETURNS text LANGUAGE sql STABLE AS %L',
                   format('SELECT %L::text', zone));
    DELETE FROM analytics_daily;
    DELETE FROM analytics_first_invoices;
    INSERT INTO analytics_first_invoices (institution_id, day)
    SELECT institution_id, min(issue_date) FROM invoices
    WHERE kind = 'invoice' AND status <> 'draft' GROUP BY institution_id;
    {_fan_out(everything)}
END
$body$;"""


COMPACT_FUNCTION = """
CREATE FUNCTION analytics_compact() RETURNS bigint LANGUAGE plpgsql AS $body$
DECLARE
    merged bigint;
BEGIN
    -- Each (metric, day, scope, subject) with several deltas becomes one row, in one statement:
    -- deltas inserted meanwhile by other transactions are not seen, so not touched.
    WITH keys AS (
        SELECT metric, day, scope, subject_id FROM analytics_daily
        GROUP BY metric, day, scope, subject_id HAVING count(*) > 1
    ), taken AS (
        DELETE FROM analytics_daily a USING keys k
        WHERE a.metric = k.metric AND a.day = k.day AND a.scope = k.scope AND a.subject_id = k.subject_id
        RETURNING a.metric, a.day, a.scope, a.subject_id, a.count, a.amount
    ), summed AS (
        INSERT INTO analytics_daily (metric, day, scope, subject_id, count, amount)
        SELECT metric, day, scope, subject_id, sum(count), sum(amount) FROM taken
        GROUP BY metric, day, scope, subject_id
        HAVING sum(count) <> 0 OR sum(amount) <> 0
        RETURNING 1
    )
    SELECT count(*) INTO merged FROM taken;
    RETURN merged;
END
$body$;"""


def upgrade() -> None:
    op.create_table(
        'analytics_daily',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('metric', sa.String(length=24), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('scope', sa.String(length=4), nullable=False),
        sa.Column('subject_id', sa.Uuid(), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_daily')),
    )
    op.create_index('ix_analytics_daily_read', 'analytics_daily', ['scope', 'subject_id', 'day'], unique=False,
                    postgresql_include=['metric', 'count', 'amount'])
    op.create_table(
        'analytics_first_invoices',
        sa.Column('institution_id', sa.Uuid(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint('institution_id', name=op.f('pk_analytics_first_invoices')),
    )
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("CREATE FUNCTION analytics_zone() RETURNS text LANGUAGE sql STABLE AS 'SELECT NULL::text'")
    op.execute("CREATE FUNCTION analytics_day(at timestamptz) RETURNS date LANGUAGE sql STABLE "
               "AS 'SELECT (at AT TIME ZONE analytics_zone())::date'")
    for table in CONTRIBUTIONS:
        op.execute(_trigger_function(table))
        for event, references in (('INSERT', 'NEW TABLE AS new_rows'),
                                  ('UPDATE', 'OLD TABLE AS old_rows NEW TABLE AS new_rows'),
                                  ('DELETE', 'OLD TABLE AS old_rows')):
            op.execute(f"CREATE TRIGGER analytics_{table}_{event.lower()} AFTER {event} ON {table} "
                       f"REFERENCING {references} FOR EACH STATEMENT EXECUTE FUNCTION analytics_{table}_changed()")
    op.execute(_rebuild_function())
    op.execute(COMPACT_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in CONTRIBUTIONS:
            for event in ('insert', 'update', 'delete'):
                op.execute(f"DROP TRIGGER analytics_{table}_{event} ON {table}")
            op.execute(f"DROP FUNCTION analytics_{table}_changed()")
        for function in ('analytics_compact()', 'analytics_rebuild(text)', 'analytics_day(timestamptz)',
                         'analytics_zone()'):
            op.execute(f"DROP FUNCTION {function}")
    op.drop_table('analytics_first_invoices')
    op.drop_index('ix_analytics_daily_read', table_name='analytics_daily', postgresql_include=['metric', 'count', 'amount'])
    op.drop_table('analytics_daily')
