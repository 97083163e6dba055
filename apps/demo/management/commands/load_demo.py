"""Load the demo: ``python manage.py load_demo [--today YYYY-MM-DD]``. Safe to run again (existing demo rows are
kept). The command is the edge that reads the clock; ``apps.demo.loader`` passes the moment on to every step."""
import datetime as dt

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from apps.core.roles import Role
from apps.demo.loader import load_demo, moment_of
from apps.demo.regions import DEMO_PASSWORD


class Command(BaseCommand):
    help = "加载演示数据（中卫市、长沙市；演示账号密码 demo-pass-2026）"

    def add_arguments(self, parser):
        parser.add_argument("--today", type=dt.date.fromisoformat, default=None,
                            help="pretend today is this date (YYYY-MM-DD); the demo then runs as of its noon")

    def handle(self, *args, today=None, **options):
        now = moment_of(today) if today is not None else timezone.now()
        load_demo(now=now, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"演示数据已就绪。演示账号（密码均为 {DEMO_PASSWORD}）："))
        for line in demo_logins():
            self.stdout.write(f"  {line}")


def demo_logins() -> list[str]:
    """Every demo login with its role and organisation, bureau first (what ``make run`` prints)."""
    order = {Role.BUREAU_ADMIN: 0, Role.BUREAU_REVIEWER: 1, Role.HOSPITAL: 2, Role.PHARMACY: 3}
    users = sorted(get_user_model().objects.filter(is_active=True).select_related("region", "institution", "pharmacy"),
                   key=lambda u: (order.get(u.role, 9), u.username))
    width = max((len(u.username) for u in users), default=8)
    lines = []
    for user in users:
        role = user.get_role_display() + ("（系统管理员）" if user.is_superuser else "")
        organisation = (user.organisation or {}).get("name", "")
        who = user.get_full_name() if user.get_full_name() and user.get_full_name() != organisation else ""
        lines.append(" · ".join(part for part in (user.username.ljust(width), role, organisation, who) if part))
    return lines
