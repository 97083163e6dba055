"""Issue 16 "Beyond one machine" on PostgreSQL: dispensings and their lines are partitioned by month like the
statement lines — partitions created ahead by the schedule for all three tables, rows in their month's partition,
the composite foreign key (dispensing_id, period) of the lines, the ORM's cascade and protect, a reversal counted in
the next month, and the migrations' rebuild of a plain table with data into a partitioned one and back."""
import datetime as dt

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from apps.core import partitions
from apps.prescriptions.models import Dispensing, DispensingLine, PatientYearUsage, TraceCode
from apps.prescriptions.services.dispensing import dispensing_reverse
from apps.settlement import services, settlement_sql
from apps.settlement.models import ReconciliationDifference, Statement, StatementLine
from tests import factories as f
from tests.partitions import drop_month_partitions, partitions_of, rows_in
from tests.settlement import factories as sf

NOV, DEC = dt.date(2026, 11, 1), dt.date(2026, 12, 1)
DISP, LINE = Dispensing._meta.db_table, DispensingLine._meta.db_table
STATEMENT_LINE = StatementLine._meta.db_table

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def no_month_partitions():
    drop_month_partitions()


def _plan(sql: str, params) -> str:
    with connection.cursor() as cur:
        cur.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cur.fetchall())


def test_issue_16_dispensings_lines_and_statement_lines_get_their_month_partitions_ahead_from_the_schedule(zhongwei):
    """On 2026-12-01 the daily task's service creates 2026-11 … 2027-03 for each of the three tables (five month
    partitions besides the default one); a second run creates nothing; the beat schedule runs the task."""
    for table in (DISP, LINE, STATEMENT_LINE):
        assert partitions.is_partitioned(table)
        assert partitions_of(table) == {f"{table}_default": "DEFAULT"}
    assert any(e["task"] == "apps.settlement.tasks.ensure_month_partitions"
               for e in settings.CELERY_BEAT_SCHEDULE.values())
    created = services.month_partitions_ensure(today=DEC)
    months = [NOV, DEC, dt.date(2027, 1, 1), dt.date(2027, 2, 1), dt.date(2027, 3, 1)]
    assert created == {DISP: months, LINE: months, STATEMENT_LINE: months}
    for table in (DISP, LINE):
        assert partitions_of(table)[f"{table}_p202702"] == "FOR VALUES FROM ('2027-02-01') TO ('2027-03-01')"
        assert partitions.partition_months(table) == months
    assert services.month_partitions_ensure(today=DEC) == {}


def test_issue_16_rows_land_in_their_month_partition_and_a_month_reads_its_own(zhongwei):
    """With November and December created ahead, a November and a December dispensing (and their lines) are
    written into their own month's partitions, ids from one sequence; a query on November names only November's
    partitions; the monthly settlement of November reads it and counts one dispensing."""
    services.month_partitions_ensure(today=DEC, ahead=0)
    pharmacy = f.PharmacyFactory()
    nov, dec = sf.dispensing(pharmacy=pharmacy, period=NOV), sf.dispensing(pharmacy=pharmacy, period=DEC)
    assert nov.pk != dec.pk
    assert rows_in(f"{DISP}_p202611") == 1 and rows_in(f"{DISP}_p202612") == 1 and rows_in(f"{DISP}_default") == 0
    assert rows_in(f"{LINE}_p202611") == 1 and rows_in(f"{LINE}_p202612") == 1 and rows_in(f"{LINE}_default") == 0
    assert list(DispensingLine.objects.filter(dispensing=nov).values_list("period", flat=True)) == [NOV]
    plan = _plan(f"SELECT count(*) FROM {DISP} d JOIN {LINE} l ON l.dispensing_id = d.id AND l.period = d.period "
                 f"WHERE d.period = %s", [NOV])
    assert f"{DISP}_p202611" in plan and f"{LINE}_p202611" in plan
    assert "p202612" not in plan and "_default" not in plan
    assert Dispensing.objects.get(pk=dec.pk).period == DEC  # a lookup by id alone still finds it
    assert services.settlement_run_now(period=NOV, clock=sf.clock).status == "succeeded"
    assert Statement.objects.get(period=NOV, pharmacy=pharmacy).line_count == 1


def test_issue_16_rows_written_before_their_partition_move_into_it_with_the_foreign_keys_kept(zhongwei):
    """November's dispensings and lines written while November had no partition sit in the default partitions;
    the schedule moves them into November's partitions (the lines' composite foreign key is dropped for the move
    and added back: it still refuses a line without its dispensing afterwards); nothing else changes."""
    pharmacy = f.PharmacyFactory()
    for _ in range(3):
        sf.dispensing(pharmacy=pharmacy, period=NOV)
    assert rows_in(f"{DISP}_default") == 3 and rows_in(f"{LINE}_default") == 3
    assert settlement_sql.default_partition_months() == [NOV]
    before = sorted(DispensingLine.objects.values_list("id", "dispensing_id", "period"))
    created = services.month_partitions_ensure(today=DEC)
    assert NOV in created[DISP] and NOV in created[LINE]
    assert rows_in(f"{DISP}_default") == 0 and rows_in(f"{LINE}_default") == 0
    assert rows_in(f"{DISP}_p202611") == 3 and rows_in(f"{LINE}_p202611") == 3
    assert sorted(DispensingLine.objects.values_list("id", "dispensing_id", "period")) == before
    with connection.cursor() as cur:
        cur.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f' "
                    "AND confrelid = %s::regclass", [LINE, DISP])
        assert [r[0] for r in cur.fetchall()] == ["prescriptions_dispensingline_dispensing_period_fk"]
    line = DispensingLine.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        DispensingLine.objects.filter(pk=line.pk).update(period=DEC)  # no such (dispensing, month)


def test_issue_16_a_line_for_a_missing_dispensing_or_another_month_is_refused(zhongwei):
    """The database refuses a line whose dispensing does not exist, and one that names its dispensing with
    another month than the dispensing's (the composite foreign key)."""
    services.month_partitions_ensure(today=DEC, ahead=0)
    d = sf.dispensing(pharmacy=f.PharmacyFactory(), period=NOV)
    line = DispensingLine.objects.get(dispensing=d)
    fields = dict(drug_id=line.drug_id, quantity=1, unit_price=1, line_total=1, payment_standard=1,
                  first_self_pay_ratio=0, reimbursement_ratio=0, first_self_pay=0, in_scope=1, fund_payment=0,
                  personal_payment=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        DispensingLine.objects.create(dispensing_id=d.pk + 10_000, period=NOV, **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        DispensingLine.objects.create(dispensing_id=d.pk, period=DEC, **fields)
    with pytest.raises(IntegrityError), transaction.atomic():  # a difference names a dispensing of its month
        ReconciliationDifference.objects.create(period=DEC, kind="quantity_mismatch", key="x", dispensing=d,
                                                detail="x", found_at=sf.AT)
    DispensingLine.objects.create(dispensing=d, period=d.period, **fields)
    assert DispensingLine.objects.filter(dispensing=d).count() == 2


def test_issue_16_the_orm_cascades_lines_and_protects_dispensings_with_codes_or_reversals(zhongwei):
    """Deleting a dispensing through the ORM deletes its lines (CASCADE) and its differences; the database alone
    refuses to delete a dispensing that still has lines; a dispensing whose line has a trace code, or that was
    reversed, is protected (PROTECT, held by the ORM where the database has no constraint)."""
    services.month_partitions_ensure(today=DEC, ahead=0)
    pharmacy = f.PharmacyFactory()
    plain, coded, reversed_ = (sf.dispensing(pharmacy=pharmacy, period=NOV) for _ in range(3))
    ReconciliationDifference.objects.create(period=NOV, kind="quantity_mismatch", key="d", dispensing=plain,
                                            detail="x", found_at=sf.AT)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"DELETE FROM {DISP} WHERE id = %s", [plain.pk])
    plain.delete()
    assert not DispensingLine.objects.filter(dispensing_id=plain.pk).exists()
    assert not ReconciliationDifference.objects.filter(key="d").exists()
    line = DispensingLine.objects.get(dispensing=coded)
    TraceCode.objects.create(code="1" * 20, line=line, drug_id=line.drug_id, pharmacy=pharmacy,
                             dispensed_at=coded.dispensed_at)
    with pytest.raises(ProtectedError):
        coded.delete()
    sf.reversal(reversed_, period=NOV)
    with pytest.raises(ProtectedError):
        reversed_.delete()
    assert Dispensing.objects.filter(pk__in=[coded.pk, reversed_.pk]).count() == 2


def test_r_rx_6_a_reversal_counted_in_the_next_month_lands_in_its_partition_and_still_reverses_once(zhongwei):
    """R-RX-6 across the month boundary: November's statement of the pharmacy is confirmed, so a reversal made on
    2026-11-25 counts in December — it and its lines are written in December's partitions, the original's trace
    code is released by it; a second reversal is refused although the database's unique key (reverses, period)
    holds within a month only (the service locks the original and looks across months)."""
    services.month_partitions_ensure(today=NOV, ahead=1)
    pharmacy = f.PharmacyFactory()
    original = sf.dispensing(pharmacy=pharmacy, period=NOV)
    line = DispensingLine.objects.get(dispensing=original)
    TraceCode.objects.create(code="2" * 20, line=line, drug_id=line.drug_id, pharmacy=pharmacy,
                             dispensed_at=original.dispensed_at)
    PatientYearUsage.objects.create(person_id=original.person_id, year=2026, deductible_met=original.deductible,
                                    fund_paid=original.fund_payment, dispensing_count=1)
    Statement.objects.create(organisation_kind="pharmacy", pharmacy=pharmacy, period=NOV,
                             status=Statement.Status.CONFIRMED, computed_at=sf.AT)
    now = dt.datetime(2026, 11, 25, 10, 0, tzinfo=sf.TZ)
    user = f.pharmacy_user(pharmacy)
    reversal = dispensing_reverse(dispensing=original, user=user, reason="单价录错", now=now)
    assert reversal.period == DEC and reversal.reverses_id == original.pk
    assert rows_in(f"{DISP}_p202612") == 1 and rows_in(f"{LINE}_p202612") == 1
    assert list(reversal.lines.values_list("period", "quantity")) == [(DEC, -line.quantity)]
    code = TraceCode.objects.get(code="2" * 20)
    assert code.released_by_id == reversal.pk and code.released_at == now
    from apps.core.exceptions import ApplicationError
    with pytest.raises(ApplicationError) as refused:
        dispensing_reverse(dispensing=original, user=user, reason="再次冲正", now=now)
    assert refused.value.code == "not_reversible"
    assert Dispensing.objects.filter(reverses=original).count() == 1


SCRATCH = "test_part_scratch"


def test_issue_16_the_migration_rebuild_keeps_rows_keys_indexes_and_the_sequence():
    """``repartition`` (what prescriptions 0004 runs on the dispensings and their lines) on a plain table with
    rows in two months: it becomes partitioned by month with (id, period) as key, a default partition and one
    per month, every row kept, its index, unique and foreign key constraints kept under their names, the next id
    continues after the old sequence; rebuilt back, it is a plain table with the same rows."""
    pharmacy = f.PharmacyFactory()
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {SCRATCH} CASCADE")
        cur.execute(f"""CREATE TABLE {SCRATCH} (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                            period date NOT NULL, pharmacy_id bigint NOT NULL
                                CONSTRAINT {SCRATCH}_pharmacy_fk REFERENCES pharmacies_pharmacy (id),
                            amount numeric(12, 2) NOT NULL DEFAULT 0 CONSTRAINT {SCRATCH}_positive CHECK (amount >= 0),
                            CONSTRAINT {SCRATCH}_once UNIQUE (pharmacy_id, amount, period))""")
        cur.execute(f"CREATE INDEX {SCRATCH}_period_idx ON {SCRATCH} (pharmacy_id, period)")
        cur.execute(f"""INSERT INTO {SCRATCH} (period, pharmacy_id, amount)
                        SELECT CASE WHEN g %% 2 = 0 THEN date '2026-10-01' ELSE date '2026-11-01' END, %s, g
                        FROM generate_series(1, 40) g""", [pharmacy.pk])
        cur.execute(f"DELETE FROM {SCRATCH} WHERE id = 40")  # the sequence is past the largest id kept
        cur.execute(f"SELECT id, period, pharmacy_id, amount FROM {SCRATCH} ORDER BY id")
        before = cur.fetchall()
        try:
            partitions.repartition(cur, SCRATCH, partitioned=True)
            assert partitions.is_partitioned(SCRATCH)
            assert set(partitions_of(SCRATCH)) == {f"{SCRATCH}_default", f"{SCRATCH}_p202610", f"{SCRATCH}_p202611"}
            cur.execute(f"SELECT id, period, pharmacy_id, amount FROM {SCRATCH} ORDER BY id")
            assert cur.fetchall() == before
            assert rows_in(f"{SCRATCH}_p202610") == 19 and rows_in(f"{SCRATCH}_default") == 0
            cur.execute("SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conrelid = %s::regclass ORDER BY conname", [SCRATCH])
            constraints = {name: (kind, definition) for name, kind, definition in cur.fetchall()}
            assert constraints[f"{SCRATCH}_pkey"] == ("p", "PRIMARY KEY (id, period)")
            assert constraints[f"{SCRATCH}_once"][0] == "u" and constraints[f"{SCRATCH}_pharmacy_fk"][0] == "f"
            assert constraints[f"{SCRATCH}_positive"][0] == "c"
            cur.execute("SELECT 1 FROM pg_indexes WHERE tablename = %s AND indexname = %s",
                        [SCRATCH, f"{SCRATCH}_period_idx"])
            assert cur.fetchone()
            cur.execute(f"INSERT INTO {SCRATCH} (period, pharmacy_id) VALUES ('2026-12-01', %s) RETURNING id",
                        [pharmacy.pk])
            assert cur.fetchone()[0] == 41  # ids continue from the old sequence, never reused
            assert rows_in(f"{SCRATCH}_default") == 1
            with pytest.raises(IntegrityError), transaction.atomic():
                cur.execute(f"INSERT INTO {SCRATCH} (period, pharmacy_id) VALUES ('2026-12-01', %s)", [-1])
            partitions.repartition(cur, SCRATCH, partitioned=False)
            assert not partitions.is_partitioned(SCRATCH)
            cur.execute(f"SELECT count(*), max(id) FROM {SCRATCH}")
            assert cur.fetchone() == (40, 41)
            cur.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s",
                        [f"{SCRATCH}_pkey"])
            assert cur.fetchone()[0] == "PRIMARY KEY (id)"
        finally:
            cur.execute(f"DROP TABLE IF EXISTS {SCRATCH} CASCADE")
