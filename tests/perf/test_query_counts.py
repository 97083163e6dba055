"""Issue 16: no page's query count grows with the rows it lists. For each role, the home page, every page of its
navigation and every list API is requested with N rows of everything (institutions, pharmacies, physicians,
drugs, applications, prescriptions, dispensings and their statements), then again with 3N; the second count must be
within ``django_assert_max_num_queries`` of the first (it may not grow)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.settlement import services as settlement_services
from benchmarks.pages_registry import page_urls, uncovered_api_routes
from tests import factories as f
from tests.prescriptions.factories import approved_application
from tests.settlement import factories as sf

pytestmark = pytest.mark.django_db

N = 2


class World:
    """A city (中卫市 640500) with one account per role and rows added ``grow(n)`` at a time, each new institution
    and pharmacy in a county of its own (so a per-region look-up would show as a growing count)."""

    def __init__(self):
        self.added = 0
        self.institution = f.InstitutionFactory(region=f.region("640502"))
        self.pharmacy = f.PharmacyFactory(region=f.region("640502"))
        self.users = {
            "bureau_admin": f.bureau_admin("640500"),
            "bureau_reviewer": f.reviewer("640500"),
            "hospital": f.hospital_user(self.institution),
            "pharmacy": f.pharmacy_user(self.pharmacy),
        }

    def grow(self, n: int) -> None:
        """``n`` more of everything: institutions and pharmacies (each with a November dispensing, so a statement),
        drugs, physicians with approved applications, and dispensings at the signed-in organisations."""
        for _ in range(n):
            self.added += 1
            county = f.region(f"6405{50 + self.added:02d}")  # a new county each time: per-region look-ups show
            institution = f.InstitutionFactory(region=county, level=3)
            pharmacy = f.PharmacyFactory(region=county)
            drug = f.DrugFactory()
            physician = f.PhysicianFactory(institution=self.institution)
            approved_application(person=sf.person(), physician=physician, drug=drug, pharmacy=self.pharmacy)
            sf.dispensing(pharmacy=pharmacy, institution=institution, drug=drug)
            sf.dispensing(pharmacy=self.pharmacy, institution=self.institution, drug=drug)
        run = settlement_services.settlement_run_now(period=dt.date(2026, 11, 1), clock=sf.clock)
        assert run.status == "succeeded", run.error
        settlement_services.monthly_report_compile(period=dt.date(2026, 11, 1), now=sf.clock())


def count_queries(client, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, follow=True)
    return response.status_code, len(queries)


@pytest.mark.parametrize("role", ["bureau_admin", "bureau_reviewer", "hospital", "pharmacy"])
def test_issue16_no_page_or_list_api_runs_more_queries_with_3n_rows(role, django_assert_max_num_queries):
    """Hand check: with N = 2 the bureau dashboard lists 2 + 1 institutions; with 3N = 6 it lists 6 + 1 — the
    count of queries must be the same (each list is one query for the page plus fixed look-ups)."""
    world = World()
    world.grow(N)
    user = world.users[role]
    client = Client()
    client.force_login(user)
    urls = page_urls(user)
    first = {}
    for url in urls:
        client.get(url, follow=True)  # warm caches (content types, settings) so both counts are steady-state
        first[url] = count_queries(client, url)
    world.grow(2 * N)
    grown = []
    for url in urls:
        status, before = first[url]
        if status != 200:
            continue
        client.get(url, follow=True)  # warm again: the new rows' first view may fill a cache once
        try:
            with django_assert_max_num_queries(before):
                after_status, after = count_queries(client, url)
        except pytest.fail.Exception:
            grown.append(f"{url}: {before} → {count_queries(client, url)[1]} queries")
            continue
        assert after_status == 200, url
    assert not grown, f"{role}: query counts grew with the rows (N={N} → 3N):\n" + "\n".join(grown)


def test_issue16_every_list_api_is_in_the_shared_registry():
    """A new GET route under /api/v1/ must be timed by the pages benchmark and counted here: it is a list API of
    ``benchmarks.pages_registry`` or named there as not a list."""
    assert uncovered_api_routes() == []


def test_issue16_every_list_api_is_counted_for_some_role():
    """Each list API answers 200 to at least one role of the world above, so the N-vs-3N count covers it."""
    from benchmarks.pages_registry import LIST_APIS

    world = World()
    world.grow(1)
    answered = set()
    for user in world.users.values():
        client = Client()
        client.force_login(user)
        answered |= {url for url in LIST_APIS if url not in answered and client.get(url).status_code == 200}
    # the payment list answers 409 until every statement of the month is confirmed, which the growing world (settled
    # again at each step) does not do; its rows are the month's statements, counted through /api/v1/settlements/
    not_here = {"/api/v1/settlements/payment-list/?period=2026-11"}
    assert sorted(set(LIST_APIS) - answered - not_here) == []
