"""Celery tasks of the catalogue: large Excel imports (R-CAT-2) and the import runs' housekeeping (R-SEC-4)."""
import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from apps.catalogue.services import import_files_purge, import_run_execute, import_runs_fail_stale


@shared_task(name="catalogue.import_run_execute", acks_late=True)
def import_run_execute_task(run_id: int) -> None:
    """Plan/apply one import run; idempotent (only a pending run is executed)."""
    import_run_execute(run_id=run_id, clock=timezone.now)


@shared_task(name="catalogue.import_runs_fail_stale")
def import_runs_fail_stale_task() -> int:
    """R-SEC-4: runs left "running" by a dead worker are failed (beat, every few minutes; on the default queue, so it
    runs when the import workers are gone)."""
    return import_runs_fail_stale(now=timezone.now(),
                                  stale_after=dt.timedelta(minutes=settings.IMPORT_STALE_AFTER_MINUTES))


@shared_task(name="catalogue.import_files_purge")
def import_files_purge_task() -> int:
    """R-SEC-4: kept files of failed imports older than the retention are deleted (beat, daily)."""
    return import_files_purge(now=timezone.now(),
                              retention=dt.timedelta(days=settings.IMPORT_FAILED_FILE_RETENTION_DAYS))
