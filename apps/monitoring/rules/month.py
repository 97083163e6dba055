"""The monthly batch's shared pass (PostgreSQL, issue 12 §Speed): the month's live dispensing lines read ONCE into
an UNLOGGED table with exactly the columns the line rules need (R-MON-1, -2, -3, -5, -6, -9), joined once with the
dispensing, prescription, prescription item, drug, pharmacy, institution and their regions; the rules' finding
queries then read that narrow table instead of each joining and scanning the month on its own.

Live line: a line of a normal dispensing that no reversal reverses (as ``rows._live_lines``). The table holds the
live lines counted in the month (``in_month``) plus, for R-MON-5, the live lines dispensed in the ``LOOKBACK_DAYS``
(+1, as a UTC bound) before the month began and counted in an earlier month (the supplies still running).

UNLOGGED, not TEMP: a run split into Celery groups (``apps.monitoring.tasks``) builds it once and its groups read it
from other sessions, other workers. It is named after its run (``month_table_name``) and dropped when the run ends;
a rerun of the same run drops a leftover of a killed one first.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection, transaction

from apps.monitoring.rules.base import LOCAL_TZ, batch_memory, month_bounds

#: R-RX-2: no prescription supplies more than 84 days, so nothing older can still be running (R-MON-5)
LOOKBACK_DAYS = 84
PREFIX = "monitoring_month_"


def lookback_since(start: dt.date) -> dt.datetime:
    """The earliest dispensing moment R-MON-5 reads for the month beginning ``start`` (a UTC bound one day wider
    than the 84 local days)."""
    return dt.datetime.combine(start - dt.timedelta(days=LOOKBACK_DAYS + 1), dt.time.min, tzinfo=dt.timezone.utc)


def month_table_name(run_id: int | None = None) -> str:
    return f"{PREFIX}run_{int(run_id)}" if run_id is not None else f"{PREFIX}{uuid.uuid4().hex[:16]}"


def _quoted(name: str) -> str:
    if not name.startswith(PREFIX) or not name.replace("_", "").isalnum():
        raise ValueError(f"not a month table: {name!r}")
    return connection.ops.quote_name(name)


def month_table_build(name: str, period: dt.date) -> int:
    """(Re)build the month table ``name`` for ``period``: one pass over the month's lines (and the lookback's),
    indexed for R-MON-5's per-patient join and R-MON-6's evidence, analysed. Returns its rows."""
    start, _ = month_bounds(period)
    since = lookback_since(start)
    # a dispensing counts in the first open month from its day (``first_open_period``), never an earlier one:
    # lines dispensed since ``since`` are in months from since's month on — the period index bounds the lookback
    earliest_period, _ = month_bounds(since.date())
    table = _quoted(name)
    day = f"(d.dispensed_at AT TIME ZONE '{LOCAL_TZ}')::date"
    issued = f"(p.issued_at AT TIME ZONE '{LOCAL_TZ}')::date"
    with transaction.atomic():
        batch_memory()
        with connection.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.execute(f"""
                CREATE UNLOGGED TABLE {table} AS
                WITH variety AS (
                  SELECT id AS drug_id, min(id) OVER (PARTITION BY generic_name, dosage_form) AS variety_id,
                         therapeutic_area_id
                  FROM catalogue_drug),
                region AS (SELECT id, substr(code, 1, 4) || '00' AS city FROM core_region)
                SELECT l.id AS line_id, d.id AS dispensing_id, d.prescription_id, d.period, d.dispensed_at,
                       {day} AS day, d.period = %s AS in_month, d.person_id, d.care_setting,
                       d.pharmacy_id, ph.region_id AS pharmacy_region_id, phr.city AS pharmacy_city,
                       d.institution_id, i.region_id AS institution_region_id, ir.city AS institution_city,
                       p.physician_id, {issued} AS issued_on,
                       l.drug_id, v.variety_id, v.therapeutic_area_id, l.quantity, l.unit_price,
                       l.fund_payment AS fund, coalesce(it.days_supply, 0) AS days_supply
                FROM prescriptions_dispensing d
                JOIN prescriptions_dispensingline l ON l.dispensing_id = d.id
                JOIN prescriptions_prescription p ON p.id = d.prescription_id
                JOIN variety v ON v.drug_id = l.drug_id
                JOIN pharmacies_pharmacy ph ON ph.id = d.pharmacy_id
                JOIN region phr ON phr.id = ph.region_id
                LEFT JOIN institutions_institution i ON i.id = d.institution_id
                LEFT JOIN region ir ON ir.id = i.region_id
                LEFT JOIN prescriptions_prescriptionitem it
                       ON it.prescription_id = d.prescription_id AND it.drug_id = l.drug_id
                WHERE d.kind = 'normal'
                  AND (d.period = %s OR (d.period < %s AND d.period >= %s AND d.dispensed_at >= %s))
                  AND NOT EXISTS (SELECT 1 FROM prescriptions_dispensing r WHERE r.reverses_id = d.id)""",
                        [start, start, start, earliest_period, since])
            rows = cur.rowcount
            index = name[len(PREFIX):]
            cur.execute(f"CREATE INDEX {PREFIX}{index}_person ON {table} (person_id, variety_id)")
            cur.execute(f"ANALYZE {table}")
    return rows


def month_table_drop(name: str) -> None:
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {_quoted(name)}")


@contextmanager
def month_table(period: dt.date, *, run_id: int | None = None) -> Iterator[str]:
    """Build the month table, yield its name, drop it afterwards (a failed transaction that created it has
    already rolled it back)."""
    name = month_table_name(run_id)
    month_table_build(name, period)
    try:
        yield name
    finally:
        if not connection.needs_rollback:
            try:
                month_table_drop(name)
            except DatabaseError:
                if not connection.in_atomic_block:
                    raise


def city_filter(column: str, cities) -> str:
    """`` AND column IN (…)`` restricting a rule's input to the pooling cities of one group of a split run
    (``None``: every city). City codes are the regions' own six digits (``substr(code, 1, 4) || '00'``)."""
    if cities is None:
        return ""
    cities = sorted(set(cities))
    if not all(isinstance(c, str) and c.isdigit() and len(c) == 6 for c in cities):
        raise ValueError(f"not city codes: {cities!r}")
    if not cities:
        return " AND false"
    return f" AND {column} IN ({', '.join(repr(c) for c in cities)})"


def region_city_filter(column: str, cities) -> str:
    """The same for a column holding a region id (the region's pooling city)."""
    if cities is None:
        return ""
    inner = city_filter("substr(code, 1, 4) || '00'", cities)
    return f" AND {column} IN (SELECT id FROM core_region WHERE true{inner})"
