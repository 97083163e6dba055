"""Prescription load through the real HTTP stack (issues 5 and 16 "REST"): gunicorn on a fresh PostgreSQL
database, a keep-alive load generator on loopback (``benchmarks/rx_loadgen.py``), its floor, uploads, dispensings.

    python -m benchmarks rx_load [--n=4000] [--concurrency=6] [--workers=3] [--threads=3] [--port=18765]
                                 [--monitoring=on|off|both] [--mix=realistic|pathological|both] [--hook=400]

**The floor** (issue 16): each round first drives ``--n`` bare DRF creates of the upload's body
(``benchmarks/bare_endpoint.py``, mounted only in this benchmark's gunicorn) through the same gunicorn, then the
uploads and the dispensings; it prints the throughput ratios to that floor and p50/p95/p99. Targets: uploads ≥ 90 %
and dispensings ≥ 70 % of the bare create's throughput, p99 ≤ 100 ms at the default concurrency, with the
monitoring flags on.

``--monitoring``: the section 9 flags on every dispensing (R-MON-1..5, ``apps.monitoring.hot``) on (as in
production), off (``MONITORING_FLAGS_ON_DISPENSING=false`` in gunicorn's environment), or ``both`` (the default):
a round with the flags off ("before"), then the rounds with gunicorn restarted with them on ("after"), each round
on its own patients, and the p50 and CPU differences printed.

``--mix``: how many dispensings a flag fires on. ``realistic``: each patient's prescription is a first supply
except one dispensing in 64 (1.6 %, the monitoring benchmark's realistic month has 1.3 % findings), a second
same-day 30-day supply of a patient dispensed 500 requests earlier — R-MON-5 raises an alert. ``pathological``:
every patient receives two such supplies, so half the dispensings raise an alert (the issue-12 measurement). With
``both`` (the default) the flags-on round runs for each mix; the flags-off round does the same work whatever the
mix (no rule runs), so it is run once, on the realistic mix.

``--hook``: after the rounds, that many dispensings (half of them second supplies) through the dispensing service
in this process, timing the monitoring hook's own call (wall and CPU) and counting its statements.
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
            "monitoring": "both", "mix": "both", "hook": 400}
    choices = {"monitoring": ("on", "off", "both"), "mix": ("realistic", "pathological", "both")}
    for arg in argv:
        if arg.startswith("--") and "=" in arg:
            key, value = arg[2:].split("=", 1)
            if key in choices:
                if value not in choices[key]:
                    sys.exit(f"--{key}={'|'.join(choices[key])}")
                opts[key] = value
            elif key in opts:
                opts[key] = int(value)
    return opts


#: the realistic mix: one dispensing in REPEAT_STEP is a patient's second same-day supply (R-MON-5 fires), of the
#: patient dispensed REPEAT_GAP requests earlier (long committed, and not a multiple of the step: no third supply)
REPEAT_STEP, REPEAT_GAP = 64, 500


def _patients_needed(count: int, mix: str) -> int:
    if mix == "pathological":
        return (count + 1) // 2
    return count - sum(1 for i in range(count) if i % REPEAT_STEP == REPEAT_STEP - 1 and i >= REPEAT_GAP)


def _patient_sequence(applications: list[int], count: int, mix: str) -> list[int]:
    """The application (patient) of each of a round's ``count`` prescriptions, in upload (= dispensing) order.
    Pathological: prescription i and i + count/2 share a patient (far apart, so the row lock on the patient's year
    accumulator is not what is measured). Realistic: a fresh patient each, but one in ``REPEAT_STEP``."""
    if mix == "pathological":
        half = (count + 1) // 2
        return [applications[i % half] for i in range(count)]
    fresh = iter(applications)
    out: list[int] = []
    for i in range(count):
        out.append(out[i - REPEAT_GAP] if i % REPEAT_STEP == REPEAT_STEP - 1 and i >= REPEAT_GAP else next(fresh))
    return out


def seed(n_persons: int) -> dict:
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
           "BENCHMARK_BARE_ENDPOINTS": "true",  # the floor: /bench/bare/prescriptions/ (benchmarks/bare_endpoint.py)
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


def _upload_requests(data: dict, start: int, count: int, tag: str, path: str = "/api/v1/prescriptions/") -> list[tuple]:
    """Upload bodies for prescriptions ``start … start + count`` of the round (``data["sequence"]``: the patient of
    each); ``path`` = the bare endpoint for the floor (same body)."""
    from django.utils import timezone

    headers = {"Authorization": f"Token {data['hospital_token']}", "Content-Type": "application/json"}
    issued = (timezone.localtime() - dt.timedelta(minutes=30)).isoformat()
    sequence = data["sequence"]
    out = []
    for i in range(start, start + count):
        body = {"serial_no": f"RX{tag}{i:08d}", "application": sequence[i % len(sequence)],
                "physician_code": data["physician"], "pharmacy_code": data["pharmacy"], "issued_at": issued,
                "long_term": False, "care_setting": "outpatient",
                "items": [{"drug_code": data["drug"], "quantity": 2, "days_supply": 30}], "signature": f"SIG{i}"}
        out.append(("POST", path, json.dumps(body).encode(), headers, (201,)))
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


def _rounds(opts: dict) -> list[tuple[bool, str]]:
    """(flags on, mix) of each round, the flags-off one first."""
    mixes = ["realistic", "pathological"] if opts["mix"] == "both" else [opts["mix"]]
    rounds = []
    if opts["monitoring"] in ("off", "both"):
        rounds.append((False, mixes[0]))
    if opts["monitoring"] in ("on", "both"):
        rounds += [(True, mix) for mix in mixes]
    return rounds


def main(argv: list[str]) -> None:
    opts = _options(argv)
    url = django_on_fresh_database("bench_rx_load")
    from benchmarks.rx_loadgen import run_phase

    rounds = _rounds(opts)
    count = opts["warmup"] + opts["n"]
    needs = [_patients_needed(count, mix) for _, mix in rounds]
    hook_patients = (opts["hook"] + 1) // 2
    t0 = time.perf_counter()
    data = seed(sum(needs) + hook_patients)
    print(f"seeded {len(data['applications'])} patients with approved applications in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    from django.db import connections

    connections.close_all()
    every, at, results = data["applications"], 0, []
    for k, ((monitoring, mix), need) in enumerate(zip(rounds, needs)):
        label = f"flags {'on' if monitoring else 'off'}, {mix} mix"
        sequence = _patient_sequence(every[at:at + need], count, mix)
        at += need
        results.append(_round({**data, "sequence": sequence}, opts, url, run_phase, monitoring=monitoring, mix=mix,
                              label=label, tag=str(k), code_offset=k * 10**11))
    _summary(results, opts)
    if opts["hook"]:
        _hook_in_process(data, every[at:at + hook_patients], opts["hook"])
    _check(data)
    print(f"benchmark process peak RSS {peak_rss_mib():.0f} MiB")


def _round(data: dict, opts: dict, url: str, run_phase, *, monitoring: bool, mix: str, label: str, tag: str,
           code_offset: int) -> dict:
    """Gunicorn started with the flags on or off; warm-up; the floor (bare creates), uploads, dispensings. Returns
    the round's figures."""
    from apps.monitoring.models import Alert

    alerts0 = Alert.objects.count()
    proc = start_gunicorn(port=opts["port"], workers=opts["workers"], threads=opts["threads"], database_url=url,
                          monitoring=monitoring)
    kind = f"{opts['threads']} threads (gthread)" if opts["threads"] > 1 else "1 thread (sync)"
    print(f"[{label}] gunicorn: {opts['workers']} workers × {kind}; load: "
          f"{opts['concurrency']} keep-alive connections on loopback", flush=True)
    out = {"label": label, "monitoring": monitoring, "mix": mix}
    try:
        host, port, conc, warmup, n = "127.0.0.1", opts["port"], opts["concurrency"], opts["warmup"], opts["n"]
        # warm-up: workers import, connect to PostgreSQL, prepare their statements (not counted)
        warm = run_phase("warm-up", host, port, _upload_requests(data, 0, warmup, "W" + tag), conc,
                         keep_bodies=True)
        warm_ids = [warm.bodies[i]["id"] for i in sorted(warm.bodies)]
        run_phase("warm-up", host, port, _dispense_requests(data, warm_ids, 10**12 + code_offset), conc)
        run_phase("warm-up", host, port, _upload_requests(data, 0, warmup, "V" + tag, BARE_PATH), conc)
        if warm.errors:
            print("warm-up errors:", *warm.errors[:5], sep="\n  ")

        def phase(name, requests, **kw):
            cpu0, pg0, own0 = _tree_cpu_seconds(proc.pid), _postgres_cpu_seconds(), time.process_time()
            result = run_phase(name, host, port, requests, conc, **kw)
            cpu1, pg1, own1 = _tree_cpu_seconds(proc.pid), _postgres_cpu_seconds(), time.process_time()
            print(result.line(), flush=True)
            _cpu_line(result, cpu1 - cpu0, pg1 - pg0, own1 - own0)
            per = result.count or 1
            out[name] = {"rps": result.throughput, "p50": result.percentile(50), "p95": result.percentile(95),
                         "p99": result.percentile(99), "gunicorn": (cpu1 - cpu0) / per * 1000,
                         "pg": (pg1 - pg0) / per * 1000, "bad": sum(v for st, v in result.statuses.items()
                                                                   if st not in (200, 201))}
            for error in result.errors[:5]:
                print(f"  {name} error: {error}")
            return result

        phase("bare", _upload_requests(data, warmup, n, "F" + tag, BARE_PATH))
        # the order of dispensings matters for the row lock: two prescriptions of one patient are far apart
        uploads = phase("uploads", _upload_requests(data, warmup, n, "B" + tag), keep_bodies=True)
        ids = [uploads.bodies[i]["id"] for i in sorted(uploads.bodies)]
        phase("dispensings", _dispense_requests(data, ids, 2 * 10**12 + code_offset))
        load = os.getloadavg()
        out["load"] = load
        print(f"machine load average during the run: {load[0]:.1f} (1 min), {load[1]:.1f} (5 min) on "
              f"{os.cpu_count()} cores")
        _target_line(out, label)
    finally:
        stop(proc)
    out["alerts"] = Alert.objects.count() - alerts0
    if monitoring:
        _alerts_line(out["alerts"], opts["n"] + opts["warmup"])
    return out


BARE_PATH = "/bench/bare/prescriptions/"


def _ratios(r: dict) -> tuple[float, float]:
    floor = r["bare"]["rps"] or 1.0
    return r["uploads"]["rps"] / floor, r["dispensings"]["rps"] / floor


def _target_line(r: dict, label: str) -> None:
    up, disp = _ratios(r)
    p99 = max(r["uploads"]["p99"], r["dispensings"]["p99"])
    ok = up >= 0.90 and disp >= 0.70 and p99 <= 100
    print(f"[{label}] floor (bare DRF create) {r['bare']['rps']:.1f} req/s: uploads {up:.0%}, dispensings "
          f"{disp:.0%} of it; p99 uploads {r['uploads']['p99']:.1f} ms, dispensings {r['dispensings']['p99']:.1f} ms "
          f"— issue 16 target (≥ 90 %, ≥ 70 %, p99 ≤ 100 ms): {'met' if ok else 'NOT met'}", flush=True)


def _summary(results: list[dict], opts: dict) -> None:
    print(f"\nsummary ({opts['n']} requests a phase, {opts['concurrency']} connections, {opts['workers']} workers × "
          f"{opts['threads']} threads):")
    print(f"{'round':<32} {'load':>5} {'phase':<12} {'req/s':>7} {'of floor':>8} {'p50':>7} {'p95':>7} {'p99':>7} "
          f"{'CPU ms (gunicorn + PG)':>24}")
    for r in results:
        up, disp = _ratios(r)
        for name, ratio in (("bare", None), ("uploads", up), ("dispensings", disp)):
            f = r[name]
            print(f"{r['label'] if name == 'bare' else '':<32} {r['load'][0] if name == 'bare' else '':>5} "
                  f"{name:<12} {f['rps']:7.1f} {'' if ratio is None else f'{ratio:.0%}':>8} {f['p50']:7.1f} "
                  f"{f['p95']:7.1f} {f['p99']:7.1f} {f['gunicorn']:10.2f} + {f['pg']:.2f} = "
                  f"{f['gunicorn'] + f['pg']:.2f}")
    off = next((r for r in results if not r["monitoring"]), None)
    for r in results:
        if r["monitoring"] and off is not None:
            d, o = r["dispensings"], off["dispensings"]
            print(f"flags cost ({r['mix']} mix, {r['alerts']} alerts raised): dispensing p50 {o['p50']:.2f} → "
                  f"{d['p50']:.2f} ms ({d['p50'] - o['p50']:+.2f} ms), CPU per dispensing (gunicorn + PostgreSQL) "
                  f"{o['gunicorn'] + o['pg']:.2f} → {d['gunicorn'] + d['pg']:.2f} ms "
                  f"({d['gunicorn'] + d['pg'] - o['gunicorn'] - o['pg']:+.2f} ms); floor-relative dispensings "
                  f"{_ratios(off)[1]:.0%} → {_ratios(r)[1]:.0%}", flush=True)


def _hook_in_process(data: dict, applications: list[int], count: int) -> None:
    """``count`` dispensings through the real services in this process (half of them a patient's second
    same-day supply, which raises an R-MON-5 alert): the monitoring hook's own wall and CPU time per call and the
    statements it sends, with and without an alert."""
    import statistics

    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from apps.prescriptions import hooks

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client()
    sequence = _patient_sequence(applications, count, "pathological")
    uploads = _upload_requests({**data, "sequence": sequence}, 0, count, "H")
    ids = []
    for _method, path, body, headers, _ok in uploads:
        response = client.post(path, body, content_type="application/json",
                               HTTP_AUTHORIZATION=headers["Authorization"])
        assert response.status_code == 201, response.content[:300]
        ids.append(response.json()["id"])
    calls: list[tuple[float, float, int, int]] = []
    statements = [0]

    def count_statements(execute, sql, params, many, context):
        statements[0] += not sql.startswith("PREPARE")  # a connection prepares each statement shape once
        return execute(sql, params, many, context)

    handlers = hooks.dispensing_recorded.handlers
    originals = list(handlers)

    def timed(handler):
        def call(**kwargs):
            statements[0] = 0
            t, c = time.perf_counter(), time.process_time()
            with connection.execute_wrapper(count_statements):
                raised = handler(**kwargs)
            calls.append(((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000, raised or 0,
                          statements[0]))
            return raised
        return call

    handlers[:] = [timed(h) for h in originals]
    try:
        for _method, path, body, headers, _ok in _dispense_requests(data, ids, 4 * 10**12):
            response = client.post(path, body, content_type="application/json",
                                   HTTP_AUTHORIZATION=headers["Authorization"])
            assert response.status_code == 201, response.content[:300]
    finally:
        handlers[:] = originals
    for name, subset in (("no alert", [c for c in calls if not c[2]]), ("an alert", [c for c in calls if c[2]])):
        if not subset:
            continue
        wall, cpu = sorted(c[0] for c in subset), sorted(c[1] for c in subset)
        print(f"monitoring hook in process, calls raising {name} ({len(subset)}): wall p50 "
              f"{statistics.median(wall):.3f} ms, p95 {wall[int(len(wall) * 0.95)]:.3f} ms; CPU p50 "
              f"{statistics.median(cpu):.3f} ms; statements per call {sorted({c[3] for c in subset})}", flush=True)
    wall = sorted(c[0] for c in calls)
    print(f"monitoring hook in process, all {len(calls)} calls: wall p50 {statistics.median(wall):.3f} ms; load "
          f"average {os.getloadavg()[0]:.1f}", flush=True)


def _alerts_line(new: int, dispensings: int) -> None:
    print(f"  alerts raised on the hot path this round: {new} ({new / (dispensings or 1):.1%} of "
          f"{dispensings} dispensings, warm-up included)", flush=True)


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
