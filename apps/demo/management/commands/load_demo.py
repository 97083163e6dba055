"""Load the demo: ``python manage.py load_demo [--today YYYY-MM-DD]``. Safe to run again (existing demo rows are
kept). The command is the edge that reads the clock; ``apps.demo.loader`` passes the moment on to every step."""
import datetime as dt

from django.core.management.base import BaseCommand
from django.utils import timezone

from apps.demo.loader import load_demo, moment_of


class Command(BaseCommand):
    help = "加载演示数据（中卫市、长沙市；演示账号密码 demo-pass-2026）"

    def add_arguments(self, parser):
        parser.add_argument("--today", type=dt.date.fromisoformat, default=None,
                            help="pretend today is this date (YYYY-MM-DD); the demo then runs as of its noon")

    def handle(self, *args, today=None, **options):
        now = moment_of(today) if today is not None else timezone.now()
        load_demo(now=now, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("演示数据已就绪。账号：admin / reviewer / hospital / pharmacy，密码 demo-pass-2026"))
