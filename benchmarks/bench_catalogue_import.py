"""Issue 3 benchmark: a 50,000-row catalogue workbook imported on PostgreSQL (validation included) by the
all-or-nothing engine, against a plain django-import-export ``ModelResource`` with default options on the same
layout.

    .venv/bin/python -m benchmarks catalogue_import [--rows=50000] [--plain-rows=5000] [--full-plain] [--profile]

Target (issue 3): ≤ 30 s and < 1 GiB for 50,000 rows, and ≥ 5× the plain resource's rows/s. The plain resource
is timed on the first ``--plain-rows`` rows of the same file and extrapolated (``--full-plain`` runs it on all);
``--plain-rows=0`` skips it. Target (issue 16): the first import ≤ 3× the floor (python-calamine parse + COPY of
the same rows, measured in the same run in a process of its own) and peak memory flat in the row count (≤ 300 MiB
at 200,000 rows: the workbook is generated and the floor measured in child processes, so this process's peak RSS
is the engine's). ``--profile`` prints the first import's cProfile (top 30 by cumulative time).
"""
from __future__ import annotations

import datetime as dt
import io
import os
import random
import tempfile
import time
from decimal import Decimal

from benchmarks.setup import django_on_fresh_database, peak_rss_mib

GENERICS = ["奥希替尼", "阿美替尼", "司美格鲁肽", "度普利尤单抗", "诺西那生钠", "信迪利单抗", "泽布替尼", "来那度胺",
            "恩格列净", "沙库巴曲缬沙坦", "依洛尤单抗", "尼达尼布", "丙酚替诺福韦", "雷珠单抗", "罗沙司他"]
FORMS = ["片剂", "胶囊", "注射液", "注射用无菌粉末", "缓释片", "软胶囊"]
MAKERS = ["阿斯利康制药有限公司", "江苏豪森药业集团有限公司", "诺和诺德（中国）制药有限公司", "百济神州（苏州）生物科技有限公司",
          "正大天晴药业集团股份有限公司", "辉瑞制药有限公司", "罗氏制药有限公司"]


def _option(argv, name, default):
    for arg in argv:
        if arg.startswith(f"--{name}="):
            return int(arg.split("=", 1)[1])
    return default


def generate(path: str, rows: int, areas: list[str]) -> None:
    import openpyxl

    from apps.catalogue.resources import H

    headers = [H[k] for k in ("code", "generic_name", "dosage_form", "specification", "manufacturer", "category",
                              "therapeutic_area", "route", "cold_chain", "payment_standard",
                              "first_self_pay_ratio", "restricted_scope", "agreement_start", "agreement_end")]
    rnd = random.Random(2026)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("药品目录")
    ws.append(headers)
    start = dt.date(2026, 1, 1)
    for i in range(rows):
        negotiated = rnd.random() < 0.8
        ws.append([
            f"{'X' if rnd.random() < 0.85 else 'Z'}L01XEA{i:016d}", rnd.choice(GENERICS), rnd.choice(FORMS),
            f"{rnd.choice([5, 10, 25, 80, 100, 150])}mg*{rnd.choice([7, 14, 28, 30])}片", rnd.choice(MAKERS),
            "协议期内谈判药品" if negotiated else "常规乙类", rnd.choice(areas),
            rnd.choice(["口服", "注射", "外用"]), rnd.choice(["是", "否"]),
            Decimal(rnd.randint(1000, 5000000)) / 100, rnd.choice([0, 0.05, 0.1, 0.2]),
            "限协议期内谈判药品适应症" if negotiated else "", start, dt.date(2027, 12, 31),
        ])
    wb.save(path)


def _floor_child(path: str, url: str) -> tuple[float, float, float]:
    """The floor (in a process of its own): python-calamine parse of the file into Python rows, then a COPY of the
    same rows (as text, 14 columns) into a temporary table. Also returns the process's peak RSS (MiB): calamine
    holds the whole sheet, so the floor's own memory grows with the rows too."""
    from urllib.parse import urlparse

    import psycopg2
    import python_calamine

    with open(path, "rb") as fh:
        content = fh.read()
    started = time.perf_counter()
    workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content))
    parsed = [row for row in workbook.get_sheet_by_index(0).iter_rows()][1:]
    parse_seconds = time.perf_counter() - started
    buf = io.StringIO()
    for row in parsed:
        buf.write("\t".join(str(v).replace("\t", " ").replace("\n", " ") for v in row))
        buf.write("\n")
    buf.seek(0)
    u = urlparse(url)
    conn = psycopg2.connect(dbname=u.path.lstrip("/"), user=u.username, password=u.password, host=u.hostname,
                            port=u.port or 5432)
    started = time.perf_counter()
    with conn, conn.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE bench_floor_rows (" + ", ".join(f"c{i} text" for i in range(14)) + ")")
        cursor.copy_expert("COPY bench_floor_rows FROM STDIN", buf)
        cursor.execute("DROP TABLE bench_floor_rows")
    copy_seconds = time.perf_counter() - started
    conn.close()
    return parse_seconds, copy_seconds, peak_rss_mib()


def main(argv: list[str]) -> None:
    rows = _option(argv, "rows", 50_000)
    plain_rows = rows if "--full-plain" in argv else min(rows, _option(argv, "plain-rows", 5_000))
    django_on_fresh_database("bench_catalogue_import")
    if os.environ.get("BENCH_CATALOGUE_FILE"):  # the rows of the given file
        from apps.core.excel.engine import estimate_rows

        with open(os.environ["BENCH_CATALOGUE_FILE"], "rb") as fh:
            rows = estimate_rows(fh)

    from auditlog.models import LogEntry
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django.utils import timezone
    from import_export.formats.base_formats import XLSX

    from apps.accounts.models import Role, User
    from apps.catalogue.models import Drug, ImportAudit, ImportRun, PaymentStandard, TherapeuticArea
    from apps.catalogue.resources import DrugResource
    from apps.catalogue.services import import_run_create, import_run_execute
    from apps.core.models import Region

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}; rows: {rows:,}")
    region, _ = Region.objects.get_or_create(code="640500", defaults={"name": "中卫市", "level": "city"})
    # the catalogue is shared reference data: a system-wide administrator imports it (R-SEC-1)
    admin = User.objects.create(username="bench_admin", role=Role.BUREAU_ADMIN, region=region, is_superuser=True)
    areas = list(TherapeuticArea.objects.values_list("name", flat=True))
    tmp = tempfile.mkdtemp(prefix="bench_catalogue_")
    path = os.path.join(tmp, "catalogue.xlsx")
    t = time.perf_counter()
    if os.environ.get("BENCH_CATALOGUE_FILE"):
        path = os.environ["BENCH_CATALOGUE_FILE"]  # reuse a generated file (same seed) to save time
    else:  # in a child process: openpyxl's memory is not the engine's
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(1) as pool:
            pool.apply(generate, (path, rows, areas))
    print(f"generated {path} ({os.path.getsize(path) / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s (not timed)")
    with open(path, "rb") as fh:
        content = fh.read()

    # the floor measured in the same run (issue 16), in a child process (its parsed rows do not count in this
    # process's peak memory): python-calamine parsing the file into Python rows, plus a COPY of the same rows
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        parse_seconds, copy_seconds, floor_peak = pool.apply(_floor_child, (path, os.environ["DATABASE_URL"]))
    floor = parse_seconds + copy_seconds
    print(f"floor: python-calamine parse {parse_seconds:.2f} s + COPY of the same rows {copy_seconds:.2f} s = "
          f"{floor:.2f} s, the floor process's peak RSS {floor_peak:.0f} MiB; "
          f"load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    print(f"this process before the engine runs (Django, the workbook's bytes): RSS {peak_rss_mib():.0f} MiB", flush=True)

    cpu: dict[str, float] = {}

    profile = "--profile" in argv

    def run_engine(dry_run: bool) -> tuple[float, ImportRun]:
        nonlocal profile
        started, cpu_started = time.perf_counter(), time.process_time()
        run = import_run_create(kind="drugs", upload=SimpleUploadedFile("catalogue.xlsx", content), actor=admin,
                                now=timezone.now(), dry_run=dry_run, effective_date=dt.date(2026, 6, 1))
        if profile:  # the first import only
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(import_run_execute, run_id=run.pk, clock=timezone.now)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
            profile = False
        else:
            import_run_execute(run_id=run.pk, clock=timezone.now)  # synchronously, as the Celery task would
        run.refresh_from_db()
        cpu["last"] = time.process_time() - cpu_started
        return time.perf_counter() - started, run

    # 1. the engine: a first import (all rows created), then the same file again (all unchanged), then a preview
    seconds, run = run_engine(dry_run=False)
    assert run.status == "succeeded", (run.status, run.message, run.errors[:3])
    peak = peak_rss_mib()
    fast_rate = rows / seconds
    print(f"machine load (1-min average) {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; wall times below "
          f"include waiting for the CPU, 'cpu' is this process's own time (PostgreSQL's work is not in it)")
    print(f"engine, first import: {seconds:.1f} s = {seconds / floor:.2f}× the floor (target ≤ 3×) "
          f"(cpu {cpu['last']:.1f} s), {fast_rate:,.0f} rows/s, "
          f"created {run.created_count:,}; "
          f"drugs {Drug.objects.count():,}, payment standards {PaymentStandard.objects.count():,}, "
          f"audit: {ImportAudit.objects.count()} record(s) per run, {LogEntry.objects.count():,} per-row audit rows, "
          f"change log {len(bytes(ImportAudit.objects.get(run=run).change_log)) / 1e6:.1f} MB; peak RSS {peak:.0f} MiB")
    seconds2, run2 = run_engine(dry_run=False)
    print(f"engine, re-import of the same file: {seconds2:.1f} s (cpu {cpu['last']:.1f} s), {rows / seconds2:,.0f} rows/s, "
          f"unchanged {run2.unchanged_count:,}, created {run2.created_count}, updated {run2.updated_count}")
    seconds3, run3 = run_engine(dry_run=True)
    print(f"engine, preview (dry run): {seconds3:.1f} s (cpu {cpu['last']:.1f} s), {rows / seconds3:,.0f} rows/s")

    if not plain_rows:
        return
    # 2. the plain ModelResource with default options, on an empty catalogue, same layout
    with connection.cursor() as cursor:  # raw TRUNCATE: a Django delete() would write an audit row per drug
        cursor.execute("TRUNCATE catalogue_paymentstandard, catalogue_drug RESTART IDENTITY CASCADE")
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    slice_wb = openpyxl.Workbook(write_only=True)
    ws = slice_wb.create_sheet("药品目录")
    for i, row in enumerate(wb.worksheets[0].iter_rows(values_only=True)):
        if i > plain_rows:
            break
        ws.append(row)
    buf = io.BytesIO()
    slice_wb.save(buf)
    started, cpu_started = time.perf_counter(), time.process_time()
    dataset = XLSX().create_dataset(buf.getvalue())
    result = DrugResource().import_data(dataset, dry_run=False, raise_errors=False)
    plain_seconds = time.perf_counter() - started
    plain_cpu = time.process_time() - cpu_started
    assert not result.has_errors() and not result.has_validation_errors(), "plain import reported errors"
    plain_rate = plain_rows / plain_seconds
    extrapolated = rows / plain_rate
    how = "measured on all rows" if plain_rows == rows else f"measured on the first {plain_rows:,} rows, extrapolated"
    print(f"plain ModelResource.import_data (default options): {plain_seconds:.1f} s (cpu {plain_cpu:.1f} s) "
          f"for {plain_rows:,} rows, "
          f"{plain_rate:,.0f} rows/s → {extrapolated:.0f} s for {rows:,} ({how})")
    print(f"speed-up: {fast_rate / plain_rate:.1f}× (target ≥ 5×); engine {seconds:.1f} s (target ≤ 30 s); "
          f"peak RSS {peak_rss_mib():.0f} MiB overall, {peak:.0f} MiB after the engine (target < 1024 MiB)")
