"""Issue 14 §9 (R-SEC-4, in part): a killed worker's task is given back and redelivered within minutes, not lost or
held for the broker's default hour."""
from config.celery_app import app


def test_r_sec_4_tasks_are_acknowledged_late_and_rejected_when_the_worker_is_lost():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert 60 <= conf.broker_transport_options["visibility_timeout"] <= 30 * 60


def test_r_sec_4_the_long_tasks_are_registered_with_late_acknowledgement():
    app.autodiscover_tasks(force=True)
    for name in ("apps.settlement.tasks.run_settlement", "catalogue.import_run_execute"):
        task = app.tasks[name]
        assert task.acks_late is True
