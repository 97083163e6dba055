"""Section 9 batch split over real Celery workers (issue 16 "Beyond one machine"): a monitoring run split into
groups of pooling cities (``MONITORING_GROUPS``, a chord on the ``monitoring`` queue) and shared by two worker
processes raises exactly the alerts of a one-process run, with its progress in ``MonitoringRun``.

The workers are ``celery -A config worker`` subprocesses on the test database and the Redis of
``TEST_CELERY_REDIS_URL`` (default ``redis://localhost:6379/14``), the test's queues under a key prefix of its own,
as in ``tests/settlement/test_workers.py``.
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg2
import pytest
from celery import Celery
from django.db import connection

from apps.core.models import Event, EventAction
from apps.monitoring import services
from apps.monitoring.models import Alert, MonitoringRun
from apps.prescriptions.models import StockMovement
from tests import factories as f
from tests.monitoring import builders as b
from tests.prescriptions import factories as rxf

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_CELERY_REDIS_URL", "redis://localhost:6379/14")
D = dt.date

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_broker():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{s['NAME']}"


class Worker:
    """A ``celery -A config worker`` process (solo pool) of the ``monitoring`` queue on the test database."""

    def __init__(self, name: str, tmp_path: Path, prefix: str, **env):
        self.name = f"{name}-{uuid.uuid4().hex[:6]}@localhost"
        self.log = tmp_path / f"{name}.log"
        environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DJANGO_DEBUG": "false",
                       "DATABASE_URL": _database_url(), "CELERY_BROKER_URL": REDIS_URL,
                       "CELERY_RESULT_BACKEND": REDIS_URL, "CELERY_TASK_ALWAYS_EAGER": "false",
                       "LOG_LEVEL": "INFO", "CONN_MAX_AGE": "0", "BROKER_KEY_PREFIX": prefix, **env}
        environment.pop("TEST_DATABASE_NAME", None)
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "celery"), "-A", "config", "worker", "--pool=solo", "-Q", "monitoring",
             "-n", self.name, "--without-gossip", "--without-mingle", "-l", "info", "--logfile", str(self.log)],
            cwd=ROOT, env=environment, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.exists() and " ready." in self.log.read_text(errors="replace"):
                return
            assert self.proc.poll() is None, f"worker {self.name} exited: {self.log.read_text(errors='replace')[-2000:]}"
            time.sleep(0.3)
        raise AssertionError(f"worker {self.name} not ready in {timeout} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@pytest.fixture
def workers(tmp_path, redis_broker):
    started: list[Worker] = []

    def start(name: str, **env) -> Worker:
        worker = Worker(name, tmp_path, redis_broker, **env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def _send(prefix: str, task: str, *args) -> None:
    client = Celery("test-client", broker=REDIS_URL, backend=REDIS_URL, set_as_current=False)
    client.conf.broker_write_url = REDIS_URL  # not the environment's CELERY_BROKER_URL (see the settlement test)
    client.conf.broker_transport_options = {"global_keyprefix": prefix}
    client.send_task(task, args=list(args), queue="monitoring")
    client.close()


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _lock_waiters(blocker) -> list[int]:
    with blocker.cursor() as cur:
        cur.execute("""SELECT pid FROM pg_stat_activity WHERE datname = current_database()
                       AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'""")
        return [row[0] for row in cur.fetchall()]


def _alerts() -> list[tuple]:
    """The month's alerts without ids or timestamps: what "the same alerts" means."""
    return sorted(Alert.objects.filter(period=b.NOV).values_list(
        "rule", "finding_key", "region_id", "institution_id", "pharmacy_id", "person_id", "physician_id", "period",
        "amount_at_risk", "summary", "evidence", "status"), key=lambda a: a[1])


def _month_in_two_cities():
    """Zhongwei (6405) and Yinchuan (6401), with findings of R-MON-1, -3, -4, -5 (one patient's supplies across
    both cities: the finding belongs to the city of the first flagged line's pharmacy), -6 and -8."""
    s = b.world()
    yinchuan = f.PharmacyFactory(region=f.region("640104"))
    # R-MON-5 across the cities: 30 days at Zhongwei, then 30 more at Yinchuan on the same day (flagged there)
    b.dispense(s, day=D(2026, 11, 5), days_supply=30, hour=9)
    b.dispense(s, day=D(2026, 11, 5), days_supply=30, hour=10, pharmacy=yinchuan)
    # and a third supply at Zhongwei's second pharmacy: flagged too, the same finding (about Yinchuan)
    b.dispense(s, day=D(2026, 11, 12), days_supply=20, hour=9, pharmacy=s.pharmacy2)
    # R-MON-3 in each city: a patient with no application (and R-MON-5 at Yinchuan: 30 days from Zhongwei running)
    other = rxf.person(name="李四")
    b.dispense(s, day=D(2026, 11, 6), person=other)
    b.dispense(s, day=D(2026, 11, 7), person=other, pharmacy=yinchuan)
    # R-MON-1 at Yinchuan: above the 1,000.00 standard
    b.dispense(s, day=D(2026, 11, 8), price=Decimal("1100.00"), pharmacy=yinchuan)
    # R-MON-4: a released code dispensed again by another pharmacy
    code = b.code()
    first = b.dispense(s, day=D(2026, 11, 3), codes=[code])
    b.reverse(first, day=D(2026, 11, 3))
    b.dispense(s, day=D(2026, 11, 10), codes=[code], pharmacy=yinchuan)
    # R-MON-8: Zhongwei's pharmacy reports stock, one pack bought
    b.stock(s.pharmacy, s.drug, quantity=1, day=D(2026, 10, 20))
    return s


def test_section_9_batch_split_over_two_workers_raises_the_alerts_of_a_one_process_run(redis_broker, workers):
    """MONITORING_GROUPS=3 on three pooling cities (the province's own code, Yinchuan, Zhongwei): the run is split
    into 3 groups (6 line rules each, the first also R-MON-4, -7, -8: 21 steps). The first group waits on the
    stock table, locked by another session, until the other worker has written both other groups — so both
    workers take part; then the lock is released. The run succeeds with 21 of 21 steps, its event names both
    workers, and the alerts equal those of a one-process run of the month (same keys, parties, amounts, texts
    and evidence); a rerun by the workers raises nothing new."""
    _month_in_two_cities()
    one, two = workers("w1", MONITORING_GROUPS="3"), workers("w2", MONITORING_GROUPS="3")
    s = connection.settings_dict
    blocker = psycopg2.connect(dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"],
                               host=s["HOST"] or "localhost", port=s["PORT"] or 5432)
    try:
        with blocker.cursor() as cur:
            cur.execute(f"LOCK TABLE {StockMovement._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        one.wait_ready()
        two.wait_ready()
        run = services.monitoring_run_create(period=b.NOV, region=None, actor=None, now=b.NOW)
        _send(redis_broker, "apps.monitoring.tasks.execute_run", run.pk)
        _wait(lambda: MonitoringRun.objects.filter(pk=run.pk, rules_total=21, rules_done__gte=18).exists()
              and _lock_waiters(blocker), 120, "both other groups written, the first waiting on the stock table")
        blocker.rollback()
    finally:
        blocker.close()
    _wait(lambda: MonitoringRun.objects.filter(pk=run.pk, status__in=("succeeded", "failed")).exists(), 90,
          "the chord to finish")
    run.refresh_from_db()
    assert run.status == MonitoringRun.Status.SUCCEEDED, run.error
    assert (run.rules_done, run.rules_total, run.progress_percent) == (21, 21, 100)
    event = Event.objects.get(object_id=str(run.pk), action=EventAction.MONITORING_RUN)
    assert sorted(event.data["workers"]) == sorted([one.name, two.name])
    split = _alerts()
    rules = {a[0] for a in split}
    assert {"R-MON-1", "R-MON-3", "R-MON-4", "R-MON-5", "R-MON-6", "R-MON-8"} <= rules, rules
    cross_city = [a for a in split if a[0] == "R-MON-5" and a[2] == f.region("640104").pk]
    # both patients' second supplies came from Yinchuan while the Zhongwei one ran: found by Yinchuan's group
    assert len(cross_city) == 2
    assert run.findings == len(split) and run.alerts_raised == len(split)
    with connection.cursor() as cur:  # the run's month table is gone
        cur.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'monitoring_month_%%'")
        assert cur.fetchone()[0] == 0

    # a rerun by the workers: nothing new, nothing rewritten
    rerun = services.monitoring_run_create(period=b.NOV, region=None, actor=None, now=b.NOW)
    _send(redis_broker, "apps.monitoring.tasks.execute_run", rerun.pk)
    _wait(lambda: MonitoringRun.objects.filter(pk=rerun.pk, status__in=("succeeded", "failed")).exists(), 120,
          "the rerun")
    rerun.refresh_from_db()
    assert rerun.status == MonitoringRun.Status.SUCCEEDED and rerun.alerts_raised == 0
    assert rerun.findings == run.findings and _alerts() == split

    # the one-process run of the same month, from nothing
    Alert.objects.filter(period=b.NOV).delete()
    alone = services.monitoring_run_now(period=b.NOV, now=b.NOW)
    assert alone.status == MonitoringRun.Status.SUCCEEDED and alone.findings == run.findings
    assert _alerts() == split
