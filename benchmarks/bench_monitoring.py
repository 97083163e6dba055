"""The monthly monitoring batch (section 9, R-MON-1..9) over the settlement benchmark's month.

    .venv/bin/python -m benchmarks monitoring [--rows=1000000] [--small=10000] [--reuse]

On a fresh PostgreSQL database of its own, the settlement benchmark's generator (``bench_settlement``: a province
of 14 cities, 320 institutions, 3,200 pharmacies, 120 drugs, 200,000 insured persons) makes October (``--small``)
and November (``--rows`` dispensings + 1 % reversals = 1,010,000 for the default). To look like a real month
rather than a month of nothing but findings, every physician is given every therapeutic area and each patient an
approved application for the drugs they receive — except one patient in a thousand (R-MON-3 findings).

Timed: the flags on the dispensing hot path (R-MON-1..5, ``apps.monitoring.hot.dispensing_flag``) called for
``--hot`` of November's dispensings as the dispensing service calls it (p50/p95 of the call, rolled back); the batch over November (every rule, alerts written), its rerun (idempotent: nothing new), and the floor —
one plain ``GROUP BY`` over the month's dispensing lines — with the ratio, the peak RSS and the load average
(the machine is shared). Target on the 2-core machine: ≤ 60 s, flat memory.
"""
from __future__ import annotations

import datetime as dt
import os
import time

from benchmarks.bench_settlement import _generate, _persons, _registries, current_rss_mib
from benchmarks.setup import django_on_fresh_database, peak_rss_mib


def _options(argv):
    opts = {"rows": 1_000_000, "small": 10_000, "reuse": 0, "hot": 2000}
    for arg in argv:
        if arg == "--reuse":
            opts["reuse"] = 1
        if arg.startswith("--") and "=" in arg:
            key, value = arg[2:].split("=", 1)
            if key in opts:
                opts[key] = int(value.replace("_", ""))
    return opts


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


def main(argv: list[str]) -> None:
    opts = _options(argv)
    django_on_fresh_database("bench_monitoring", keep=bool(opts["reuse"]))
    from django.db import connection
    from django.db.models import Count

    from apps.monitoring import services
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

    # the floor: one plain GROUP BY over the month's lines
    t = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("""SELECT d.pharmacy_id, l.drug_id, sum(l.fund_payment), count(*)
                       FROM prescriptions_dispensing d JOIN prescriptions_dispensingline l ON l.dispensing_id = d.id
                       WHERE d.period = %s GROUP BY 1, 2""", [nov])
        groups = len(cur.fetchall())
    floor = time.perf_counter() - t
    print(f"floor (GROUP BY pharmacy, drug over the month's lines): {floor:.2f} s, {groups:,} groups", flush=True)

    Alert.objects.filter(period=nov).delete()
    results = {}
    for name in ("batch (November)", "rerun (November)"):
        rss_before = current_rss_mib()
        t = time.perf_counter()
        run = services.monitoring_run_now(period=nov, now=now)
        elapsed = time.perf_counter() - t
        results[name] = elapsed
        load = os.getloadavg()
        print(f"{name}: {elapsed:.1f} s ({elapsed / floor:.1f}× the floor), {run.findings:,} findings, "
              f"{run.alerts_raised:,} new alerts, rss {rss_before:.0f} → {current_rss_mib():.0f} MiB, "
              f"peak {peak_rss_mib():.0f} MiB, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    by_rule = dict(Alert.objects.filter(period=nov).values_list("rule").annotate(n=Count("id")))
    print("  alerts by rule: " + ", ".join(f"{k} {v:,}" for k, v in sorted(by_rule.items())), flush=True)
    timings = {}
    th = services.thresholds_context()
    for rule in sorted({r for r in by_rule} | {f"R-MON-{i}" for i in range(1, 10)}):
        t = time.perf_counter()
        services._month_findings(rule, nov, th)
        timings[rule] = time.perf_counter() - t
    _hot_path(nov, opts["hot"])
    print("  per rule (findings only): " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()), flush=True)


def _hot_path(period: dt.date, count: int) -> None:
    """R-MON-1..5 as the dispensing service runs them: one call of the hook's handler per dispensing, the objects
    read beforehand (as the service has them in memory), the calls rolled back."""
    import statistics

    from django.db import transaction

    from apps.monitoring.hot import dispensing_flag
    from apps.prescriptions.models import Dispensing, PrescriptionItem

    if not count:
        return
    sample = list(Dispensing.objects.filter(period=period, kind="normal").select_related(
        "pharmacy__region", "prescription__institution").order_by("id")[::max(1, 1_000_000 // count)][:count])
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
