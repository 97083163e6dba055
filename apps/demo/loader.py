"""The demo loader: each module of ``apps.demo`` builds one part of the demo through the apps' services, in
dependency order. The loader is told the moment it runs at (``now``, and ``today`` its local date) and passes it
to every service call, so the demo is the same whatever the machine's clock says; nothing here reads the clock."""
from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from apps.demo import (
    applications, catalogue, jilin, monitoring, prescriptions, procurement, regions, settlement, year,
)

STEPS = [
    regions,        # regions, settings, policies, registries, users
    catalogue,      # negotiated drugs
    applications,   # treatment applications in every state
    prescriptions,  # prescriptions, dispensings, stock
    year,           # a year of work per region: applications, monthly dispensings, reversals, confirmed statements
    settlement,     # statements, stocking reports
    procurement,    # a volume-based procurement round: agreed volumes, purchases, fund, repayments
    jilin,          # a Jilin-style region: certifying/treating split, three hospital stages by three users
    monitoring,     # section 9: records each monitoring rule finds, then the month's batch (alerts of every rule)
]


def moment_of(day: dt.date) -> dt.datetime:
    """The demo's "now" for a day given on the command line: noon of that day, local time."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)))


def load_demo(*, now: dt.datetime, stdout=None) -> None:
    """Load every part of the demo as of ``now``; each part in its own transaction. Safe to run again."""
    today = timezone.localdate(now)
    for step in STEPS:
        with transaction.atomic():
            step.load(today=today, now=now, stdout=stdout)
