"""What every rule returns: ``Finding`` (one alert to be), and the helpers the rule modules share."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.utils import timezone

FEN = Decimal("0.01")


def q2(value) -> Decimal:
    return Decimal(value or 0).quantize(FEN, rounding=ROUND_HALF_UP)


def month_bounds(period: dt.date) -> tuple[dt.date, dt.date]:
    """First day of ``period``'s month and the first day of the next month."""
    start = period.replace(day=1)
    nxt = (start + dt.timedelta(days=32)).replace(day=1)
    return start, nxt


def local_day(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def variety_key(generic_name: str, dosage_form: str) -> str:
    """A variety (品种) is a generic name in a dosage form (R-STK-2), whatever the manufacturer."""
    return f"{generic_name.strip()}|{dosage_form.strip()}"


@dataclass(frozen=True)
class Finding:
    """One finding of one rule: becomes one ``Alert`` (its ``key`` is the alert's unique ``finding_key``)."""

    rule: str
    key: str
    period: dt.date
    region_id: int
    institution_id: int | None = None
    pharmacy_id: int | None = None
    person_id: int | None = None
    physician_id: int | None = None
    amount: Decimal = Decimal("0.00")
    summary: str = ""
    evidence: dict = field(default_factory=dict, compare=False, hash=False)

    def identity(self) -> tuple:
        """What parity tests compare: the finding, its parties and its amount."""
        return (self.rule, self.key, self.period, self.region_id, self.institution_id, self.pharmacy_id,
                self.person_id, self.physician_id, q2(self.amount))


def fetch_dicts(sql: str, params) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


LOCAL_TZ = "Asia/Shanghai"

#: sort and hash memory of one batch rule's statement (PostgreSQL's default, 4 MB, and even 64 MB spill the
#: month's million rows to disk in several passes); set for the rule's transaction only — one batch runs at a
#: time (its own Celery queue)
BATCH_WORK_MEM = "256MB"


def batch_memory() -> None:
    """``SET LOCAL work_mem`` for the current transaction (PostgreSQL; inside ``transaction.atomic``)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL work_mem = '{BATCH_WORK_MEM}'")


#: the columns of a rule's finding query, in this order (one row = one ``Finding`` = one alert)
FINDING_COLUMNS = ("rule", "finding_key", "period", "region_id", "institution_id", "pharmacy_id", "person_id",
                   "physician_id", "amount", "summary", "evidence")


@dataclass(frozen=True)
class FindingQuery:
    """A rule's findings for a month as ONE PostgreSQL ``SELECT`` with ``FINDING_COLUMNS`` (``evidence`` a jsonb,
    ``summary`` the alert's text). The monthly batch inserts its rows straight into the alerts
    (``INSERT … SELECT … ON CONFLICT (finding_key)``, ``services.alerts_insert_from_query``: no finding passes
    through Python); ``findings()`` reads the same rows as ``Finding`` for the parity tests and the benchmark."""

    sql: str
    params: tuple = ()

    def findings(self) -> list[Finding]:
        cols = ", ".join(FINDING_COLUMNS)
        with transaction.atomic():
            batch_memory()
            rows = fetch_dicts(f"SELECT {cols} FROM ({self.sql}) AS q ORDER BY finding_key", self.params)
        return [Finding(rule=r["rule"], key=r["finding_key"], period=r["period"], region_id=r["region_id"],
                        institution_id=r["institution_id"], pharmacy_id=r["pharmacy_id"], person_id=r["person_id"],
                        physician_id=r["physician_id"], amount=q2(r["amount"]), summary=r["summary"],
                        evidence=_json(r["evidence"])) for r in rows]


def _json(value):
    if isinstance(value, (dict, list)) or value is None:
        return value
    import json

    return json.loads(value)


def local_day_sql(column: str) -> str:
    """PostgreSQL: the local (Asia/Shanghai) day of a timestamptz column (the batch SQL is PostgreSQL's)."""
    return f"(({column}) AT TIME ZONE '{LOCAL_TZ}')::date"
