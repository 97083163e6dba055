"""R-SEC-4 (issue 14 §8): an import run never stays "running" after an unexpected error or a dead worker, and the
kept files of refused imports are not kept forever (the run's record is)."""
import datetime as dt
import os

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection
from django.utils import timezone

from apps.catalogue import services, tasks
from apps.catalogue.models import ImportRun
from apps.core.excel import registry
from apps.institutions.models import Institution
from tests import factories as f
from tests.security.test_bad_excel_corpus import _good

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def admin(zhongwei):
    f.region("640502", "沙坡头区")
    return f.bureau_admin()


def _post(client, **data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post("/api/v1/imports/institutions/", {"file": SimpleUploadedFile("机构.xlsx", _good()), **data},
                       format="multipart")


# --- a 500 never leaves a run "running" ---------------------------------------------------------------------------

def test_r_sec_4_an_unexpected_error_while_writing_fails_the_run_and_answers_the_json_500(api_as, admin,
                                                                                          monkeypatch):
    # given a write that breaks in the middle (a bug: here a RuntimeError after the first row was created)
    spec = registry.get("institutions")
    real_write = type(spec).write

    def broken_write(self, plan, ctx):
        real_write(self, plan, ctx)
        raise RuntimeError("boom")

    monkeypatch.setattr(type(spec), "write", broken_write)
    client = api_as(admin)
    client.raise_request_exception = False
    # when the file is imported
    response = _post(client)
    # then the request answers the JSON 500, the run is failed with a message, and the row written is rolled back
    assert response.status_code == 500 and response.json()["code"] == "server_error"
    run = ImportRun.objects.get()
    assert run.status == ImportRun.Status.FAILED and run.finished_at is not None
    assert "内部错误（RuntimeError）" in run.message and f"导入记录编号 {run.pk}" in run.message
    assert run.errors == [{"row": None, "column": None, "message": run.message}]
    assert Institution.objects.count() == 0
    # and its status answers the failure (400 invalid_import with the message), not a run in progress
    status = client.get(f"/api/v1/imports/{run.pk}/")
    assert status.status_code == 400 and "内部错误" in status.json()["detail"]


@pytest.mark.postgres  # SQLite answers 1 / 0 with NULL, not an error
def test_r_sec_4_a_database_error_in_the_write_fails_the_run_too(api_as, admin, monkeypatch):
    """A failed statement inside the write transaction (division by zero in SQL): the transaction is rolled back and
    the run is marked failed in its own transaction (the API's handler answers a database value error 400)."""
    spec = registry.get("institutions")

    def failing_sql(self, plan, ctx):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")

    monkeypatch.setattr(type(spec), "write", failing_sql)
    client = api_as(admin)
    client.raise_request_exception = False
    response = _post(client)
    assert response.status_code == 400 and response.json()["code"] == "invalid", response.json()
    run = ImportRun.objects.get()
    assert run.status == ImportRun.Status.FAILED and "内部错误" in run.message
    assert Institution.objects.count() == 0


def test_r_sec_4_an_error_in_the_task_fails_the_run(admin, monkeypatch):
    """The asynchronous path: the Celery task raises (the worker logs it), the run is failed, not "running"."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    run = services.import_run_create(kind="institutions", upload=SimpleUploadedFile("机构.xlsx", _good()),
                                     actor=admin, now=NOW, dry_run=True)
    monkeypatch.setattr(services, "run_import", lambda *a, **k: (_ for _ in ()).throw(KeyError("bug")))
    with pytest.raises(KeyError):
        tasks.import_run_execute_task(run.pk)
    run.refresh_from_db()
    assert run.status == ImportRun.Status.FAILED and "内部错误（KeyError）" in run.message
    # a redelivered message does nothing more (only a pending run is executed)
    tasks.import_run_execute_task(run.pk)
    run.refresh_from_db()
    assert run.status == ImportRun.Status.FAILED


def test_r_sec_4_a_run_records_its_heartbeat_while_it_works(api_as, admin):
    response = _post(api_as(admin), dry_run="true")
    assert response.status_code == 200, response.json()
    assert ImportRun.objects.get().heartbeat_at is not None


# --- the heartbeat sweep ----------------------------------------------------------------------------------------

def _run(admin, status, *, heartbeat_minutes_ago=None, created_minutes_ago=0, name="a.xlsx", finished_days_ago=None):
    run = ImportRun(kind="institutions", file_name=name, created_by=admin, region=admin.region, status=status,
                    effective_date=dt.date(2026, 12, 1))
    run.file.save(name, ContentFile(b"PK-not-really"), save=False)
    run.save()
    ImportRun.objects.filter(pk=run.pk).update(
        created_at=NOW - dt.timedelta(minutes=created_minutes_ago),
        heartbeat_at=None if heartbeat_minutes_ago is None else NOW - dt.timedelta(minutes=heartbeat_minutes_ago),
        finished_at=None if finished_days_ago is None else NOW - dt.timedelta(days=finished_days_ago))
    run.refresh_from_db()
    return run


def test_r_sec_4_runs_without_a_heartbeat_for_the_stale_time_are_failed(admin):
    """Stale time 15 minutes at 10:00: a heartbeat at 09:40 (20 min) or none since an upload at 09:30 → failed; a
    heartbeat at 09:55 (5 min) → still running; a pending run and a finished one are not touched."""
    dead = _run(admin, ImportRun.Status.RUNNING, heartbeat_minutes_ago=20, created_minutes_ago=60)
    never_beat = _run(admin, ImportRun.Status.RUNNING, created_minutes_ago=30)
    alive = _run(admin, ImportRun.Status.RUNNING, heartbeat_minutes_ago=5, created_minutes_ago=60)
    pending = _run(admin, ImportRun.Status.PENDING, created_minutes_ago=60)
    done = _run(admin, ImportRun.Status.SUCCEEDED, heartbeat_minutes_ago=60, created_minutes_ago=60)
    assert services.import_runs_fail_stale(now=NOW, stale_after=dt.timedelta(minutes=15)) == 2
    status = dict(ImportRun.objects.values_list("pk", "status"))
    assert status == {dead.pk: "failed", never_beat.pk: "failed", alive.pk: "running", pending.pk: "pending",
                      done.pk: "succeeded"}
    dead.refresh_from_db()
    assert "超过 15 分钟没有进展" in dead.message and dead.finished_at == NOW and dead.error_count == 1
    # a second sweep changes nothing more
    assert services.import_runs_fail_stale(now=NOW, stale_after=dt.timedelta(minutes=15)) == 0


def test_r_sec_4_the_sweeps_are_on_the_beat_schedule_and_off_the_import_queue():
    from celery import current_app

    tasks_scheduled = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"catalogue.import_runs_fail_stale", "catalogue.import_files_purge"} <= tasks_scheduled
    for name in ("catalogue.import_runs_fail_stale", "catalogue.import_files_purge"):
        assert name in current_app.tasks
        route = current_app.amqp.router.route({}, name)
        assert route["queue"].name == settings.CELERY_TASK_DEFAULT_QUEUE  # runs when the import workers are gone


def test_r_sec_4_the_stale_task_reads_its_setting(admin, settings, time_machine):
    time_machine.move_to(NOW, tick=False)
    settings.IMPORT_STALE_AFTER_MINUTES = 10
    twelve = _run(admin, ImportRun.Status.RUNNING, heartbeat_minutes_ago=12, created_minutes_ago=60)
    assert tasks.import_runs_fail_stale_task() == 1
    twelve.refresh_from_db()
    assert twelve.status == ImportRun.Status.FAILED


# --- retention of refused files -----------------------------------------------------------------------------------

def test_r_sec_4_files_of_failed_runs_are_deleted_after_the_retention_and_the_record_stays(admin, client):
    """Retention 30 days at 2026-12-01 10:00: a failed run that ended 31 days ago loses its file (its record, file
    name and errors stay); one that ended 29 days ago keeps it; succeeded and previewed runs keep theirs."""
    old_failed = _run(admin, ImportRun.Status.FAILED, name="old.xlsx", finished_days_ago=31)
    ImportRun.objects.filter(pk=old_failed.pk).update(message="共 3 处错误，未写入任何数据", error_count=3)
    recent_failed = _run(admin, ImportRun.Status.FAILED, name="recent.xlsx", finished_days_ago=29)
    old_applied = _run(admin, ImportRun.Status.SUCCEEDED, name="applied.xlsx", finished_days_ago=90)
    old_preview = _run(admin, ImportRun.Status.PREVIEWED, name="preview.xlsx", finished_days_ago=90)
    old_path = old_failed.file.path
    assert os.path.exists(old_path)
    # when the purge runs
    assert services.import_files_purge(now=NOW, retention=dt.timedelta(days=30)) == 1
    # then only the old failed run's file is gone, its record kept
    assert not os.path.exists(old_path)
    old_failed.refresh_from_db()
    assert not old_failed.file and old_failed.file_purged_at == NOW
    assert (old_failed.file_name, old_failed.error_count, old_failed.status) == ("old.xlsx", 3, "failed")
    for run in (recent_failed, old_applied, old_preview):
        run.refresh_from_db()
        assert run.file and os.path.exists(run.file.path) and run.file_purged_at is None
    # a second run deletes nothing more
    assert services.import_files_purge(now=NOW, retention=dt.timedelta(days=30)) == 0
    # the browser no longer offers the file: the download is a 404, the page says when it was deleted
    client.force_login(admin)
    assert client.get(f"/catalogue/imports/{old_failed.pk}/file/").status_code == 404
    page = client.get(f"/catalogue/imports/{old_failed.pk}/").content.decode()
    assert "原文件已于 2026-12-01 删除" in page
    assert client.get(f"/catalogue/imports/{recent_failed.pk}/file/").status_code == 200


def test_r_sec_4_the_purge_task_reads_its_retention(admin, settings, time_machine):
    time_machine.move_to(NOW, tick=False)
    settings.IMPORT_FAILED_FILE_RETENTION_DAYS = 7
    week_old = _run(admin, ImportRun.Status.FAILED, name="w.xlsx", finished_days_ago=8)
    assert tasks.import_files_purge_task() == 1
    week_old.refresh_from_db()
    assert week_old.file_purged_at == timezone.now()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_r_sec_4_the_sweep_skips_a_run_inside_its_write_transaction_without_waiting(admin):
    """A run whose row is locked by its own write transaction is alive (its heartbeat is just not visible yet): the
    sweep skips it at once instead of waiting for the write (it shares the default queue with other checks)."""
    import threading
    import time

    from django.db import transaction

    writing = _run(admin, ImportRun.Status.RUNNING, heartbeat_minutes_ago=20, created_minutes_ago=60)
    dead = _run(admin, ImportRun.Status.RUNNING, heartbeat_minutes_ago=20, created_minutes_ago=60)
    locked, release = threading.Event(), threading.Event()

    def write_transaction():
        try:
            with transaction.atomic():
                ImportRun.objects.select_for_update().get(pk=writing.pk)
                locked.set()
                release.wait(10)
        finally:
            from django.db import connection

            connection.close()

    thread = threading.Thread(target=write_transaction)
    thread.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        assert services.import_runs_fail_stale(now=NOW, stale_after=dt.timedelta(minutes=15)) == 1
        assert time.monotonic() - started < 5
    finally:
        release.set()
        thread.join()
    assert dict(ImportRun.objects.values_list("pk", "status")) == {writing.pk: "running", dead.pk: "failed"}
