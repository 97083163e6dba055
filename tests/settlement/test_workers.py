"""R-SET-1 with real Celery workers on Redis and PostgreSQL (issue 14 §9, issue 16 "Beyond one machine").

- A worker killed (SIGKILL) in the middle of a month leaves the run "running" with some statements recomputed and
  others stale; its heartbeat stops, so within a minute the run counts as dead: a rerun is not refused, and it
  converges to exactly the statements of a one-shot run.
- A run split into groups of organisations (a chord on the ``settlement`` queue) shared by two worker processes
  writes exactly the statements of a one-shot run.

The workers are ``celery -A config worker`` subprocesses on the test database and the Redis of
``TEST_CELERY_REDIS_URL`` (default ``redis://localhost:6379/14``), each test's queues under a key prefix of its own
(``BROKER_KEY_PREFIX``), so parallel test runs sharing the Redis never take each other's tasks.
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import psycopg2
import pytest
from celery import Celery
from django.db import connection
from django.db.models import F
from django.utils import timezone

from apps.core.exceptions import ApplicationError
from apps.core.models import Event, EventAction
from apps.prescriptions.models import Delivery
from apps.settlement import services
from apps.settlement.models import SettlementRun, Statement, StatementLine
from tests import factories as f
from tests.settlement import factories as sf

NOV = dt.date(2026, 11, 1)
ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_CELERY_REDIS_URL", "redis://localhost:6379/14")

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_broker():
    """This test's key prefix on the Redis broker; its keys are deleted afterwards."""
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
    """A ``celery -A config worker`` process (solo pool: the task runs in the process we kill) on the test
    database and the test Redis."""

    def __init__(self, name: str, tmp_path: Path, prefix: str, **env):
        self.name = f"{name}-{uuid.uuid4().hex[:6]}@localhost"
        self.log = tmp_path / f"{name}.log"
        environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DJANGO_DEBUG": "false",
                       "DATABASE_URL": _database_url(), "CELERY_BROKER_URL": REDIS_URL,
                       "CELERY_RESULT_BACKEND": REDIS_URL, "CELERY_TASK_ALWAYS_EAGER": "false",
                       "LOG_LEVEL": "INFO", "CONN_MAX_AGE": "0", "BROKER_KEY_PREFIX": prefix, **env}
        environment.pop("TEST_DATABASE_NAME", None)
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "celery"), "-A", "config", "worker", "--pool=solo", "-Q", "settlement",
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

    def kill(self) -> None:
        """SIGKILL: no shutdown, no acknowledgement, no last heartbeat."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


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
    # Celery's ``broker_url`` prefers the environment's CELERY_BROKER_URL (CI exports the app's broker, another
    # Redis database) over the argument; the write URL names the workers' broker explicitly
    client.conf.broker_write_url = REDIS_URL
    client.conf.broker_transport_options = {"global_keyprefix": prefix}
    client.send_task(task, args=list(args), queue="settlement")
    client.close()


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _month() -> tuple[list, list]:
    """The month's statements (organisation, figures, fingerprint) and lines (organisation, dispensing), without
    ids or timestamps: what "the same statements" means."""
    statements = sorted(Statement.objects.filter(period=NOV).values_list(
        "organisation_kind", "institution_id", "pharmacy_id", "visits", "total", "fund_payment", "personal_payment",
        "deposit_rate", "deposit", "deductions", "payable", "line_count", "source_digest", "status"),
        key=lambda r: (r[0], r[1] or 0, r[2] or 0))
    lines = sorted(StatementLine.objects.filter(statement__period=NOV).values_list(
        "statement__pharmacy_id", "statement__institution_id", "dispensing_id"), key=lambda r: r[2])
    return statements, lines


def _one_shot_month() -> tuple[list, list]:
    """The month settled from nothing by one run in this process."""
    StatementLine.objects.filter(statement__period=NOV).delete()
    Statement.objects.filter(period=NOV).delete()
    assert services.settlement_run_now(period=NOV, clock=sf.clock).status == "succeeded"
    return _month()


def _blocker():
    """A second session of the test database (outside Django's connection) that holds row locks."""
    s = connection.settings_dict
    conn = psycopg2.connect(dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"], host=s["HOST"] or "localhost",
                            port=s["PORT"] or 5432)
    return conn


def _lock_waiters(blocker) -> list[int]:
    with blocker.cursor() as cur:
        cur.execute("""SELECT pid FROM pg_stat_activity WHERE datname = current_database()
                       AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'""")
        return [row[0] for row in cur.fetchall()]


def test_r_set_1_killed_worker_run_is_detected_dead_and_the_rerun_converges_to_a_one_shot_month(
        zhongwei, redis_broker, workers):
    """12 pharmacies, one dispensing each, settled; then one more dispensing each (every statement changes). The
    run is split into 6 groups of 2 pharmacies (CHUNKS_PER_KIND = 10); the last group's statement row is locked by
    another session, so the worker commits 5 groups and waits in the 6th: then it is SIGKILLed. The month is mixed
    (10 statements with 2 lines, 2 stale with 1), the run "running" at 83 %. 30 s after its last heartbeat it is
    still live (a rerun is refused), 61 s after it is dead: the rerun starts, the dead run is marked failed, and
    the month equals a one-shot run: 12 statements × 2 lines, 1 960.00 total and 1 323.00 fund each
    (2 × (980.00 − 98.00) × 0.75)."""
    # given: a settled month, then new dispensings for every pharmacy
    hospital = f.InstitutionFactory()
    drug = f.DrugFactory()
    pharmacies = sorted((f.PharmacyFactory() for _ in range(12)), key=lambda p: p.pk)
    for p in pharmacies:
        sf.dispensing(pharmacy=p, institution=hospital, drug=drug, quantity=1)
    assert services.settlement_run_now(period=NOV, clock=sf.clock).status == "succeeded"
    for p in pharmacies:
        sf.dispensing(pharmacy=p, institution=hospital, drug=drug, quantity=1)
    last = Statement.objects.get(period=NOV, pharmacy=pharmacies[-1])
    blocker = _blocker()
    worker = workers("killed")
    try:
        with blocker.cursor() as cur:
            cur.execute(f"SELECT id FROM {Statement._meta.db_table} WHERE id = %s FOR UPDATE", [last.pk])
        worker.wait_ready()
        run = SettlementRun.objects.create(period=NOV)
        # when: the worker takes the run and is killed while it waits in the last group
        _send(redis_broker, "apps.settlement.tasks.run_settlement", run.pk)
        _wait(lambda: SettlementRun.objects.filter(pk=run.pk, steps_done=5).exists() and _lock_waiters(blocker),
              60, "the worker to commit 5 groups and wait in the 6th")
        worker.kill()
        for pid in _lock_waiters(blocker):  # the killed worker's session (PostgreSQL would find it dead later)
            with blocker.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(%s)", [pid])
        blocker.rollback()
    finally:
        blocker.close()

    # then: the month is mixed and the run still says "running"
    run.refresh_from_db()
    assert run.status == SettlementRun.Status.RUNNING and run.progress == 83 and run.steps_total == 6
    assert run.heartbeat_at is not None and run.worker  # host:pid:mark of the killed process
    counts = dict(Statement.objects.filter(period=NOV).values_list("pharmacy_id", "line_count"))
    assert [counts[p.pk] for p in pharmacies] == [2] * 10 + [1] * 2

    # within the minute the run is live: a rerun is refused; after a minute without a heartbeat it is dead
    with pytest.raises(ApplicationError) as refused:
        services.settlement_run_start(period=NOV, now=run.heartbeat_at + dt.timedelta(seconds=30))
    assert refused.value.code == "run_in_progress"
    later = max(run.heartbeat_at + dt.timedelta(seconds=61), timezone.now())
    rerun = services.settlement_run_start(period=NOV, now=later)  # executes here (eager Celery in the tests)
    run.refresh_from_db()
    rerun.refresh_from_db()
    assert run.status == SettlementRun.Status.FAILED and run.error == services.DEAD_RUN_ERROR
    assert Event.objects.filter(object_id=str(run.pk), action=EventAction.SETTLEMENT_RUN_FAILED).exists()
    assert rerun.status == SettlementRun.Status.SUCCEEDED
    converged = _month()
    assert [s[11] for s in converged[0]] == [2] * 12
    assert {(s[4], s[5]) for s in converged[0]} == {(sf.q2("1960.00"), sf.q2("1323.00"))}
    assert converged == _one_shot_month()


def test_r_set_1_dead_runs_are_marked_failed_by_the_schedule_within_a_minute(zhongwei):
    """The beat task's service: a running run beating 59 s ago is live, 61 s ago dead; a queued run is lost only
    after 30 minutes (its message is redelivered after the 15-minute visibility timeout)."""
    now = timezone.now()
    alive = SettlementRun.objects.create(period=NOV, status="running", started_at=now, heartbeat_at=now - dt.timedelta(seconds=59))
    dead = SettlementRun.objects.create(period=NOV, status="running", started_at=now, heartbeat_at=now - dt.timedelta(seconds=61))
    queued = SettlementRun.objects.create(period=NOV)
    assert services.settlement_runs_fail_dead(now=now) == [dead.pk]
    assert services.settlement_runs_fail_dead(now=now) == []  # idempotent
    statuses = dict(SettlementRun.objects.values_list("pk", "status"))
    assert statuses == {alive.pk: "running", dead.pk: "failed", queued.pk: "queued"}
    assert services.settlement_runs_fail_dead(now=now + dt.timedelta(minutes=31)) == [alive.pk, queued.pk]


def test_r_set_1_a_run_declared_dead_stops_writing_and_a_redelivered_superseded_task_does_nothing(zhongwei):
    """A slow worker whose run was declared dead stops at its next step (RunTakenOver): it never marks the run
    succeeded over the rerun. A redelivered task of a failed run that a later run superseded does nothing."""
    pharmacy = f.PharmacyFactory()
    sf.dispensing(pharmacy=pharmacy)
    now = timezone.now()
    old = SettlementRun.objects.create(period=NOV, status="running", started_at=now, heartbeat_at=now,
                                       worker="elsewhere:1:abc")
    # a second process is handed the same run while its worker is alive: it does nothing
    assert services.settlement_run_execute(run_id=old.pk, clock=lambda: now).status == "running"
    assert not Statement.objects.exists()
    services.settlement_runs_fail_dead(now=now + dt.timedelta(seconds=61))
    newer = services.settlement_run_now(period=NOV, clock=lambda: now + dt.timedelta(seconds=62))
    assert newer.status == "succeeded"
    redelivered = services.settlement_run_execute(run_id=old.pk, clock=lambda: now + dt.timedelta(seconds=70))
    assert redelivered.status == "failed" and redelivered.error == services.DEAD_RUN_ERROR
    # the slow worker's next heartbeat finds its run taken: it must stop
    with pytest.raises(services.RunTakenOver):
        services._beat(old.pk, "elsewhere:1:abc", now)


def test_r_set_1_split_run_on_two_workers_equals_a_one_shot_run(zhongwei, redis_broker, workers):
    """12 pharmacies (two dispensings each) and 3 hospitals with ward deliveries, split 4 groups per kind
    (SETTLEMENT_GROUPS=4): the coordinator's chord of 7 groups (4 of 3 pharmacies, 3 of 1 hospital) runs on two
    worker processes. One group waits on a statement row locked by another session until the other worker has
    written every other group, so both workers take part. The month equals a one-shot run: 12 pharmacy
    statements of 2 lines and 3 hospital statements of 1 ward line."""
    hospitals = sorted((f.InstitutionFactory() for _ in range(3)), key=lambda h: h.pk)
    drug = f.DrugFactory()
    pharmacies = sorted((f.PharmacyFactory() for _ in range(12)), key=lambda p: p.pk)
    for i, p in enumerate(pharmacies):
        for _ in range(2):
            sf.dispensing(pharmacy=p, institution=hospitals[i % 3], drug=drug, quantity=1)
    for h in hospitals:
        sf.dispensing(pharmacy=pharmacies[0], institution=h, drug=drug, quantity=2, delivery=Delivery.WARD)
    expected = _one_shot_month()
    assert len(expected[0]) == 15
    # the statements stay; one more dispensing for the first pharmacy changes its group only
    sf.dispensing(pharmacy=pharmacies[0], institution=hospitals[0], drug=drug, quantity=1)
    Statement.objects.filter(period=NOV).update(source_digest=0)  # every organisation must be rewritten
    first = Statement.objects.get(period=NOV, pharmacy=pharmacies[0])
    one, two = workers("w1", SETTLEMENT_GROUPS="4"), workers("w2", SETTLEMENT_GROUPS="4")
    blocker = _blocker()
    try:
        with blocker.cursor() as cur:
            cur.execute(f"SELECT id FROM {Statement._meta.db_table} WHERE id = %s FOR UPDATE", [first.pk])
        one.wait_ready()
        two.wait_ready()
        run = SettlementRun.objects.create(period=NOV)
        _send(redis_broker, "apps.settlement.tasks.run_settlement", run.pk)
        _wait(lambda: SettlementRun.objects.filter(pk=run.pk, steps_total__gt=1, steps_done=F("steps_total") - 1)
              .exists() and _lock_waiters(blocker), 90, "every group but the first written, the first waiting")
        blocker.rollback()
    finally:
        blocker.close()
    _wait(lambda: SettlementRun.objects.filter(pk=run.pk, status__in=("succeeded", "failed")).exists(), 60,
          "the chord to finish")
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert run.steps_total == 7 and run.steps_done == 7 and run.progress == 100
    event = Event.objects.get(object_id=str(run.pk), action=EventAction.SETTLEMENT_RUN_SUCCEEDED)
    assert sorted(event.data["workers"]) == sorted([one.name, two.name])
    split = _month()
    pharmacy_lines = {s[2]: s[11] for s in split[0] if s[2]}
    assert pharmacy_lines[pharmacies[0].pk] == 3 and sorted(pharmacy_lines.values())[:-1] == [2] * 11
    assert split == _one_shot_month()
