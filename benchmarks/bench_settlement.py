"""Monthly settlement and the monthly report at a province's volume (R-SET-1, R-SET-3).

    .venv/bin/python -m benchmarks settlement [--rows=1000000] [--small=100000] [--loop=50000] [--reuse]

``--loop=0`` skips the ORM comparison.

    .venv/bin/python -m benchmarks settlement --months=12 [--rows=100000]

``--months=N`` (issue 16 "Beyond one machine"): N consecutive months of ``--rows`` dispensings each (December 2025 …
November 2026 for 12), settled one after the other as the schedule would, and the first month's settlement and
report (no history) compared with the last one's (N − 1 months of statements and lines already online): with the
dispensings, their lines and the statement lines partitioned by month, the ratio stays about 1. ``--reuse`` keeps the database of an earlier run (and its generated months) instead of generating again.

On a fresh PostgreSQL database of its own: a province of 14 cities and 112 counties, 320 institutions, 3,200
pharmacies, 120 negotiated drugs, 200,000 insured persons; one month (November 2026) of ``--rows`` dispensings
with their prescriptions and lines (2 % ward deliveries, 1 % reversals), and ``--small`` in October. The data is
generated inside PostgreSQL with ``INSERT … SELECT generate_series`` (no Python rows).

Timed: the settlement of the small month and of the big month (memory must not grow with the row count), a
rerun of the big month (idempotent), the monthly report (JSON and Excel), and the same settlement done by a
per-row ORM loop over ``--loop`` dispensings (rolled back), extrapolated to the big month.
The floor is measured in the same run (``floor_seconds``: GROUP BY per organisation + writing the line rows) and
each November figure is printed as a ratio to it with the load average. Targets (issue 16): settlement ≤ 3× the
floor, a rerun with no new dispensing ≤ 1× (it writes nothing), memory flat; report ≤ 10 s.
"""
from __future__ import annotations

import datetime as dt
import io
import os
import time
from decimal import Decimal

from benchmarks.setup import django_on_fresh_database, peak_rss_mib

CITIES, COUNTIES_PER_CITY = 14, 8
INSTITUTIONS, PHARMACIES, DRUGS, PERSONS = 320, 3200, 120, 200_000


def _options(argv):
    opts = {"rows": 1_000_000, "small": 100_000, "loop": 50_000, "reuse": 0, "months": 1}
    for arg in argv:
        if arg == "--reuse":
            opts["reuse"] = 1
        if arg.startswith("--") and "=" in arg:
            key, value = arg[2:].split("=", 1)
            if key in opts:
                opts[key] = int(value.replace("_", ""))
    return opts


def current_rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _registries():
    from apps.catalogue.models import Drug, PaymentStandard, TherapeuticArea
    from apps.core.models import DesignationStatus, Region
    from apps.institutions.models import Institution
    from apps.pharmacies.models import Pharmacy
    from apps.physicians.models import Physician
    from apps.policies.services import policy_create_from_preset

    province = Region.objects.create(code="990000", name="基准省", level="province")
    cities = Region.objects.bulk_create([Region(code=f"99{c:02d}00", name=f"基准市{c}", level="city", parent=province)
                                         for c in range(1, CITIES + 1)])
    counties = Region.objects.bulk_create([
        Region(code=f"99{c:02d}{k:02d}", name=f"基准县{c}-{k}", level="county", parent=city)
        for c, city in enumerate(cities, start=1) for k in range(1, COUNTIES_PER_CITY + 1)])
    policy = policy_create_from_preset(region=province, preset="zhongwei-2021", valid_from=dt.date(2021, 1, 1))
    areas = list(TherapeuticArea.objects.all())
    start = dt.date(2026, 1, 1)
    drugs = Drug.objects.bulk_create([
        Drug(code=f"XB{n:021d}", generic_name=f"基准药{n}", dosage_form="片剂", specification="10mg*30片",
             manufacturer=f"基准药业{n % 17}", therapeutic_area=areas[n % len(areas)],
             route="injection" if n % 4 == 0 else "oral", payment_standard=Decimal(100 + n * 37),
             first_self_pay_ratio=Decimal("0.1000"), agreement_start=start, agreement_end=dt.date(2027, 12, 31))
        for n in range(1, DRUGS + 1)])
    PaymentStandard.objects.bulk_create([PaymentStandard(drug=d, amount=d.payment_standard, valid_from=start)
                                         for d in drugs])
    institutions = Institution.objects.bulk_create([
        Institution(code=f"HB{n:08d}", name=f"基准医院{n}", region=counties[n % len(counties)], level=3 if n % 5 == 0 else 2,
                    status=DesignationStatus.ADMITTED, kind="treating")
        for n in range(1, INSTITUTIONS + 1)])
    Pharmacy.objects.bulk_create([
        Pharmacy(code=f"PB{n:08d}", name=f"基准药房{n}", region=counties[n % len(counties)], status=DesignationStatus.ADMITTED)
        for n in range(1, PHARMACIES + 1)])
    Physician.objects.bulk_create([
        Physician(code=f"DB{n:08d}", name=f"基准医师{n}", institution=inst, department="内科", title="chief",
                  status="filed", filed_on=start)
        for n, inst in enumerate(institutions, start=1)])
    return policy


def _generate(*, period: dt.date, rows: int, offset: int, policy_id: int):
    """``rows`` prescriptions, dispensings and lines of ``period`` (ids after ``offset``), generated in SQL, into
    the month's partitions (created first, as the schedule would have)."""
    from django.db import connection

    from apps.settlement import settlement_sql

    settlement_sql.ensure_month_partitions([period])

    params = {"period": period, "n": rows, "off": offset, "policy": policy_id,
              "start": dt.datetime(period.year, period.month, 1, 1, 0, tzinfo=dt.timezone.utc)}
    with connection.cursor() as cur:
        cur.execute("SELECT min(id), count(*) FROM institutions_institution")
        inst_min, inst_n = cur.fetchone()
        cur.execute("SELECT min(id), count(*) FROM pharmacies_pharmacy")
        pha_min, pha_n = cur.fetchone()
        cur.execute("SELECT min(id), count(*) FROM catalogue_drug")
        drug_min, drug_n = cur.fetchone()
        cur.execute("SELECT min(id), count(*) FROM applications_insuredperson")
        person_min, person_n = cur.fetchone()
        cur.execute("SELECT min(id) FROM physicians_physician")
        phys_min = cur.fetchone()[0]
        params.update(inst_min=inst_min, inst_n=inst_n, pha_min=pha_min, pha_n=pha_n, drug_min=drug_min,
                      drug_n=drug_n, person_min=person_min, person_n=person_n, phys_min=phys_min)
        cur.execute("""
            INSERT INTO prescriptions_prescription (id, institution_id, serial_no, person_id, physician_id, pharmacy_id,
                issued_at, long_term, care_setting, delivery, signature, status, expires_at, content_hash,
                cancel_reason, decline_reason, decline_note, created_at)
            SELECT %(off)s + g, %(inst_min)s + (g %% %(inst_n)s), 'RXB' || (%(off)s + g), %(person_min)s + (g %% %(person_n)s),
                   %(phys_min)s + (g %% %(inst_n)s), %(pha_min)s + ((g * 7) %% %(pha_n)s),
                   %(start)s + (g %% 27) * interval '1 day', false,
                   CASE WHEN g %% 50 = 0 THEN 'inpatient' ELSE 'outpatient' END,
                   CASE WHEN g %% 50 = 0 THEN 'ward' ELSE 'pickup' END, 'sig', 'dispensed',
                   %(start)s + (g %% 27 + 3) * interval '1 day', 'h', '', '', '', now()
            FROM generate_series(1, %(n)s) g""", params)
        cur.execute("""
            INSERT INTO prescriptions_dispensing (id, prescription_id, pharmacy_id, institution_id, person_id,
                insurance_type, insured_region_id, policy_id, care_setting, settlement, dispensed_at, period, kind,
                total, first_self_pay, in_scope, deductible, fund_payment, personal_payment, deductible_met_before,
                fund_paid_before, delivery, created_at)
            SELECT p.id, p.id, p.pharmacy_id, p.institution_id, p.person_id, ip.insurance_type, ip.insured_region_id,
                   %(policy)s, p.care_setting, 'direct', p.issued_at + interval '5 hours', %(period)s, 'normal',
                   c.total, c.fsp, c.total - c.fsp, 0, round((c.total - c.fsp) * c.ratio, 2),
                   c.total - round((c.total - c.fsp) * c.ratio, 2), 0, 0, p.delivery, now()
            FROM prescriptions_prescription p
            JOIN applications_insuredperson ip ON ip.id = p.person_id
            CROSS JOIN LATERAL (
                SELECT d.payment_standard * (1 + p.id %% 3) AS total,
                       round(d.payment_standard * (1 + p.id %% 3) * 0.10, 2) AS fsp,
                       CASE WHEN ip.insurance_type = 'employee' THEN 0.75 ELSE 0.60 END AS ratio
                FROM catalogue_drug d WHERE d.id = %(drug_min)s + (p.id %% %(drug_n)s)
            ) c
            WHERE p.id > %(off)s AND p.id <= %(off)s + %(n)s""", params)
        cur.execute("""
            INSERT INTO prescriptions_prescriptionitem (prescription_id, drug_id, quantity, days_supply)
            SELECT p.id, %(drug_min)s + (p.id %% %(drug_n)s), 1 + p.id %% 3, 30
            FROM prescriptions_prescription p WHERE p.id > %(off)s AND p.id <= %(off)s + %(n)s""", params)
        cur.execute("""
            INSERT INTO prescriptions_dispensingline (dispensing_id, period, drug_id, quantity, unit_price, line_total,
                payment_standard, first_self_pay_ratio, reimbursement_ratio, first_self_pay, in_scope, fund_payment,
                personal_payment)
            SELECT d.id, d.period, %(drug_min)s + (d.id %% %(drug_n)s), 1 + d.id %% 3, dr.payment_standard, d.total,
                   dr.payment_standard, 0.1, CASE WHEN d.insurance_type = 'employee' THEN 0.75 ELSE 0.60 END,
                   d.first_self_pay, d.in_scope, d.fund_payment, d.personal_payment
            FROM prescriptions_dispensing d JOIN catalogue_drug dr ON dr.id = %(drug_min)s + (d.id %% %(drug_n)s)
            WHERE d.id > %(off)s AND d.id <= %(off)s + %(n)s AND d.period = %(period)s""", params)
        # 1 % reversals (冲正) in the same month, same figures negated
        cur.execute("""
            INSERT INTO prescriptions_dispensing (id, prescription_id, pharmacy_id, institution_id, person_id,
                insurance_type, insured_region_id, policy_id, care_setting, settlement, dispensed_at, period, kind,
                reverses_id, total, first_self_pay, in_scope, deductible, fund_payment, personal_payment,
                deductible_met_before, fund_paid_before, delivery, created_at)
            SELECT 900000000 + d.id, d.prescription_id, d.pharmacy_id, d.institution_id, d.person_id, d.insurance_type,
                   d.insured_region_id, d.policy_id, d.care_setting, d.settlement, d.dispensed_at + interval '1 hour',
                   d.period, 'reversal', d.id, -d.total, -d.first_self_pay, -d.in_scope, -d.deductible,
                   -d.fund_payment, -d.personal_payment, 0, 0, d.delivery, now()
            FROM prescriptions_dispensing d WHERE d.id > %(off)s AND d.id <= %(off)s + %(n)s AND d.id %% 100 = 7
              AND d.period = %(period)s""",
                    params)
        cur.execute("""
            INSERT INTO prescriptions_dispensingline (dispensing_id, period, drug_id, quantity, unit_price, line_total,
                payment_standard, first_self_pay_ratio, reimbursement_ratio, first_self_pay, in_scope, fund_payment,
                personal_payment)
            SELECT 900000000 + l.dispensing_id, l.period, l.drug_id, -l.quantity, l.unit_price, -l.line_total,
                   l.payment_standard, l.first_self_pay_ratio, l.reimbursement_ratio, -l.first_self_pay, -l.in_scope,
                   -l.fund_payment, -l.personal_payment
            FROM prescriptions_dispensingline l
            WHERE l.dispensing_id > %(off)s AND l.dispensing_id <= %(off)s + %(n)s AND l.dispensing_id %% 100 = 7
              AND l.period = %(period)s""",
                    params)
        cur.execute("ANALYZE")


def _persons():
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT id FROM core_region WHERE level = 'county' ORDER BY id")
        county_ids = [r[0] for r in cur.fetchall()]
        # ID numbers are stored encrypted with their keyed digest (PIPL): computed here, copied in with the rows
        from apps.core import crypto, sql as hot_sql
        from apps.core.fields import digest_value

        buffer = io.StringIO()
        for g in range(1, PERSONS + 1):
            number = str(g).rjust(18, "0")
            buffer.write(f"{g}\t{crypto.encrypt(number, kind='id_number')}\t"
                         f"{digest_value(number, kind='id_number')}\t{digest_value(number, kind='id_number', tail=4)}\n")
        buffer.seek(0)
        cur.execute("CREATE TEMP TABLE bench_ids (g integer, id_number text, digest text, tail text)")
        hot_sql.copy_from(cur, "COPY bench_ids (g, id_number, digest, tail) FROM STDIN", buffer)
        cur.execute("""
            INSERT INTO applications_insuredperson (created_at, updated_at, id_number, id_number_digest,
                id_number_tail_digest, name, sex, birth_date, insurance_type, insured_region_id, phone, card_number,
                employer)
            SELECT now(), now(), b.id_number, b.digest, b.tail, '参保人' || g, CASE WHEN g %% 2 = 0 THEN 'male' ELSE 'female' END,
                   date '1950-01-01' + (g %% 20000), CASE WHEN g %% 3 = 0 THEN 'resident' ELSE 'employee' END,
                   (%s::bigint[])[1 + g %% %s], '', '', ''
            FROM bench_ids b ORDER BY g""", [county_ids, len(county_ids)])
        cur.execute("DROP TABLE bench_ids")


def orm_loop_settlement(*, period: dt.date, limit: int) -> tuple[float, int]:
    """The naive way, for comparison: one ORM round trip per dispensing (rolled back afterwards)."""
    from django.db import transaction
    from django.utils import timezone

    from apps.prescriptions.models import Dispensing
    from apps.settlement.models import Statement, StatementLine

    started = time.perf_counter()
    with transaction.atomic():
        Statement.objects.filter(period=period).delete()
        now = timezone.now()
        count = 0
        for d in Dispensing.objects.filter(period=period, settlement="direct").order_by("id")[:limit].iterator():
            if d.delivery == "ward":
                statement, _ = Statement.objects.get_or_create(
                    institution_id=d.institution_id, period=period,
                    defaults={"organisation_kind": "institution", "computed_at": now})
            else:
                statement, _ = Statement.objects.get_or_create(
                    pharmacy_id=d.pharmacy_id, period=period,
                    defaults={"organisation_kind": "pharmacy", "computed_at": now})
            statement.visits += 1 if d.kind == "normal" else -1
            statement.total += d.total
            statement.fund_payment += d.fund_payment
            statement.personal_payment += d.personal_payment
            statement.deposit = (statement.fund_payment * Decimal("0.05")).quantize(Decimal("0.01"))
            statement.payable = statement.fund_payment - statement.deposit
            statement.save()
            StatementLine.objects.create(statement=statement, dispensing=d, period=period)
            count += 1
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed, count


def floor_seconds(period: dt.date) -> tuple[float, float]:
    """The floor measured in the same run (issue 16): one GROUP BY per organisation over the month's directly
    settled dispensings, and writing one row per dispensing into a table shaped like the statement lines (same
    primary key and index, committed without waiting for the disk like the run's groups), dropped afterwards."""
    from django.db import connection, transaction

    with connection.cursor() as cur:
        t = time.perf_counter()
        cur.execute("""CREATE TEMPORARY TABLE bench_floor_agg AS
            SELECT CASE WHEN delivery = 'ward' THEN institution_id ELSE pharmacy_id END AS org_id, delivery = 'ward' AS ward,
                   COUNT(*) AS n, SUM(total) AS total, SUM(fund_payment) AS fund, SUM(personal_payment) AS personal
            FROM prescriptions_dispensing WHERE period = %s AND settlement = 'direct' GROUP BY 1, 2""", [period])
        group_by = time.perf_counter() - t
        cur.execute("DROP TABLE bench_floor_agg")
        cur.execute("DROP TABLE IF EXISTS bench_floor_lines")
        # shaped like one month's partition of the lines (their columns, primary key and index)
        cur.execute("CREATE TABLE bench_floor_lines (LIKE settlement_statementline INCLUDING ALL)")
    t = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL synchronous_commit TO OFF")
        cur.execute("""INSERT INTO bench_floor_lines (dispensing_id, statement_id, period)
            SELECT id, CASE WHEN delivery = 'ward' THEN institution_id ELSE pharmacy_id END, period
            FROM prescriptions_dispensing WHERE period = %s AND settlement = 'direct'""", [period])
    writing = time.perf_counter() - t
    with connection.cursor() as cur:
        cur.execute("DROP TABLE bench_floor_lines")
    return group_by, writing


def months_mode(opts: dict) -> None:
    """``--months=N``: year one against year N/12 — the same month's work with and without the history online."""
    from django.db import connection
    from django.utils import timezone

    from apps.prescriptions.models import Dispensing
    from apps.settlement import services, settlement_sql
    from apps.settlement.periods import next_period, previous_period
    from apps.settlement.selectors import monthly_report

    last = dt.date(2026, 11, 1)
    months = [last]
    while len(months) < opts["months"]:
        months.insert(0, previous_period(months[0]))
    t = time.perf_counter()
    if not (opts["reuse"] and Dispensing.objects.filter(period=months[0]).exists()):
        policy = _registries()
        _persons()
        for k, period in enumerate(months):
            _generate(period=period, rows=opts["rows"], offset=k * opts["rows"], policy_id=policy.pk)
            print(f"  generated {period:%Y-%m}: {time.perf_counter() - t:.0f} s", flush=True)
    if opts["reuse"]:  # the months are settled from nothing again (in SQL: no per-row audit of a bulk reset)
        with connection.cursor() as cur:
            cur.execute("DELETE FROM settlement_statementline WHERE period = ANY(%s)", [months])
            cur.execute("DELETE FROM settlement_statement WHERE period = ANY(%s)", [months])
    created = settlement_sql.ensure_month_partitions([*months, next_period(last)])
    with connection.cursor() as cur:
        cur.execute("""SELECT p.relname, count(*) FROM pg_partitioned_table t JOIN pg_class p ON p.oid = t.partrelid
                       JOIN pg_inherits i ON i.inhparent = p.oid GROUP BY p.relname ORDER BY 1""")
        partitioned = ", ".join(f"{name} ({n} partitions)" for name, n in cur.fetchall()) or "none"
    print(f"{len(months)} months of {opts['rows']:,} dispensings ready in {time.perf_counter() - t:.1f} s; "
          f"{sum(len(m) for m in created.values())} month partitions created now; partitioned by month: {partitioned}",
          flush=True)
    timings = {}
    for period in months:
        t = time.perf_counter()
        run = services.settlement_run_now(period=period, clock=timezone.now)
        timings[period] = time.perf_counter() - t
        assert run.status == "succeeded", run.error
        print(f"settlement {period:%Y-%m}: {timings[period]:.1f} s, {run.lines_written:,} lines "
              f"(history online: {months.index(period)} months), peak {peak_rss_mib():.0f} MiB", flush=True)
    report_times = {}
    for period in (months[0], last):
        t = time.perf_counter()
        monthly_report(period=period, region=None)
        report_times[period] = time.perf_counter() - t
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM settlement_statementline")
        total_lines = cur.fetchone()[0]
    first, final = months[0], last
    print(f"year one vs with {len(months) - 1} months online ({total_lines:,} lines in all): settlement "
          f"{timings[first]:.1f} s → {timings[final]:.1f} s = {timings[final] / timings[first]:.2f}×; monthly report "
          f"{report_times[first]:.1f} s → {report_times[final]:.1f} s = {report_times[final] / report_times[first]:.2f}×; "
          f"load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)


def main(argv: list[str]) -> None:
    opts = _options(argv)
    django_on_fresh_database("bench_settlement" if opts["months"] <= 1 else "bench_settlement_months",
                             keep=bool(opts["reuse"]))
    if opts["months"] > 1:
        return months_mode(opts)
    from django.db import connection
    from django.utils import timezone

    from apps.prescriptions.models import Dispensing

    from apps.settlement import excel, services
    from apps.settlement.models import Statement, StatementLine
    from apps.settlement.selectors import monthly_report

    oct_, nov = dt.date(2026, 10, 1), dt.date(2026, 11, 1)
    t = time.perf_counter()
    if not (opts["reuse"] and Dispensing.objects.filter(period=nov).exists()):
        policy = _registries()
        _persons()
        _generate(period=oct_, rows=opts["small"], offset=0, policy_id=policy.pk)
        _generate(period=nov, rows=opts["rows"], offset=opts["small"], policy_id=policy.pk)
    with connection.cursor() as cur:
        cur.execute("SELECT period, count(*) FROM prescriptions_dispensing GROUP BY period ORDER BY period")
        counts = dict(cur.fetchall())
    print(f"generated (or reused) in {time.perf_counter() - t:.1f} s: " + ", ".join(f"{p:%Y-%m} {n:,} dispensings"
                                                                     for p, n in counts.items()), flush=True)
    print(f"  rss now {current_rss_mib():.0f} MiB, peak {peak_rss_mib():.0f} MiB", flush=True)

    group_by, writing = floor_seconds(nov)
    floor = group_by + writing
    print(f"floor (November): GROUP BY per organisation {group_by:.2f} s + writing the line rows {writing:.2f} s "
          f"= {floor:.2f} s; load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)

    results = {}
    for name, period in (("settlement (October, small)", oct_), ("settlement (November)", nov),
                         ("settlement rerun (November)", nov)):
        rss_before = current_rss_mib()
        t = time.perf_counter()
        run = services.settlement_run_now(period=period, clock=timezone.now)
        elapsed = time.perf_counter() - t
        assert run.status == "succeeded", run.error
        results[name] = elapsed
        ratio = f" = {elapsed / floor:.2f}× the floor" if period == nov else ""
        print(f"{name}: {elapsed:.1f} s{ratio}, {run.statements_written:,} statements, {run.lines_written:,} lines, "
              f"rss {rss_before:.0f} → {current_rss_mib():.0f} MiB, peak {peak_rss_mib():.0f} MiB", flush=True)

    with connection.cursor() as cur:
        cur.execute("""SELECT (SELECT sum(fund_payment) FROM settlement_statement WHERE period = %s),
                              (SELECT sum(fund_payment) FROM prescriptions_dispensing WHERE period = %s
                               AND settlement = 'direct')""", [nov, nov])
        statements_fund, dispensings_fund = cur.fetchone()
    print(f"  check: statements' fund {statements_fund} = dispensings' fund {dispensings_fund}: "
          f"{statements_fund == dispensings_fund}; lines {StatementLine.objects.filter(statement__period=nov).count():,}; "
          f"statements {Statement.objects.filter(period=nov).count():,}", flush=True)

    rss_before = current_rss_mib()
    t = time.perf_counter()
    report = monthly_report(period=nov, region=None)
    elapsed = time.perf_counter() - t
    print(f"monthly report (JSON): {elapsed:.1f} s, {report['totals']['visits']:,} visits, fund "
          f"{report['totals']['fund_payment']}, ratio {report['totals']['reimbursement_ratio']}, "
          f"{len(report['by_pharmacy']):,} pharmacies, {len(report['by_drug'])} drugs, "
          f"rss {rss_before:.0f} → {current_rss_mib():.0f} MiB, peak {peak_rss_mib():.0f} MiB", flush=True)
    t = time.perf_counter()
    workbook = excel.monthly_report_workbook(report)
    print(f"monthly report (Excel): +{time.perf_counter() - t:.1f} s, {len(workbook) // 1024} KiB", flush=True)

    if not opts["loop"]:
        return
    elapsed, count = orm_loop_settlement(period=nov, limit=opts["loop"])
    per_row = elapsed / max(count, 1)
    print(f"per-row ORM loop: {elapsed:.1f} s for {count:,} dispensings = {per_row * 1000:.2f} ms each, "
          f"≈ {per_row * opts['rows'] / 60:.0f} min for {opts['rows']:,} "
          f"(set-based: {results['settlement (November)']:.1f} s)", flush=True)
