"""The set-based core of the monthly settlement (R-SET-1): a few INSERT … SELECT statements per group of
organisations, never a Python loop over dispensings. Written in SQL understood by both PostgreSQL and SQLite.

Which organisation a dispensing is settled with: a delivery to a hospital ward (inpatient, R-RX-7) is settled
by the fund with the institution, which pays the pharmacy by the 10th of the next month (000 五(三), R-SET-2);
every other dispensing is settled with the pharmacy that dispensed it. Only directly settled dispensings
(``settlement = 'direct'``) are on statements: self-paid ones are claimed by the patient (R-PAY-5).

A run first sums the month's settleable dispensings per organisation (``month_snapshot``: one GROUP BY into a
temporary table of the session, ``settlement_month_agg``) with a fingerprint of its inputs (count and sum of the
dispensing ids, the figures, the deposit rate). An organisation whose draft statement already carries that
fingerprint is unchanged and left untouched: a rerun with no new dispensing writes nothing (issue 16). Only the
changed organisations' dispensings are then copied, sorted by organisation, into a second temporary table (no
WAL); each group of organisations reads a contiguous slice of it instead of rescanning a month whose rows are
interleaved across thousands of pharmacies. Lines carry no database constraint to their statement (no deferred
per-row check on a million rows): they are written joined to the statement, in its transaction.

Amounts are summed in SQL (exact ``numeric`` on PostgreSQL) and the deposit is computed in whole fen with
integer arithmetic at the rate of the organisation's region (R-SET-1: ``RegionSettings.deposit_rate``, in basis
points), rounding half-up (away from zero), so both databases give the same figures to the fen. Money sanctions'
lines (R-SET-5) are written again for the group's organisations that have any (``money_services``).
"""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection

from apps.core import partitions, sql as hot_sql
from apps.prescriptions.models import Dispensing, DispensingLine
from apps.settlement import money_services
from apps.settlement.models import OrganisationKind, Statement, StatementAdjustment, StatementLine

SNAPSHOT = "settlement_month_snapshot"
AGG = "settlement_month_agg"  # one row per organisation: its sums, fingerprint and whether it changed


@dataclass(frozen=True)
class KindSpec:
    kind: str
    column: str  # the dispensing's and the statement's FK column


KINDS = (
    KindSpec(OrganisationKind.INSTITUTION, "institution_id"),
    KindSpec(OrganisationKind.PHARMACY, "pharmacy_id"),
)


def _tables():
    return Dispensing._meta.db_table, Statement._meta.db_table, StatementLine._meta.db_table


def _settling_org_sql(alias: str) -> tuple[str, str]:
    """(org_kind, org_id) expressions of the dispensing ``alias``: a ward delivery is settled with the institution."""
    return (f"CASE WHEN {alias}.delivery = 'ward' THEN 'institution' ELSE 'pharmacy' END",
            f"CASE WHEN {alias}.delivery = 'ward' THEN {alias}.institution_id ELSE {alias}.pharmacy_id END")


def _group_scope_sql(spec: KindSpec | None, lo: int | None, hi: int | None) -> tuple[str, list]:
    """The condition on a dispensing ``d`` that keeps only those settled with an organisation of ``spec``'s kind
    whose id is in ``lo..hi`` (one group of a split run); empty for the whole month. Written on the dispensing's
    own columns, so the (organisation, period) indexes serve it."""
    if spec is None:
        return "", []
    ward = "d.delivery = 'ward'" if spec.kind == OrganisationKind.INSTITUTION else "d.delivery <> 'ward'"
    return f" AND {ward} AND d.{spec.column} BETWEEN %s AND %s", [lo, hi]


@contextmanager
def month_snapshot(period: dt.date, *, spec: KindSpec | None = None, lo: int | None = None, hi: int | None = None):
    """The month's per-organisation sums (``AGG``) and the directly settled dispensings of the organisations whose
    inputs changed since their draft statement was written, as (org_kind, org_id, id, kind, amounts) sorted by
    organisation (``SNAPSHOT``); temporary tables that live for the run (dropped afterwards).

    With ``spec``, ``lo`` and ``hi``, only the organisations of one group (a task of a split run, which may run on
    another machine: temporary tables are per session, so each group builds its own)."""
    disp, stmt, _ = _tables()
    org_kind, org_id = _settling_org_sql("d")
    p = hot_sql.date_param(period)
    scope, scope_params = _group_scope_sql(spec, lo, hi)
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {SNAPSHOT}")
        cur.execute(f"DROP TABLE IF EXISTS {AGG}")
        cur.execute(
            f"""CREATE TEMPORARY TABLE {AGG} AS
                SELECT x.org_kind AS org_kind, x.org_id AS org_id, COUNT(*) AS n, CAST(SUM(x.id) AS BIGINT) AS digest,
                       SUM(CASE WHEN x.kind = 'normal' THEN 1 ELSE -1 END) AS visits, SUM(x.total) AS total,
                       SUM(x.fund) AS fund, SUM(x.personal) AS personal, 1 AS changed
                FROM (SELECT {org_kind} AS org_kind, {org_id} AS org_id, d.id AS id, d.kind AS kind,
                             d.total AS total, d.fund_payment AS fund, d.personal_payment AS personal
                      FROM {disp} d WHERE d.period = %s AND d.settlement = 'direct'{scope}) x
                GROUP BY x.org_kind, x.org_id""",
            [p, *scope_params],
        )
        # unchanged: a confirmed statement (locked, never rewritten) or a draft with the same fingerprint
        for spec in KINDS:
            org_table = money_services._org_model(spec.kind)._meta.db_table
            rate_bp = money_services.deposit_rate_sql(kind=spec.kind, org_alias="o")
            cur.execute(
                f"""UPDATE {AGG} SET changed = 0 WHERE org_kind = %s AND EXISTS (
                        SELECT 1 FROM {stmt} s JOIN {org_table} o ON o.id = s.{spec.column}
                        WHERE s.{spec.column} = {AGG}.org_id AND s.period = %s
                          AND (s.status = 'confirmed'
                               OR (s.line_count = {AGG}.n AND s.source_digest = {AGG}.digest
                                   AND s.visits = {AGG}.visits AND s.total = {AGG}.total
                                   AND s.fund_payment = {AGG}.fund AND s.personal_payment = {AGG}.personal
                                   AND CAST(ROUND(s.deposit_rate * 10000) AS BIGINT) = {rate_bp})))""",
                [spec.kind, p],
            )
        cur.execute(f"CREATE INDEX {AGG}_org ON {AGG} (org_kind, org_id)")
        cur.execute(f"SELECT COUNT(*) FROM {AGG} WHERE changed = 1")
        any_changed = cur.fetchone()[0] > 0
        cur.execute(
            f"""CREATE TEMPORARY TABLE {SNAPSHOT} AS
                SELECT {org_kind} AS org_kind, {org_id} AS org_id,
                       d.id AS id, d.kind AS kind, d.total AS total, d.fund_payment AS fund,
                       d.personal_payment AS personal
                FROM {disp} d WHERE d.period = %s AND d.settlement = 'direct' AND {'1 = 1' if any_changed else '1 = 0'}
                  AND EXISTS (SELECT 1 FROM {AGG} a WHERE a.changed = 1 AND a.org_kind = {org_kind}
                              AND a.org_id = {org_id}){scope}
                ORDER BY 1, 2""",
            [p, *scope_params],
        )
        cur.execute(f"CREATE INDEX {SNAPSHOT}_org ON {SNAPSHOT} (org_kind, org_id)")
        hot_sql.analyze(cur, AGG)
        hot_sql.analyze(cur, SNAPSHOT)
    try:
        yield SNAPSHOT
    finally:
        with connection.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {SNAPSHOT}")
            cur.execute(f"DROP TABLE IF EXISTS {AGG}")


def settle_chunk(*, spec: KindSpec, period: dt.date, lo: int, hi: int, run_id: int | None, now,
                 shared_month_lock: bool = False, analyze_statements: bool = True) -> tuple[int, int]:
    """Recompute the draft statements of organisations with ``lo <= id <= hi`` of one kind for ``period`` from the
    month snapshot. Must run inside a transaction: the caller commits the chunk as a whole (nothing half-written).
    Returns (statements written, lines written).

    ``shared_month_lock``: the groups of one split run (disjoint ranges, on several workers) write side by side
    and take the month's lock shared; a whole-month run and a confirmation take it exclusive, so they still take
    turns with every group (one live run per month is enforced by ``services.settlement_run_start``).

    ``analyze_statements``: refresh the statement table's statistics once the chunk's statements are written (the
    caller asks for it until one chunk has written some: once a run, since the table holds every month online and
    analysing it after every chunk grew with the years — issue 16, ``--months``)."""
    _, stmt, line = _tables()
    adj = StatementAdjustment._meta.db_table
    col = spec.column
    other = "pharmacy_id" if col == "institution_id" else "institution_id"
    params = {"period": hot_sql.date_param(period), "lo": lo, "hi": hi, "run": run_id,
              "kind": spec.kind, "now": hot_sql.datetime_param(now)}
    with connection.cursor() as cur:
        # A chunk is recomputable, so it need not wait for its WAL to reach the disk: a crash can lose the last
        # committed chunks, never half of one, and the next run writes them again.
        hot_sql.commit_without_waiting_for_disk(cur)
        # two runs of the same month (the schedule and an administrator) take turns group by group
        if shared_month_lock and hot_sql.is_postgresql():
            cur.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)",
                        [money_services.ADVISORY_KEY, period.year * 100 + period.month])
        else:
            hot_sql.advisory_xact_lock(cur, money_services.ADVISORY_KEY, period.year * 100 + period.month)
    # R-SET-5: the accounts of organisations with money sanctions are locked before their statements (lock order)
    money_ids = money_services.settle_chunk_adjustments_lock(kind=spec.kind, lo=lo, hi=hi, now=now)
    org_table = money_services._org_model(spec.kind)._meta.db_table
    rate_bp = money_services.deposit_rate_sql(kind=spec.kind, org_alias="o")
    # the chunk's drafts to rewrite: every one but those of organisations whose inputs are unchanged
    touched = (f"""SELECT s.id FROM {stmt} s WHERE s.period = %(period)s AND s.organisation_kind = %(kind)s
                   AND s.status = 'draft' AND s.{col} BETWEEN %(lo)s AND %(hi)s
                   AND NOT EXISTS (SELECT 1 FROM {AGG} a WHERE a.org_kind = %(kind)s AND a.org_id = s.{col}
                                   AND a.changed = 0)""")
    with connection.cursor() as cur:
        # 1. drop the lines of this chunk's changed drafts (confirmed statements are locked and left alone); their
        #    money lines are written again in step 5
        cur.execute(f"DELETE FROM {adj} WHERE statement_id IN ({touched})", params)
        cur.execute(f"DELETE FROM {line} WHERE period = %(period)s AND statement_id IN ({touched})", params)
        # 2. one aggregate per changed organisation (summed once per run in AGG), upserted so a statement keeps
        #    its id across reruns; with its line count and input fingerprint
        cur.execute(
            f"""INSERT INTO {stmt} (organisation_kind, {col}, {other}, period, visits, total, fund_payment,
                                   personal_payment, deposit_rate, deposit, deductions, payable, line_count,
                                   source_digest, status, run_id, computed_at)
                SELECT %(kind)s, agg.org_id, CAST(NULL AS BIGINT), %(period)s, agg.visits, agg.total, agg.fund,
                       agg.personal, agg.bp / 10000.0, agg.deposit_fen / 100.0, 0,
                       (agg.fund_fen - agg.deposit_fen) / 100.0, agg.n, agg.digest, 'draft',
                       CAST(%(run)s AS BIGINT), %(now)s
                FROM (
                    SELECT x.org_id, x.visits, x.total, x.fund, x.personal, x.fund_fen, x.bp, x.n, x.digest,
                           CASE WHEN x.fund_fen >= 0 THEN (x.fund_fen * x.bp + 5000) / 10000
                                ELSE -((-x.fund_fen * x.bp + 5000) / 10000) END AS deposit_fen
                    FROM (
                        SELECT m.org_id AS org_id, m.visits AS visits, m.total AS total, m.fund AS fund,
                               m.personal AS personal, m.n AS n, m.digest AS digest,
                               CAST(ROUND(m.fund * 100) AS BIGINT) AS fund_fen,
                               CAST({rate_bp} AS BIGINT) AS bp
                        FROM {AGG} m JOIN {org_table} o ON o.id = m.org_id
                        WHERE m.org_kind = %(kind)s AND m.org_id BETWEEN %(lo)s AND %(hi)s AND m.changed = 1
                          AND NOT EXISTS (SELECT 1 FROM {stmt} c WHERE c.{col} = m.org_id AND c.period = %(period)s
                                          AND c.status = 'confirmed')
                    ) x
                ) agg
                WHERE 1 = 1
                ON CONFLICT ({col}, period) WHERE {col} IS NOT NULL DO UPDATE SET
                    visits = excluded.visits, total = excluded.total, fund_payment = excluded.fund_payment,
                    personal_payment = excluded.personal_payment, deposit_rate = excluded.deposit_rate,
                    deposit = excluded.deposit, deductions = excluded.deductions,
                    payable = excluded.payable, line_count = excluded.line_count,
                    source_digest = excluded.source_digest, run_id = excluded.run_id,
                    computed_at = excluded.computed_at
                WHERE {stmt}.status = 'draft'""",
            params,
        )
        statements = cur.rowcount
        # fresh statistics for the statement table once a run has written some of the month's statements, or the
        # planner, seeing none of them, may scan it once per line below
        if analyze_statements and statements:
            hot_sql.analyze(cur, stmt)
        # 3. drafts whose organisation has nothing left this month (e.g. every dispensing moved) disappear
        cur.execute(
            f"""DELETE FROM {stmt} WHERE period = %(period)s AND organisation_kind = %(kind)s AND status = 'draft'
                AND {col} BETWEEN %(lo)s AND %(hi)s
                AND NOT EXISTS (SELECT 1 FROM {AGG} m WHERE m.org_kind = %(kind)s AND m.org_id = {stmt}.{col})""",
            params,
        )
        # 4. the lines: every dispensing of the month on its organisation's draft statement
        cur.execute(
            f"""INSERT INTO {line} (statement_id, dispensing_id, period)
                SELECT s.id, m.id, %(period)s FROM {SNAPSHOT} m
                JOIN {stmt} s ON s.{col} = m.org_id AND s.period = %(period)s
                WHERE m.org_kind = %(kind)s AND m.org_id BETWEEN %(lo)s AND %(hi)s AND s.status = 'draft'""",
            params,
        )
        lines = cur.rowcount
    # 5. R-SET-5: the money sanctions' lines, deductions and payable of the group's sanctioned organisations
    money_services.settle_chunk_adjustments_apply(kind=spec.kind, org_ids=money_ids, now=now)
    return statements, lines


def organisation_id_chunks(*, spec: KindSpec, period: dt.date, chunks: int,
                           region_prefix: str | None = None) -> list[tuple[int, int]]:
    """Id ranges covering every organisation of the kind whose inputs changed or whose draft has nothing left
    this month (a rerun with no new dispensing has none), split into about ``chunks`` groups of similar size (for progress and per-group transactions).

    R-SET-1: a run started by a bureau user covers that user's region only (``region_prefix``, the code prefix of
    the region and everything under it). Its ranges then hold only that region's organisations: a range never
    spans an organisation of another region, so no step of ``settle_chunk`` (which works on id ranges) touches
    another region's statements."""
    _, stmt, _ = _tables()
    col = spec.column
    with connection.cursor() as cur:
        # the organisations whose inputs changed, and the drafts of organisations with nothing left this month
        cur.execute(
            f"""SELECT org_id FROM {AGG} WHERE org_kind = %s AND changed = 1
                UNION SELECT s.{col} FROM {stmt} s WHERE s.period = %s AND s.organisation_kind = %s
                  AND s.{col} IS NOT NULL AND s.status = 'draft'
                  AND NOT EXISTS (SELECT 1 FROM {AGG} a WHERE a.org_kind = %s AND a.org_id = s.{col})""",
            [spec.kind, hot_sql.date_param(period), spec.kind, spec.kind],
        )
        ids = sorted(row[0] for row in cur.fetchall())
    if not ids:
        return []
    if region_prefix is None:
        size = max(1, -(-len(ids) // max(1, chunks)))
        return [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]
    model = money_services._org_model(spec.kind)
    every = list(model.objects.order_by("pk").values_list("pk", "region__code"))
    inside = {pk for pk, code in every if code.startswith(region_prefix)}
    wanted = set(ids) & inside
    if not wanted:
        return []
    return _ranges(every=[pk for pk, _code in every], inside=inside, wanted=wanted,
                   size=max(1, -(-len(wanted) // max(1, chunks))))


def _ranges(*, every: list[int], inside: set[int], wanted: set[int], size: int) -> list[tuple[int, int]]:
    """Id ranges (lo, hi) over ``every`` organisation id in order, holding the ``wanted`` ones: a range is cut at
    every organisation not ``inside`` the region (so no range spans another region's organisation) and after every
    ``size`` wanted ones."""
    ranges: list[tuple[int, int]] = []
    lo = hi = None
    count = 0
    for pk in every:
        if pk not in inside:
            if lo is not None:
                ranges.append((lo, hi))
            lo = hi = None
            count = 0
            continue
        if pk in wanted:
            lo = pk if lo is None else lo
            hi = pk
            count += 1
            if count == size:
                ranges.append((lo, hi))
                lo = hi = None
                count = 0
    if lo is not None:
        ranges.append((lo, hi))
    return ranges


def organisation_ranges(*, spec: KindSpec, groups: int, region_prefix: str | None = None) -> list[tuple[int, int]]:
    """Id ranges over every organisation of the kind (in ``region_prefix``'s region when given), about ``groups``
    of them with similar counts: the groups of a split run (R-SET-1, issue 16), each settled by its own task with
    its own snapshot (``month_snapshot(spec=…)``). Read from the organisation table, not the month's
    dispensings, so planning costs nothing at any volume; a group whose organisations changed nothing writes
    nothing. A range never spans an organisation outside the region (cut there), as ``organisation_id_chunks``."""
    model = money_services._org_model(spec.kind)
    every = list(model.objects.order_by("pk").values_list("pk", "region__code"))
    inside = [pk for pk, code in every if region_prefix is None or code.startswith(region_prefix)]
    if not inside:
        return []
    inside_set = set(inside)
    return _ranges(every=[pk for pk, _code in every], inside=inside_set, wanted=inside_set,
                   size=max(1, -(-len(inside) // max(1, groups))))


# --------------------------------------------------------------------------- tables by month (issue 16)
# Dispensings, their lines and statement lines are partitioned by month on PostgreSQL (``apps.core.partitions``):
# a month's settlement reads its dispensings and writes its lines in that month's partitions only.


def month_partitioned_tables() -> list[str]:
    """The tables partitioned by ``period``: dispensings, their lines, statement lines."""
    return [Dispensing._meta.db_table, DispensingLine._meta.db_table, StatementLine._meta.db_table]


def lines_partitioned() -> bool:
    """Whether the statement lines are a partitioned table (PostgreSQL, migration 0006)."""
    return partitions.is_partitioned(StatementLine._meta.db_table)


def ensure_month_partitions(periods) -> dict[str, list[dt.date]]:
    """Create the missing month partitions of every table partitioned by month for ``periods``, moving rows of
    those months out of the default partitions (``apps.core.partitions.ensure_month_partitions``). Returns the
    months created per table (only the tables that got one). Nothing to do on SQLite."""
    periods = list(periods)
    created = {table: partitions.ensure_month_partitions(table, periods) for table in month_partitioned_tables()}
    return {table: months for table, months in created.items() if months}


def ensure_statement_line_partitions(periods) -> list[dt.date]:
    """The statement lines' month partitions for ``periods`` (what a run writes; the dispensings' are the
    schedule's: a run does not move them, it may run in a transaction that wrote some)."""
    return partitions.ensure_month_partitions(StatementLine._meta.db_table, list(periods))


def default_partition_months() -> list[dt.date]:
    """Months with rows in a default partition (written before their month's partition was created)."""
    return sorted({month for table in month_partitioned_tables()
                   for month in partitions.default_partition_months(table)})
