"""Load the demo: ``python manage.py load_demo``. Safe to run again (existing demo rows are kept).

Each app contributes ``apps/<app>/demo.py`` with ``load(*, today, stdout)``; they run in dependency order.
"""
import datetime as dt
from importlib import import_module

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

DEMO_MODULES = [
    "apps.core.demo",          # regions, settings, policies, registries, users
    "apps.catalogue.demo",     # negotiated drugs
    "apps.applications.demo",  # treatment applications in every state
    "apps.prescriptions.demo", # prescriptions, dispensings, stock
    "apps.settlement.demo",    # statements, stocking reports
]


class Command(BaseCommand):
    help = "加载演示数据（中卫市、长沙市；演示账号密码 demo-pass-2026）"

    def add_arguments(self, parser):
        parser.add_argument("--today", type=dt.date.fromisoformat, default=None,
                            help="pretend today is this date (YYYY-MM-DD)")

    def handle(self, *args, today=None, **options):
        today = today or timezone.localdate()
        for name in DEMO_MODULES:
            try:
                module = import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name == name:
                    continue
                raise
            with transaction.atomic():
                module.load(today=today, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("演示数据已就绪。账号：admin / reviewer / hospital / pharmacy，密码 demo-pass-2026"))
