"""Prescription load through the real HTTP stack (issue 5 "Speed"): gunicorn on a fresh PostgreSQL database,
a keep-alive load generator on loopback (``benchmarks/rx_loadgen.py``), uploads then dispensings.

    python -m benchmarks rx_load [--n=4000] [--concurrency=6] [--workers=3] [--threads=3] [--port=18765]
                                 [--monitoring=on|off|both]

Prints throughput and p50/p95/p99 latency per phase. Target on the 2-core machine: ≥ 200 uploads/s and
≥ 100 dispensings/s with p99 < 150 ms.

``--monitoring``: the section 9 flags on every dispensing (R-MON-1..5, ``apps.monitoring.hot``) on (the default,
as in production), off (``MONITORING_FLAGS_ON_DISPENSING=false`` in gunicorn's environment), or ``both``: the
whole upload + dispensing round first with the flags off ("before"), then with gunicorn restarted with them on
("after"), each round on its own patients, and the p50 difference printed. Each patient receives two 30-day
prescriptions of the drug on the same day, so the flags raise an R-MON-5 alert on half of the "after"
dispensings (the expensive case: the hot path's query and an alert insert).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from benchmarks.setup import django_on_fresh_database, peak_rss_mib

ROOT = Path(__file__).resolve().parent.parent
# one field-encryption key for the set-up (this process) and gunicorn (production settings refuse a development
# key): the patients written here are read there (PIPL, apps/core/crypto.py)
os.environ.setdefault("FIELD_ENCRYPTION_KEY", secrets.token_urlsafe(32))


def _options(argv: list[str]) -> dict:
    opts = {"n": 4000, "concurrency": 6, "workers": 3, "threads": 3, "port": 18765, "warmup": 200,
            "monitoring": "on"}
    for arg in argv:
        if arg.startswith("--") and "=" in arg:
            key, value = arg[2:].split("=", 1)
            if key == "monitoring":
                if value not in ("on", "off", "both"):
                    sys.exit("--monitoring=on|off|both")
                opts[key] = value
            elif key in opts:
                opts[key] = int(value)
    return opts


def seed(n_prescriptions: int, warmup: int) -> dict:
    """Registries, a drug, persons with approved applications, a hospital and a pharmacy user with tokens."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from knox.models import AuthToken

    from apps.accounts.models import Role
    from apps.applications.models import Application, InsuredPerson, Sex
    from apps.catalogue.models import Drug, PaymentStandard, TherapeuticArea
    from apps.core.idnumber import make_id_number
    from apps.core.models import DesignationStatus, Region
    from apps.institutions.models import Institution
    from apps.pharmacies.models import Pharmacy
    from apps.physicians.models import Physician
    from apps.policies.services import policy_create_from_preset

    province, _ = Region.objects.get_or_create(code="640000", defaults={"name": "宁夏回族自治区", "level": "province"})
    city, _ = Region.objects.get_or_create(code="640500", defaults={"name": "中卫市", "level": "city", "parent": province})
    county, _ = Region.objects.get_or_create(code="640502", defaults={"name": "沙坡头区", "level": "county",
                                                                      "parent": city})
    policy_create_from_preset(region=city, preset="zhongwei-2021", valid_from=dt.date(2021, 1, 1))
    area = TherapeuticArea.objects.get(code="oncology")
    year = timezone.localdate().year
    start = dt.date(year, 1, 1)
    institution = Institution.objects.create(
        code="H640500001", name="中卫市人民医院", region=county, level=3, kind="certifying",
        status=DesignationStatus.ADMITTED, has_clinical_department=True, sells_at_negotiated_price=True,
        info_system_capable=True, agreement_start=start, agreement_end=dt.date(year + 1, 12, 31))
    pharmacy = Pharmacy.objects.create(
        code="P640500001", name="国大药房（中卫鼓楼店）", region=county, status=DesignationStatus.ADMITTED,
        traceability_capable=True, agreement_start=start, agreement_end=dt.date(year + 1, 12, 31))
    physician = Physician.objects.create(
        code="D640500001", name="王建国", institution=institution, department="肿瘤内科", title="chief",
        is_certifying=True, status=Physician.Status.FILED, filed_on=start)
    physician.therapeutic_areas.set([area])
    drug = Drug.objects.create(
        code="XL01XEA001A001010000001", generic_name="奥希替尼", dosage_form="片剂", specification="80mg*30片",
        manufacturer="阿斯利康制药有限公司", therapeutic_area=area, payment_standard=Decimal("1000.00"),
        first_self_pay_ratio=Decimal("0.1000"), agreement_start=start, agreement_end=dt.date(year + 1, 12, 31))
    PaymentStandard.objects.create(drug=drug, amount=Decimal("1000.00"), valid_from=start)

    n_persons = max(1, (n_prescriptions + warmup) // 2)
    persons = InsuredPerson.objects.bulk_create([
        InsuredPerson(id_number=(number := make_id_number("640502", dt.date(1940, 1, 1) + dt.timedelta(days=i), i % 100)),
                      name=f"患者{i}", sex=Sex.MALE if int(number[16]) % 2 else Sex.FEMALE,
                      birth_date=dt.date(1940, 1, 1) + dt.timedelta(days=i), insurance_type="employee",
                      insured_region=county)
        for i in range(n_persons)
    ], batch_size=2000)
    now = timezone.now()
    applications = Application.objects.bulk_create([
        Application(number=f"SQ{year}{i:08d}", person=p, insured_region=county, institution=institution,
                    pharmacy=pharmacy, physician=physician, generic_name=drug.generic_name, therapeutic_area=area,
                    diagnosis_code="C34.9", diagnosis_name="肺恶性肿瘤", usage="80mg qd", course_days=90,
                    status=Application.Status.APPROVED, submitted_at=now, applied_on=start, valid_from=start,
                    valid_until=dt.date(year + 1, 12, 31))
        for i, p in enumerate(persons)
    ], batch_size=2000)
    User = get_user_model()
    hospital = User.objects.create_user("bench_hospital", password="x", role=Role.HOSPITAL, institution=institution)
    pharmacist = User.objects.create_user("bench_pharmacy", password="x", role=Role.PHARMACY, pharmacy=pharmacy)
    return {"applications": [a.pk for a in applications], "drug": drug.code, "physician": physician.code,
            "pharmacy": pharmacy.code, "hospital_token": AuthToken.objects.create(user=hospital)[1],
            "pharmacy_token": AuthToken.objects.create(user=pharmacist)[1]}


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def start_gunicorn(*, port: int, workers: int, threads: int, database_url: str,
                   monitoring: bool = True) -> subprocess.Popen:
    if not _free(port):
        sys.exit(f"port {port} is in use: pass --port=…")
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "config.settings.production",
           "MONITORING_FLAGS_ON_DISPENSING": "true" if monitoring else "false",
           "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", secrets.token_urlsafe(50)),
           "FIELD_ENCRYPTION_KEY": os.environ["FIELD_ENCRYPTION_KEY"],
           "DJANGO_SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
           "DJANGO_DEBUG": "false", "CONN_MAX_AGE": "600", "LOG_LEVEL": "WARNING",
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost"}
    worker_class = ["-k", "gthread", "--threads", str(threads), "--keep-alive", "30"] if threads > 1 else ["-k", "sync"]
    cmd = [str(ROOT / ".venv" / "bin" / "gunicorn"), "config.wsgi:application", "-b", f"127.0.0.1:{port}",
           "-w", str(workers), *worker_class, "--backlog", "2048", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        if not _free(port):
            time.sleep(1.0)  # let every worker boot
            return proc
        if proc.poll() is not None:
            sys.exit("gunicorn did not start")
        time.sleep(0.2)
    stop(proc)
    sys.exit("gunicorn did not listen within 30 s")


def _cpu_seconds(matches) -> float:
    """User+system CPU (Linux /proc) of the processes for which ``matches(pid, ppid)`` is true: CPU per request is
    a figure that does not depend on what else the machine is running."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if not matches(int(entry), int(fields[1])):
                continue
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _tree_cpu_seconds(root_pid: int) -> float:
    """gunicorn's master and workers."""
    return _cpu_seconds(lambda pid, ppid: root_pid in (pid, ppid))


def _is_benchmark_backend(pid: int) -> bool:
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    return cmdline.startswith(b"postgres") and b"bench_rx_load" in cmdline


def _postgres_cpu_seconds() -> float:
    """The PostgreSQL backends serving the benchmark database (their process titles name it)."""
    return _cpu_seconds(lambda pid, ppid: _is_benchmark_backend(pid))


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def _upload_requests(data: dict, start: int, count: int, tag: str) -> list[tuple]:
    from django.utils import timezone

    headers = {"Authorization": f"Token {data['hospital_token']}", "Content-Type": "application/json"}
    issued = (timezone.localtime() - dt.timedelta(minutes=30)).isoformat()
    apps = data["applications"]
    out = []
    for i in range(start, start + count):
        body = {"serial_no": f"RX{tag}{i:08d}", "application": apps[i % len(apps)],
                "physician_code": data["physician"], "pharmacy_code": data["pharmacy"], "issued_at": issued,
                "long_term": False, "care_setting": "outpatient",
                "items": [{"drug_code": data["drug"], "quantity": 2, "days_supply": 30}], "signature": f"SIG{i}"}
        out.append(("POST", "/api/v1/prescriptions/", json.dumps(body).encode(), headers, (201,)))
    return out


def _dispense_requests(data: dict, ids: list[int], code_base: int) -> list[tuple]:
    from django.utils import timezone

    headers = {"Authorization": f"Token {data['pharmacy_token']}", "Content-Type": "application/json"}
    when = timezone.localtime().isoformat()
    out = []
    for k, pid in enumerate(ids):
        codes = [f"8{code_base + 2 * k:019d}", f"8{code_base + 2 * k + 1:019d}"]
        body = {"dispensed_at": when, "items": [{"drug_code": data["drug"], "quantity": 2, "unit_price": "980.00",
                                                 "trace_codes": codes}]}
        out.append(("POST", f"/api/v1/prescriptions/{pid}/dispense/", json.dumps(body).encode(), headers, (201,)))
    return out


def main(argv: list[str]) -> None:
    opts = _options(argv)
    url = django_on_fresh_database("bench_rx_load")
    from benchmarks.rx_loadgen import run_phase

    rounds = {"on": [True], "off": [False], "both": [False, True]}[opts["monitoring"]]
    t0 = time.perf_counter()
    # each round its own patients: (n + warm-up) / 2 patients, two prescriptions each
    data = seed(len(rounds) * (opts["n"] + opts["warmup"]) - opts["warmup"], opts["warmup"])
    print(f"seeded {len(data['applications'])} patients with approved applications in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    from django.db import connections

    connections.close_all()
    every = data["applications"]
    per_round = len(every) // len(rounds)
    p50, cpu = {}, {}
    for k, monitoring in enumerate(rounds):
        label = "monitoring flags " + ("on" if monitoring else "off")
        p50[monitoring], cpu[monitoring] = _round({**data, "applications": every[k * per_round:(k + 1) * per_round]}, opts, url,
                                 run_phase, monitoring=monitoring, label=label, tag=str(k), code_offset=k * 10**11)
    if len(rounds) == 2:
        print(f"dispensing p50: {p50[False]:.2f} ms with the monitoring flags off (before), {p50[True]:.2f} ms with "
              f"them on (after): the flags cost {p50[True] - p50[False]:+.2f} ms at p50; CPU per dispensing "
              f"(gunicorn + PostgreSQL, independent of the machine's load) {cpu[False]:.2f} → {cpu[True]:.2f} ms "
              f"({cpu[True] - cpu[False]:+.2f} ms)", flush=True)
    _check(data)
    print(f"benchmark process peak RSS {peak_rss_mib():.0f} MiB")


def _round(data: dict, opts: dict, url: str, run_phase, *, monitoring: bool, label: str, tag: str,
           code_offset: int) -> tuple[float, float]:
    """Gunicorn started with the flags on or off, warm-up, uploads, dispensings; returns the dispensings' p50 and
    their CPU per request (gunicorn + PostgreSQL, ms)."""
    proc = start_gunicorn(port=opts["port"], workers=opts["workers"], threads=opts["threads"], database_url=url,
                          monitoring=monitoring)
    kind = f"{opts['threads']} threads (gthread)" if opts["threads"] > 1 else "1 thread (sync)"
    print(f"[{label}] gunicorn: {opts['workers']} workers × {kind}; load: "
          f"{opts['concurrency']} keep-alive connections on loopback", flush=True)
    try:
        host, port, conc = "127.0.0.1", opts["port"], opts["concurrency"]
        # warm-up: workers import, connect to PostgreSQL, fill caches (not counted)
        warm = run_phase("warm-up", host, port, _upload_requests(data, 0, opts["warmup"], "W" + tag), conc,
                         keep_bodies=True)
        warm_ids = [b["id"] for b in warm.bodies.values()]
        run_phase("warm-up", host, port, _dispense_requests(data, warm_ids, 10**12 + code_offset), conc)
        if warm.errors:
            print("warm-up errors:", *warm.errors[:5], sep="\n  ")

        # the order of dispensings matters for the row lock: two prescriptions of one patient are far apart
        requests = _upload_requests(data, opts["warmup"], opts["n"], "B" + tag)
        cpu0, pg0, own0 = _tree_cpu_seconds(proc.pid), _postgres_cpu_seconds(), time.process_time()
        uploads = run_phase("uploads", host, port, requests, conc, keep_bodies=True)
        cpu1, pg1, own1 = _tree_cpu_seconds(proc.pid), _postgres_cpu_seconds(), time.process_time()
        print(uploads.line(), flush=True)
        _cpu_line(uploads, cpu1 - cpu0, pg1 - pg0, own1 - own0)
        ids = [uploads.bodies[i]["id"] for i in sorted(uploads.bodies)]
        requests = _dispense_requests(data, ids, 2 * 10**12 + code_offset)
        cpu0, pg0, own0 = _tree_cpu_seconds(proc.pid), _postgres_cpu_seconds(), time.process_time()
        dispensings = run_phase("dispensings", host, port, requests, conc)
        cpu1, pg1, own1 = _tree_cpu_seconds(proc.pid), _postgres_cpu_seconds(), time.process_time()
        print(dispensings.line(), flush=True)
        _cpu_line(dispensings, cpu1 - cpu0, pg1 - pg0, own1 - own0)
        cpu_per = (cpu1 - cpu0 + pg1 - pg0) / (dispensings.count or 1) * 1000
        load = os.getloadavg()
        print(f"machine load average during the run: {load[0]:.1f} (1 min), {load[1]:.1f} (5 min) on "
              f"{os.cpu_count()} cores")
        for result in (uploads, dispensings):
            for error in result.errors[:5]:
                print(f"  {result.name} error: {error}")
        ok = (uploads.throughput >= 200 and dispensings.throughput >= 100
              and uploads.percentile(99) < 150 and dispensings.percentile(99) < 150)
        print(f"[{label}] target (≥200 uploads/s, ≥100 dispensings/s, p99 < 150 ms): {'met' if ok else 'NOT met'}")
    finally:
        stop(proc)
    if monitoring:
        _alerts_line()
    return dispensings.percentile(50), cpu_per


def _alerts_line() -> None:
    from django.db.models import Count

    from apps.monitoring.models import Alert

    by_rule = dict(Alert.objects.values_list("rule").annotate(n=Count("id")))
    print("  alerts raised on the hot path: " + (", ".join(f"{k} {v}" for k, v in sorted(by_rule.items())) or "none"),
          flush=True)


def _cpu_line(result, server: float, postgres: float, client: float) -> None:
    n = result.count or 1
    per = (server + postgres + client) / n * 1000
    print(f"{'':<12} CPU per request: gunicorn {server / n * 1000:.2f} ms, PostgreSQL {postgres / n * 1000:.2f} ms, "
          f"load generator {client / n * 1000:.2f} ms → ≈ {2000 / per:.0f} req/s on 2 idle cores", flush=True)


def _check(data: dict) -> None:
    """The load must have done the right thing, not just answered fast."""
    from django.db.models import Count, Sum

    from apps.prescriptions.models import Dispensing, PatientYearUsage, TraceCode

    dispensings = Dispensing.objects.aggregate(n=Count("id"), fund=Sum("fund_payment"))
    usage = PatientYearUsage.objects.aggregate(fund=Sum("fund_paid"), deductible=Sum("deductible_met"))
    over = PatientYearUsage.objects.filter(deductible_met__gt=Decimal("500.00")).count()
    print(f"check: {dispensings['n']} dispensings, {TraceCode.objects.count()} trace codes, fund "
          f"{dispensings['fund']} = accumulated {usage['fund']}, patients over the deductible: {over}")
