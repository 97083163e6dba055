"""Celery tasks of the catalogue: large Excel imports (R-CAT-2)."""
from celery import shared_task

from apps.catalogue.services import import_run_execute


@shared_task(name="catalogue.import_run_execute", acks_late=True)
def import_run_execute_task(run_id: int) -> None:
    """Plan/apply one import run; idempotent (only a pending run is executed)."""
    import_run_execute(run_id=run_id)
