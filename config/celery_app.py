"""Celery application. Periodic jobs are declared in ``config/beat_schedule.py`` (R-SET-4)."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("dual_channel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
