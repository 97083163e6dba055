import os
import shutil

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests import factories as f


@pytest.fixture(autouse=True)
def _media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


def load_reference_data():
    """The data migrations' reference rows (therapeutic areas, the 2026 holiday calendar). Transactional tests
    flush every table after they run, data migrations included; this puts the rows back."""
    from importlib import import_module

    from django.apps import apps as django_apps

    from apps.catalogue.models import TherapeuticArea
    from apps.core.models import CalendarDay

    if not TherapeuticArea.objects.exists():
        import_module("apps.catalogue.migrations.0002_therapeutic_areas").load(django_apps, None)
    if not CalendarDay.objects.exists():
        import_module("apps.core.migrations.0002_holidays_2026").load(django_apps, None)
    from apps.core.models import CalendarArrangement

    if not CalendarArrangement.objects.exists():  # R-APP-5: 2026's official arrangement is loaded
        import_module("apps.core.migrations.0004_role_split_calendar_arrangement_events").mark_2026_official(
            django_apps, None)


@pytest.fixture(autouse=True)
def _reference_data_for_transactional_tests(request):
    """pytest-django runs transactional tests last; each may follow another's flush."""
    marker = request.node.get_closest_marker("django_db")
    if marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])):
        request.getfixturevalue("transactional_db")
        load_reference_data()


@pytest.fixture
def api():
    """An unauthenticated API client; ``api_as(user)`` signs one in with a token."""
    return APIClient()


@pytest.fixture
def api_as():
    def make(user):
        from knox.models import AuthToken

        client = APIClient()
        _, key = AuthToken.objects.create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return make


@pytest.fixture
def zhongwei():
    f.policy("640500", "zhongwei-2021")
    return f.region("640500", "中卫市")


@pytest.fixture
def changsha():
    f.policy("430100", "hunan-2026", valid_from=__import__("datetime").date(2026, 1, 1))
    return f.region("430100", "长沙市")


def _chromium_path():
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (no browser download)."""
    path = _chromium_path()
    if not os.path.exists(path):
        pytest.skip("chromium is not installed (CI installs it)")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=path, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(15000)
    # confirmation dialogs (static/js/confirm.js) are accepted and their text kept for assertions
    pg.dialogs = []
    pg.on("dialog", lambda dialog: (pg.dialogs.append(dialog.message), dialog.accept()))
    yield pg
    context.close()


@pytest.fixture
def login_page(page, live_server):
    """``login_page(username, password)`` signs in through the real login form and returns the page."""

    def do(username, password=f.PASSWORD):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return page

    return do


def pytest_addoption(parser):
    parser.addoption(
        "--clock", default=None, metavar="YYYY-MM-DD",
        help="run the whole session with the clock moved to this date (09:00 Asia/Shanghai, ticking); CI runs the "
             "suite at 2027-03-15 and 2028-12-31 too, so no test may depend on the real date")


def pytest_configure(config):
    """``--clock``: move the clock before Django's test database is set up and keep it moved for the session."""
    day = config.getoption("--clock")
    if day:
        import datetime as dt
        import zoneinfo

        import time_machine

        moment = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(9, 0), tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
        config._clock_travel = time_machine.travel(moment, tick=True)
        config._clock_travel.start()


@pytest.fixture(autouse=True)
def _fixed_today(request):
    """``@pytest.mark.today("2026-12-01")``: a test whose code path reads the clock at an edge (view, API, browser,
    task) and whose data is dated around that day runs with the clock fixed there (ticking), under any --clock."""
    marker = request.node.get_closest_marker("today")
    if marker is None:
        yield
        return
    import datetime as dt
    import zoneinfo

    import time_machine

    moment = dt.datetime.combine(dt.date.fromisoformat(marker.args[0]), dt.time(10, 0),
                                 tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    with time_machine.travel(moment, tick=True):
        yield


def pytest_unconfigure(config):
    travel = getattr(config, "_clock_travel", None)
    if travel is not None:
        travel.stop()


def pytest_report_header(config):
    day = config.getoption("--clock")
    return f"clock moved to {day} (time-machine)" if day else None


def pytest_collection_modifyitems(config, items):
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip_pg)

