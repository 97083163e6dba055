"""Every periodic job of the system, in one place (STYLE 7). Each entry names the rule it serves.

Task modules add nothing here by themselves: a new periodic job is added to this dict.
"""
from celery.schedules import crontab

CELERY_BEAT_SCHEDULE = {
    # R-SEC-4: an import run "running" with no heartbeat for IMPORT_STALE_AFTER_MINUTES was left by a dead worker:
    # marked failed, so it never stays "running".
    "import-runs-fail-stale": {
        "task": "catalogue.import_runs_fail_stale",
        "schedule": crontab(minute="*/5"),
    },
    # R-SEC-4: kept files of failed (refused) imports are deleted after IMPORT_FAILED_FILE_RETENTION_DAYS; the run's
    # record stays.
    "import-files-purge": {
        "task": "catalogue.import_files_purge",
        "schedule": crontab(minute=40, hour=2),
    },
    # R-RX-4: prescriptions expire after the configured validity without a human doing anything.
    "expire-prescriptions": {
        "task": "apps.prescriptions.tasks.expire_prescriptions",
        "schedule": crontab(minute="*/10"),
    },
    # R-APP-6: approved applications past valid_until become expired.
    "expire-applications": {
        "task": "apps.applications.tasks.expire_applications",
        "schedule": crontab(minute=15, hour=0),
    },
    # R-DOC-3: physician filings past their validity become expired (their later prescriptions are refused).
    "expire-physician-filings": {
        "task": "physicians.expire_due",
        "schedule": crontab(minute=5, hour=0),
    },
    # R-SET-1, R-SET-4: settle last month on the 1st–5th (each day again, so late data is picked up; confirmed
    # statements stay locked).
    "monthly-settlement": {
        "task": "apps.settlement.tasks.settle_previous_month",
        "schedule": crontab(minute=30, hour=1, day_of_month="1-5"),
    },
    # R-SET-1 (R-SEC-4): a settlement run whose worker stopped beating for a minute (killed, machine gone) is marked
    # failed within about a minute, so the month can be settled again at once.
    "settlement-dead-runs": {
        "task": "apps.settlement.tasks.fail_dead_runs",
        "schedule": 30.0,
    },
    # R-SET-1 (issue 16): the month partitions (PostgreSQL) of the dispensings, their lines and the statement lines
    # are created three months ahead, daily.
    "month-partitions": {
        "task": "apps.settlement.tasks.ensure_month_partitions",
        "schedule": crontab(minute=10, hour=0),
    },
    # R-SET-3, R-SET-4: last month's statistics compiled on the 1st–5th, ready to report upward by the 5th.
    "monthly-statistics": {
        "task": "apps.settlement.tasks.compile_monthly_statistics",
        "schedule": crontab(minute=30, hour=3, day_of_month="1-5"),
    },
    # R-SET-2, R-SET-4: reconciliation of last month on the 6th–9th, before ward deliveries are paid on the 10th.
    "monthly-reconciliation": {
        "task": "apps.settlement.tasks.reconcile_previous_month",
        "schedule": crontab(minute=0, hour=4, day_of_month="6-9"),
    },
    # R-SET-5 (000 附件2 第五条): daily follow-up of deadline rectifications (限时整改): unresolved at the deadline, or
    # the same problem found again within six months, escalates to the bureau's queue.
    "rectification-follow-up": {
        "task": "apps.settlement.tasks.follow_up_rectifications",
        "schedule": crontab(minute=20, hour=0),
    },
    # R-VBP-3, R-VBP-5: on the 2nd, last month's completion and even-pace snapshot of every procurement agreement
    # (behind-pace and low-use flags) and the repeat-overdue repayment flags (after the month's purchases arrive).
    "monthly-procurement-completion": {
        "task": "apps.procurement.tasks.recompute_previous_month",
        "schedule": crontab(minute=0, hour=5, day_of_month="2"),
    },
    # Section 9 (R-MON-1..9): on the 3rd, every monitoring rule over last month (after the settlement of the 1st-2nd
    # and the month's stock reports); a rerun raises nothing twice and never reopens a decided alert.
    "monthly-monitoring": {
        "task": "apps.monitoring.tasks.run_previous_month",
        "schedule": crontab(minute=30, hour=3, day_of_month="3"),
    },
}
