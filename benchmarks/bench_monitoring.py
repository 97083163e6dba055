"""The monthly monitoring batch (section 9, R-MON-1..9) over the settlement benchmark's month.

    .venv/bin/python -m benchmarks monitoring [--rows=1000000] [--small=10000] [--reuse] [--pathological=1]
                                              [--hot=2000] [--db=bench_monitoring]

On a PostgreSQL database of its own (``--db``; ``--reuse`` keeps the one already generated), the settlement
benchmark's generator (``bench_settlement``: a province of 14 cities, 320 institutions, 3,200 pharmacies, 120
drugs, 200,000 insured persons) makes October (``--small``) and November (``--rows`` dispensings + 1 % reversals =
1,010,000 for the default).

**A real month.** The generator hands each patient the same drug again 6 days after a 30-day supply for 40 % of
November's dispensings (its person and drug are both ``id`` modulo a number), which R-MON-5 rightly reads as supply
beyond need: 408,920 findings, a month of nothing but fraud. Here, as in a real month, a refill comes when the
supply before it runs out: each supply that another of the patient's supplies of the same variety follows is
prescribed for the days until that next one (``_realistic_supplies``), except for one patient in a hundred
(``person_id % 100 = 3``), who stays over-supplied. Every physician is given every therapeutic area and each patient
an approved application for the drugs they receive, except one patient in a thousand (R-MON-3 findings), and the
organisations hold their admission criteria (else all 3,520 would meet an exit criterion, R-MON-7). What remains
is R-MON-5 for the over-supplied patients, R-MON-3, and R-MON-6's top five patients per variety and city (by
design, ~8,400).

**The pathological month.** With ``--pathological=1`` (the default) the batch is then timed again on the
generator's own supplies (every supply 30 days, ~400,000 R-MON-5 findings) to show that the write path is bounded
(one ``INSERT … SELECT`` per rule), and the realistic supplies are put back afterwards.

Timed, with peak RSS and the load average (the machine is shared): the floors — one plain ``GROUP BY`` over the
month's lines, and the rules' bare finding ``SELECT``s counted without writing — the batch over November (every rule,
alerts written), its rerun (idempotent: nothing new, nothing rewritten), each rule alone, and the flags on the
dispensing hot path (R-MON-1..5, ``apps.monitoring.hot.dispensing_flag``) called for ``--hot`` of November's
dispensings as the dispensing service calls it (p50/p95 of the call, rolled back). Target on the 2-core machine:
≤ 60 s, flat memory.
"""
from __future__ import annotations

import datetime as dt
import os
import time

from benchmarks.bench_settlement import _generate, _persons, _registries, current_rss_mib
from benchmarks.setup import django_on_fresh_database, peak_rss_mib


def _options(argv):
    opts = {"rows": 1_000_000, "small": 10_000, "reuse": 0, "hot": 2000, "pathological": 1,
            "db": "bench_monitoring"}
    for arg in argv:
        if arg == "--reuse":
            opts["reuse"] = 1
        if arg.startswith("--") and "=" in arg:
            key, value = arg[2:].split("=", 1)
            if key == "db":
                opts[key] = value
            elif key in opts:
                opts[key] = int(value.replace("_", ""))
    return opts


def _registries_in_order() -> None:
    """The generator's organisations carry none of their admission criteria, so every one of them would meet an
    exit criterion (R-MON-7: 3,520 findings); in a real month they hold them. Idempotent."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("""UPDATE pharmacies_pharmacy SET has_business_licence = true, has_dedicated_storage = true,
                              has_cold_storage = true, sells_at_or_below_price = true, has_licensed_pharmacist = true,
                              traceability_capable = true, delivery_capable = true
                       WHERE NOT (has_business_licence AND has_dedicated_storage AND has_cold_storage
                                  AND sells_at_or_below_price AND has_licensed_pharmacist AND traceability_capable
                                  AND delivery_capable)""")
        cur.execute("""UPDATE institutions_institution SET has_clinical_department = true,
                              sells_at_negotiated_price = true, info_system_capable = true
                       WHERE NOT (has_clinical_department AND sells_at_negotiated_price AND info_system_capable)""")


def _realistic_supplies() -> int:
    """A refill when the supply before it runs out: each live supply followed by another of the same patient and
    variety is prescribed for the days until that next one (at least 1) — except for one patient in a hundred,
    who stays over-supplied. Idempotent (only shortens). Returns the items changed."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("""
            WITH s AS (
              SELECT d.prescription_id, l.drug_id, d.person_id, (d.dispensed_at AT TIME ZONE 'Asia/Shanghai')::date AS day,
                     lead((d.dispensed_at AT TIME ZONE 'Asia/Shanghai')::date) OVER (
                       PARTITION BY d.person_id, dr.generic_name, dr.dosage_form ORDER BY d.dispensed_at, l.id) AS next_day
              FROM prescriptions_dispensing d
              JOIN prescriptions_dispensingline l ON l.dispensing_id = d.id
              JOIN catalogue_drug dr ON dr.id = l.drug_id
              WHERE d.kind = 'normal' AND NOT EXISTS (SELECT 1 FROM prescriptions_dispensing r WHERE r.reverses_id = d.id))
            UPDATE prescriptions_prescriptionitem it SET days_supply = greatest(1, s.next_day - s.day)
            FROM s
            WHERE it.prescription_id = s.prescription_id AND it.drug_id = s.drug_id AND s.person_id % 100 <> 3
              AND s.next_day IS NOT NULL AND s.next_day - s.day < it.days_supply""")
        changed = cur.rowcount
        cur.execute("ANALYZE prescriptions_prescriptionitem")
    return changed


def _generators_supplies() -> int:
    """Back to the generator's own supplies: every one 30 days (the pathological month)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("UPDATE prescriptions_prescriptionitem SET days_supply = 30 WHERE days_supply <> 30")
        changed = cur.rowcount
        cur.execute("ANALYZE prescriptions_prescriptionitem")
    return changed


def _make_it_a_real_month():
    """Physicians with every area (R-MON-2 quiet), applications for what each patient receives (R-MON-3 quiet but
    for one patient in a thousand), in SQL."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("""
            INSERT INTO physicians_physician_therapeutic_areas (physician_id, therapeuticarea_id)
            SELECT p.id, a.id FROM physicians_physician p CROSS JOIN catalogue_therapeuticarea a
            ON CONFLICT DO NOTHING""")
        cur.execute("""
            INSERT INTO applications_application (created_at, updated_at, number, generic_name, diagnosis_code,
                diagnosis_name, usage, course_days, patient_phone, status, review_stages, current_stage, submitted_at,
                applied_on, termination_reason, institution_id, insured_region_id, physician_id, therapeutic_area_id,
                person_id, dosage_form, kind, manufacturer, stage_due_provisional, valid_from, valid_until)
            SELECT now(), now(), 'BM' || row_number() OVER (), x.generic_name, 'C34.9', '肺恶性肿瘤', '遵医嘱', 90, '',
                   'approved', '[]'::jsonb, '', now(), date '2026-01-01', '', x.institution_id, ip.insured_region_id,
                   x.physician_id, x.therapeutic_area_id, x.person_id, x.dosage_form, 'initial', '', false,
                   date '2026-01-01', date '2027-12-31'
            FROM (SELECT DISTINCT ON (d.person_id, dr.generic_name) d.person_id, dr.generic_name, dr.dosage_form,
                         dr.therapeutic_area_id, d.institution_id, p.physician_id
                  FROM prescriptions_dispensing d
                  JOIN prescriptions_prescription p ON p.id = d.prescription_id
                  JOIN prescriptions_dispensingline l ON l.dispensing_id = d.id
                  JOIN catalogue_drug dr ON dr.id = l.drug_id
                  WHERE d.person_id % 1000 <> 7
                  ORDER BY d.person_id, dr.generic_name, d.id) x
            JOIN applications_insuredperson ip ON ip.id = x.person_id""")
        cur.execute("ANALYZE")


def _floors(nov: dt.date) -> tuple[float, float, dict]:
    """The month's floors: one plain GROUP BY over its lines; the rules' bare finding SELECTs (counted, nothing
    written; R-MON-7 and R-MON-9, which build few findings, as the batch runs them) after the shared pass that
    reads the month's live lines into the month table (timed as "month table")."""
    from django.db import connection, transaction

    from apps.core import sql as core_sql
    from apps.monitoring import services
    from apps.monitoring.rules import month
    from apps.monitoring.rules.base import batch_memory

    def month_rows(lines):
        with connection.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {lines}")
            return cur.fetchone()[0]

    t = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("""SELECT d.pharmacy_id, l.drug_id, sum(l.fund_payment), count(*)
                       FROM prescriptions_dispensing d JOIN prescriptions_dispensingline l ON l.dispensing_id = d.id
                       WHERE d.period = %s GROUP BY 1, 2""", [nov])
        cur.fetchall()
    scan = time.perf_counter() - t
    th = services.thresholds_context()
    per_rule = {}
    assert core_sql.is_postgresql()
    t = time.perf_counter()
    with month.month_table(nov) as lines:
        per_rule["month table"] = (time.perf_counter() - t, month_rows(lines))
        for i in range(1, 10):
            rule = f"R-MON-{i}"
            t = time.perf_counter()
            query = services._month_query(rule, nov, th, lines)
            if query is not None:
                with transaction.atomic(), connection.cursor() as cur:
                    batch_memory()  # as the batch runs it
                    cur.execute(f"SELECT count(*) FROM ({query.sql}) AS q", query.params)
                    n = cur.fetchone()[0]
            else:
                n = len(services._month_findings(rule, nov, th, lines))
            per_rule[rule] = (time.perf_counter() - t, n)
    return scan, sum(v[0] for v in per_rule.values()), per_rule


def _batch_and_rerun(label: str, nov: dt.date, now: dt.datetime, scan: float, selects: float) -> dict:
    from apps.monitoring import services
    from apps.monitoring.models import Alert

    Alert.objects.filter(period=nov).delete()
    out = {}
    for name in ("batch", "rerun"):
        rss_before = current_rss_mib()
        t = time.perf_counter()
        run = services.monitoring_run_now(period=nov, now=now)
        elapsed = time.perf_counter() - t
        load = os.getloadavg()
        out[name] = elapsed
        print(f"{label} {name}: {elapsed:.1f} s ({elapsed / scan:.1f}× the GROUP BY floor, "
              f"{elapsed / selects:.2f}× the rules' bare SELECTs), {run.findings:,} findings, "
              f"{run.alerts_raised:,} new alerts, rss {rss_before:.0f} → {current_rss_mib():.0f} MiB, "
              f"peak {peak_rss_mib():.0f} MiB, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    return out


def main(argv: list[str]) -> None:
    opts = _options(argv)
    django_on_fresh_database(opts["db"], keep=bool(opts["reuse"]))
    from django.db import connection
    from django.db.models import Count

    from apps.monitoring.models import Alert
    from apps.prescriptions.models import Dispensing

    oct_, nov = dt.date(2026, 10, 1), dt.date(2026, 11, 1)
    now = dt.datetime(2026, 12, 3, 3, 30, tzinfo=dt.timezone.utc)
    t = time.perf_counter()
    if not (opts["reuse"] and Dispensing.objects.filter(period=nov).exists()):
        policy = _registries()
        _persons()
        _generate(period=oct_, rows=opts["small"], offset=0, policy_id=policy.pk)
        _generate(period=nov, rows=opts["rows"], offset=opts["small"], policy_id=policy.pk)
        _make_it_a_real_month()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM prescriptions_dispensing WHERE period = %s", [nov])
        month_rows = cur.fetchone()[0]
    print(f"generated (or reused) in {time.perf_counter() - t:.1f} s: November {month_rows:,} dispensings; "
          f"rss {current_rss_mib():.0f} MiB", flush=True)
    _registries_in_order()
    t = time.perf_counter()
    changed = _realistic_supplies()
    print(f"realistic supplies: {changed:,} prescribed supplies shortened to the next refill "
          f"in {time.perf_counter() - t:.1f} s", flush=True)

    months = [("realistic month", None)]
    if opts["pathological"]:
        months.append(("pathological month", _generators_supplies))
    for label, prepare in months:
        if prepare is not None:
            t = time.perf_counter()
            changed = prepare()
            print(f"{label}: {changed:,} supplies back to the generator's 30 days in {time.perf_counter() - t:.1f} s",
                  flush=True)
        scan, selects, per_rule = _floors(nov)
        print(f"{label} floors: GROUP BY over the month's lines {scan:.2f} s; the rules' bare SELECTs {selects:.1f} s "
              "(" + ", ".join(f"{k} {v[0]:.1f} s/{v[1]:,}" for k, v in per_rule.items()) + ")", flush=True)
        _batch_and_rerun(label, nov, now, scan, selects)
        by_rule = dict(Alert.objects.filter(period=nov).values_list("rule").annotate(n=Count("id")))
        flagged = sum(by_rule.values())
        print(f"  {label} alerts by rule: " + ", ".join(f"{k} {v:,}" for k, v in sorted(by_rule.items()))
              + f" — {flagged:,} alerts for {month_rows:,} dispensings ({100 * flagged / month_rows:.2f} %)",
              flush=True)
    if opts["pathological"]:
        changed = _realistic_supplies()
        print(f"realistic supplies put back ({changed:,})", flush=True)
    _hot_path(nov, opts["hot"])


def _hot_path(period: dt.date, count: int) -> None:
    """R-MON-1..5 as the dispensing service runs them: one call of the hook's handler per dispensing, the objects
    read beforehand (as the service has them in memory), the calls rolled back."""
    import statistics

    from django.db import transaction

    from apps.monitoring.hot import dispensing_flag
    from apps.prescriptions.models import Dispensing, PrescriptionItem

    if not count:
        return
    month = Dispensing.objects.filter(period=period, kind="normal")
    step = max(1, month.count() // count)
    sample = [d for d in month.select_related("pharmacy__region", "prescription__institution")
              .order_by("id").iterator(chunk_size=2000) if d.pk % step == 0][:count]
    prepared = []
    for d in sample:
        lines = list(d.lines.all())
        items = list(PrescriptionItem.objects.filter(prescription_id=d.prescription_id).select_related("drug"))
        prepared.append((d, lines, items))
    timings = []
    with transaction.atomic():
        for d, lines, items in prepared:
            t = time.perf_counter()
            dispensing_flag(dispensing=d, lines=lines, trace_codes=[], prescription=d.prescription, items=items,
                            now=d.dispensed_at)
            timings.append((time.perf_counter() - t) * 1000)
        transaction.set_rollback(True)
    timings.sort()
    print(f"hot path (R-MON-1..5 per dispensing, {len(timings):,} calls): p50 {statistics.median(timings):.3f} ms, "
          f"p95 {timings[int(len(timings) * 0.95)]:.3f} ms, p99 {timings[int(len(timings) * 0.99)]:.3f} ms "
          f"(the patient has ~5 dispensings a month here); load average {os.getloadavg()[0]:.2f}", flush=True)
