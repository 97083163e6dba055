"""Helpers shared by the prescription services: the local day of a moment, the month after a period, the
locked and possibly expired prescription and its status label."""
from __future__ import annotations

import datetime as dt

from django.utils import timezone

from apps.prescriptions.models import Prescription


def local_day(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def next_period(period: dt.date) -> dt.date:
    """The first day of the month after ``period``."""
    return (period.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def is_expired(prescription: Prescription, now: dt.datetime) -> bool:
    return prescription.status == Prescription.Status.EXPIRED or (
        prescription.status == Prescription.Status.FLOWED and prescription.expires_at <= now)


def lock_prescription(prescription: Prescription) -> Prescription:
    return Prescription.objects.select_for_update().get(pk=prescription.pk)


def status_label(prescription: Prescription, now) -> str:
    if is_expired(prescription, now):
        return "“已过期”"
    return f"“{prescription.get_status_display()}”"
