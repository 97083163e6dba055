"""Every periodic job of the system, in one place (STYLE 7). Each entry names the rule it serves.

Task modules add nothing here by themselves: a new periodic job is added to this dict.
"""
from celery.schedules import crontab

CELERY_BEAT_SCHEDULE = {
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
}
