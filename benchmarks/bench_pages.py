"""Pages at a province's volume (issue 16): every page in each role's navigation and every list API, timed with the
settlement benchmark's month loaded.

    .venv/bin/python -m benchmarks pages [--scale=1.0] [--repeat=5] [--reuse] [--only=/applications/,…]
                                         [--roles=bureau_admin,…]

On a fresh PostgreSQL database of its own (``bench_pages``): the settlement benchmark's province and month
(``benchmarks/bench_settlement.py``'s generator: 1,000,000 November dispensings + 1 % reversals, 100,000 in October
at ``--scale=1``; ``--scale=0.01`` for development), both months settled and the November report compiled, plus a
year of treatment applications (one per insured person, 2025-12 … 2026-11, most approved) with their history (a
submitted and a decided event each). Then, for each role (bureau administrator, bureau reviewer, hospital,
pharmacy), every page of its navigation and every list API is requested ``--repeat`` times with Django's test
client (the whole stack: middleware, session, templates, serializers; no network) and the median (p50) printed
with its query count. The floor is a trivial authenticated view timed in the same run (``/api/v1/auth/me/``), and
every p50 is also printed as a ratio to it. Target (issue 16): p50 ≤ 300 ms for each page and API.
"""
from __future__ import annotations

import datetime as dt
import os
import statistics
import time

from benchmarks.pages_registry import page_urls
from benchmarks.setup import django_on_fresh_database, peak_rss_mib

FLOOR_URL = "/api/v1/auth/me/"
TARGET_MS = 300


def _options(argv):
    opts = {"scale": 1.0, "repeat": 5, "reuse": False, "only": [], "roles": []}
    for arg in argv:
        if arg == "--reuse":
            opts["reuse"] = True
        elif arg.startswith("--only="):  # time only the URLs containing one of these (comma-separated)
            opts["only"] = [part for part in arg.split("=", 1)[1].split(",") if part]
        elif arg.startswith("--roles="):
            opts["roles"] = [part for part in arg.split("=", 1)[1].split(",") if part]
        elif arg.startswith("--scale="):
            opts["scale"] = float(arg.split("=", 1)[1])
        elif arg.startswith("--repeat="):
            opts["repeat"] = max(1, int(arg.split("=", 1)[1]))
    return opts


def _applications(*, months: int = 12) -> int:
    """A year of treatment applications (one per insured person, spread over the 12 months before December 2026)
    and their history (submitted, decided), generated in SQL."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from apps.applications.models import Application

    content_type = ContentType.objects.get_for_model(Application).pk
    with connection.cursor() as cur:
        cur.execute("SELECT min(id), count(*) FROM institutions_institution")
        inst_min, inst_n = cur.fetchone()
        cur.execute("SELECT min(id), count(*) FROM pharmacies_pharmacy")
        pha_min, pha_n = cur.fetchone()
        cur.execute("SELECT min(id) FROM physicians_physician")
        phys_min = cur.fetchone()[0]
        cur.execute("SELECT min(id), count(*) FROM catalogue_therapeuticarea")
        area_min, area_n = cur.fetchone()
        cur.execute("""
            INSERT INTO applications_application (created_at, updated_at, number, generic_name, diagnosis_code,
                diagnosis_name, usage, course_days, first_use_on, patient_phone, status, review_stages, current_stage,
                stage_received_on, stage_due_date, submitted_at, applied_on, decided_at, valid_from, valid_until,
                terminated_on, termination_reason, created_by_id, institution_id, insured_region_id, pharmacy_id,
                physician_id, therapeutic_area_id, person_id, dosage_form, extends_id, kind, manufacturer,
                stage_due_provisional)
            SELECT t.at, t.at, 'SQB' || p.id, '基准药' || (1 + p.id %% 120), 'C34.9', '肺恶性肿瘤', '口服', 90,
                   t.at::date, '', CASE WHEN p.id %% 20 = 0 THEN 'submitted' WHEN p.id %% 20 = 1 THEN 'rejected'
                                        ELSE 'approved' END,
                   '["physician", "hospital", "bureau"]'::jsonb,
                   CASE WHEN p.id %% 20 = 0 THEN 'bureau' ELSE '' END,
                   t.at::date, CASE WHEN p.id %% 20 = 0 THEN t.at::date + 10 END, t.at, t.at::date,
                   CASE WHEN p.id %% 20 <> 0 THEN t.at + interval '3 days' END,
                   CASE WHEN p.id %% 20 > 1 THEN t.at::date + 3 END,
                   CASE WHEN p.id %% 20 > 1 THEN t.at::date + 368 END, NULL, '', NULL,
                   %(inst_min)s + (p.id %% %(inst_n)s), p.insured_region_id, %(pha_min)s + ((p.id * 7) %% %(pha_n)s),
                   %(phys_min)s + (p.id %% %(inst_n)s), %(area_min)s + (p.id %% %(area_n)s), p.id, '片剂', NULL,
                   'initial', '', false
            FROM applications_insuredperson p
            CROSS JOIN LATERAL (SELECT timestamptz '2025-12-01 02:00+00' + (p.id %% (%(months)s * 30)) * interval '1 day'
                                AS at) t""",
                    dict(inst_min=inst_min, inst_n=inst_n, pha_min=pha_min, pha_n=pha_n, phys_min=phys_min,
                         area_min=area_min, area_n=area_n, months=months))
        cur.execute("""
            INSERT INTO core_event (object_id, action, at, from_status, to_status, reason, data, actor_id,
                                    content_type_id)
            SELECT a.id::text, 'application_submitted', a.submitted_at, '', 'submitted', '', '{}'::jsonb, NULL::bigint, %s
            FROM applications_application a
            UNION ALL
            SELECT a.id::text, CASE WHEN a.status = 'rejected' THEN 'application_reject' ELSE 'application_approve' END,
                   a.decided_at, 'submitted', a.status, '', '{}'::jsonb, NULL::bigint, %s
            FROM applications_application a WHERE a.decided_at IS NOT NULL""", [content_type, content_type])
        cur.execute("SELECT count(*) FROM applications_application")
        count = cur.fetchone()[0]
        cur.execute("ANALYZE")
    return count


def _users():
    from apps.accounts.models import Role, User
    from apps.core.models import Region
    from apps.institutions.models import Institution
    from apps.pharmacies.models import Pharmacy

    province = Region.objects.get(code="990000")
    city = Region.objects.get(code="990100")
    institution = Institution.objects.order_by("id").first()
    pharmacy = Pharmacy.objects.order_by("id").first()
    # kept between --reuse runs (events of earlier runs name them as actors)
    accounts = {
        "bureau_admin": ("bench_pages_admin", dict(role=Role.BUREAU_ADMIN, region=province)),
        "bureau_reviewer": ("bench_pages_reviewer", dict(role=Role.BUREAU_REVIEWER, region=city)),
        "hospital": ("bench_pages_hospital", dict(role=Role.HOSPITAL, institution=institution,
                                                  region=institution.region)),
        "pharmacy": ("bench_pages_pharmacy", dict(role=Role.PHARMACY, pharmacy=pharmacy, region=pharmacy.region)),
    }
    return {role: User.objects.update_or_create(username=username, defaults=fields)[0]
            for role, (username, fields) in accounts.items()}


def _time(client, url: str, repeat: int) -> tuple[float, int, list[dict]]:
    """p50 milliseconds over ``repeat`` requests (after one warm-up), the status and the queries of one request
    (Django's captured ``{"sql", "time"}``)."""
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    response = client.get(url, follow=True)  # warm-up (the home page redirects bureau roles to their dashboard)
    contexts = [CaptureQueriesContext(connections[alias]) for alias in connections]
    for context in contexts:
        context.__enter__()
    try:
        client.get(url, follow=True)
    finally:
        for context in contexts:
            context.__exit__(None, None, None)
    queries = [q for context in contexts for q in context.captured_queries]
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(url, follow=True)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), response.status_code, queries


def _slowest(queries: list[dict], n: int = 2) -> list[str]:
    """The ``n`` slowest queries of a request, shortened, for the pages over the target."""
    ranked = sorted(queries, key=lambda q: float(q.get("time") or 0), reverse=True)[:n]
    return [f"{float(q['time']) * 1000:7.0f} ms  {' '.join(q['sql'].split())[:220]}" for q in ranked]


def main(argv: list[str]) -> None:
    opts = _options(argv)
    django_on_fresh_database("bench_pages", keep=opts["reuse"])
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from apps.applications.models import Application
    from apps.prescriptions.models import Dispensing
    from apps.settlement import services
    from benchmarks import bench_settlement as month

    import logging

    settings.ALLOWED_HOSTS = ["*"]  # Django's test client sends "testserver"
    logging.getLogger("django.request").setLevel(logging.ERROR)  # the 403s of other roles' lists are expected
    big, small = int(1_000_000 * opts["scale"]), int(100_000 * opts["scale"])
    oct_, nov = dt.date(2026, 10, 1), dt.date(2026, 11, 1)
    started = time.perf_counter()
    if not (opts["reuse"] and Dispensing.objects.filter(period=nov).exists()):
        policy = month._registries()
        month._persons()
        month._generate(period=oct_, rows=small, offset=0, policy_id=policy.pk)
        month._generate(period=nov, rows=big, offset=small, policy_id=policy.pk)
        applications = _applications()
        for period in (oct_, nov):
            run = services.settlement_run_now(period=period, clock=timezone.now)
            assert run.status == "succeeded", run.error
        services.monthly_report_compile(period=nov, now=timezone.now())
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")  # as autovacuum leaves a live database (index-only scans see all-visible pages)
    else:
        applications = Application.objects.count()
        from apps.settlement.models import MonthlyReportSnapshot

        if not MonthlyReportSnapshot.objects.filter(period=nov, region__isnull=False).exists():
            compiled = time.perf_counter()  # data kept from before the per-region snapshots (settlement 0009)
            services.monthly_report_compile(period=nov, now=timezone.now())
            print(f"November report compiled province-wide and per region in {time.perf_counter() - compiled:.0f} s",
                  flush=True)
    from apps.accounts.models import User

    users = _users()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM prescriptions_dispensing")
        dispensings = cur.fetchone()[0]
    print(f"data ready in {time.perf_counter() - started:.0f} s: {dispensings:,} dispensings, "
          f"{applications:,} applications (scale {opts['scale']}); peak RSS {peak_rss_mib():.0f} MiB", flush=True)

    rows = []
    slow = []
    for role, user in users.items():
        if opts["roles"] and role not in opts["roles"]:
            continue
        client = Client()
        client.force_login(user)
        floor, _status, floor_queries = _time(client, FLOOR_URL, opts["repeat"])
        floor_queries = len(floor_queries)
        load = os.getloadavg()[0]
        print(f"\n--- {role} (floor {FLOOR_URL}: {floor:.1f} ms, {floor_queries} queries; load {load:.1f}) ---")
        print(f"{'p50 ms':>9} {'× floor':>8} {'queries':>8} {'status':>6}  url")
        for url in page_urls(user):
            if opts["only"] and not any(part in url for part in opts["only"]):
                continue
            try:
                p50, status, captured = _time(client, url, opts["repeat"])
                queries = len(captured)
            except Exception as exc:  # a page that breaks is reported, the run goes on
                print(f"{'error':>9} {'':>8} {'':>8} {'':>6}  {url}  {type(exc).__name__}: {exc}"[:200], flush=True)
                slow.append((role, url, "error"))
                continue
            flag = " ← over target" if p50 > TARGET_MS and status == 200 else ""
            print(f"{p50:9.1f} {p50 / floor:8.1f} {queries:8d} {status:6d}  {url}{flag}", flush=True)
            if flag:
                for line in _slowest(captured):
                    print(f"{'':>35}{line}", flush=True)
            rows.append((role, url, p50, status, queries))
            if flag:
                slow.append((role, url, f"{p50:.0f} ms"))
    served = [r for r in rows if r[3] == 200]
    print(f"\n{len(served)} pages/APIs answered 200 across the roles; slowest p50 "
          f"{max((r[2] for r in served), default=0):.0f} ms; over {TARGET_MS} ms: {len(slow)}; "
          f"load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())}; peak RSS {peak_rss_mib():.0f} MiB")
    for role, url, what in slow:
        print(f"  over target: {role} {url} ({what})")
