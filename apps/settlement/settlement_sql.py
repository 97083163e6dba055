"""The set-based core of the monthly settlement (R-SET-1): a few INSERT … SELECT statements per group of
organisations, never a Python loop over dispensings. Written in SQL understood by both PostgreSQL and SQLite.

Which organisation a dispensing is settled with: a delivery to a hospital ward (inpatient, R-RX-7) is settled
by the fund with the institution, which pays the pharmacy by the 10th of the next month (000 五(三), R-SET-2);
every other dispensing is settled with the pharmacy that dispensed it. Only directly settled dispensings
(``settlement = 'direct'``) are on statements: self-paid ones are claimed by the patient (R-PAY-5).

Amounts are summed in SQL (exact ``numeric`` on PostgreSQL) and the 5 % deposit is computed in whole fen with
integer arithmetic, rounding half-up (away from zero), so both databases give the same figures to the fen.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from apps.prescriptions.models import Dispensing
from apps.settlement.models import OrganisationKind, Statement, StatementLine

DEPOSIT_PERCENT = 5  # 000 附件2 第二条: 5 % quality deposit withheld from the fund payment


@dataclass(frozen=True)
class KindSpec:
    kind: str
    column: str  # the dispensing's and the statement's FK column
    delivery_filter: str  # SQL condition on the dispensing ``d``


KINDS = (
    KindSpec(OrganisationKind.INSTITUTION, "institution_id", "d.delivery = 'ward'"),
    KindSpec(OrganisationKind.PHARMACY, "pharmacy_id", "d.delivery <> 'ward'"),
)


def _tables():
    return Dispensing._meta.db_table, Statement._meta.db_table, StatementLine._meta.db_table


def settle_chunk(*, spec: KindSpec, period: dt.date, lo: int, hi: int, run_id: int | None, now) -> tuple[int, int]:
    """Recompute the draft statements of organisations with ``lo <= id <= hi`` of one kind for ``period``.
    Must run inside a transaction: the caller commits the chunk as a whole (nothing half-written).
    Returns (statements written, lines written)."""
    disp, stmt, line = _tables()
    col = spec.column
    other = "pharmacy_id" if col == "institution_id" else "institution_id"
    params = {"period": connection.ops.adapt_datefield_value(period), "lo": lo, "hi": hi, "run": run_id, "kind": spec.kind,
              "now": connection.ops.adapt_datetimefield_value(now)}
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # A chunk is recomputable, so it need not wait for its WAL to reach the disk: a crash can lose the
            # last committed chunks, never half of one, and the next run writes them again.
            cur.execute("SET LOCAL synchronous_commit TO OFF")
        # 1. drop the lines of this chunk's drafts (confirmed statements are locked and left alone)
        cur.execute(
            f"""DELETE FROM {line} WHERE statement_id IN (
                    SELECT s.id FROM {stmt} s WHERE s.period = %(period)s AND s.organisation_kind = %(kind)s
                    AND s.status = 'draft' AND s.{col} BETWEEN %(lo)s AND %(hi)s)""",
            params,
        )
        # 2. one aggregate per organisation, upserted so a statement keeps its id across reruns
        cur.execute(
            f"""INSERT INTO {stmt} (organisation_kind, {col}, {other}, period, visits, total, fund_payment,
                                   personal_payment, deposit, payable, status, run_id, computed_at)
                SELECT %(kind)s, agg.org_id, CAST(NULL AS BIGINT), %(period)s, agg.visits, agg.total, agg.fund, agg.personal,
                       agg.deposit_fen / 100.0, (agg.fund_fen - agg.deposit_fen) / 100.0, 'draft', CAST(%(run)s AS BIGINT), %(now)s
                FROM (
                    SELECT x.org_id, x.visits, x.total, x.fund, x.personal, x.fund_fen,
                           CASE WHEN x.fund_fen >= 0 THEN (x.fund_fen * {DEPOSIT_PERCENT} + 50) / 100
                                ELSE -((-x.fund_fen * {DEPOSIT_PERCENT} + 50) / 100) END AS deposit_fen
                    FROM (
                        SELECT d.{col} AS org_id,
                               SUM(CASE WHEN d.kind = 'normal' THEN 1 ELSE -1 END) AS visits,
                               SUM(d.total) AS total, SUM(d.fund_payment) AS fund,
                               SUM(d.personal_payment) AS personal,
                               CAST(ROUND(SUM(d.fund_payment) * 100) AS BIGINT) AS fund_fen
                        FROM {disp} d
                        WHERE d.period = %(period)s AND d.settlement = 'direct' AND {spec.delivery_filter}
                          AND d.{col} BETWEEN %(lo)s AND %(hi)s
                          AND NOT EXISTS (SELECT 1 FROM {stmt} c WHERE c.{col} = d.{col} AND c.period = %(period)s
                                          AND c.status = 'confirmed')
                        GROUP BY d.{col}
                    ) x
                ) agg
                WHERE 1 = 1
                ON CONFLICT ({col}, period) WHERE {col} IS NOT NULL DO UPDATE SET
                    visits = excluded.visits, total = excluded.total, fund_payment = excluded.fund_payment,
                    personal_payment = excluded.personal_payment, deposit = excluded.deposit,
                    payable = excluded.payable, run_id = excluded.run_id, computed_at = excluded.computed_at
                WHERE {stmt}.status = 'draft'""",
            params,
        )
        statements = cur.rowcount
        # 3. drafts whose organisation has nothing left this month (e.g. every dispensing moved) disappear
        cur.execute(
            f"""DELETE FROM {stmt} WHERE period = %(period)s AND organisation_kind = %(kind)s AND status = 'draft'
                AND {col} BETWEEN %(lo)s AND %(hi)s AND computed_at <> %(now)s""",
            params,
        )
        # 4. the lines: every dispensing of the month on its organisation's draft statement
        cur.execute(
            f"""INSERT INTO {line} (statement_id, dispensing_id)
                SELECT s.id, d.id FROM {disp} d
                JOIN {stmt} s ON s.{col} = d.{col} AND s.period = d.period
                WHERE d.period = %(period)s AND d.settlement = 'direct' AND {spec.delivery_filter}
                  AND d.{col} BETWEEN %(lo)s AND %(hi)s AND s.status = 'draft'""",
            params,
        )
        lines = cur.rowcount
    return statements, lines


def organisation_id_chunks(*, spec: KindSpec, period: dt.date, chunks: int) -> list[tuple[int, int]]:
    """Id ranges covering every organisation that has dispensings or a statement this month, split into about
    ``chunks`` groups of similar size (for progress and per-group transactions)."""
    disp, stmt, _ = _tables()
    col = spec.column
    with connection.cursor() as cur:
        cur.execute(
            f"""SELECT DISTINCT {col} FROM {disp} d WHERE d.period = %s AND {spec.delivery_filter}
                UNION SELECT {col} FROM {stmt} WHERE period = %s AND organisation_kind = %s AND {col} IS NOT NULL""",
            [period, period, spec.kind],
        )
        ids = sorted(row[0] for row in cur.fetchall())
    if not ids:
        return []
    size = max(1, -(-len(ids) // max(1, chunks)))
    return [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]
