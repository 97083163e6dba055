"""Issue 15 item 5 (admin): detail pages show read-only money and ratios with the one formatting layer —
``1,234,567.50`` and ``5%`` — never Django's raw ``1234567.50`` / ``0.0500``; fields the user may edit stay inputs."""
import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.settlement.models import OrganisationKind, Statement
from tests.factories import DrugFactory, PharmacyFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(client):
    user = UserFactory(username="root", is_superuser=True, is_staff=True, role="bureau_admin")
    client.force_login(user)
    return user


def test_issue_15_admin_statement_detail_formats_money_and_ratio(client, superuser):
    """A statement of 1,234,567.5 total, 5 % deposit 61,728.38: the view-only page reads ``1,234,567.50``,
    ``61,728.38`` and ``5%``."""
    statement = Statement.objects.create(
        organisation_kind=OrganisationKind.PHARMACY, pharmacy=PharmacyFactory(), period=dt.date(2026, 10, 1),
        visits=12345, total=Decimal("1234567.50"), fund_payment=Decimal("987654.00"),
        personal_payment=Decimal("246913.50"), deposit_rate=Decimal("0.0500"), deposit=Decimal("61728.38"),
        payable=Decimal("925925.62"), computed_at=timezone.now())
    response = client.get(f"/admin/settlement/statement/{statement.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    for shown in ("1,234,567.50", "987,654.00", "246,913.50", "61,728.38", "925,925.62", "5%"):
        assert shown in html, shown
    readonly = " ".join(re.findall(r'<div class="readonly">(.*?)</div>', html, flags=re.S))
    assert not re.search(r"\b\d{4,}\.\d{2}\b", readonly), readonly  # no money without thousands separators
    assert "0.0500" not in readonly
    assert 'name="total"' not in html  # shown, not an input


def test_issue_15_admin_editable_money_stays_an_input(client, superuser):
    """The bureau may change a drug's payment standard: the input keeps its plain value (the form posts it)."""
    drug = DrugFactory(payment_standard=Decimal("4788.00"))
    response = client.get(f"/admin/catalogue/drug/{drug.pk}/change/")
    assert response.status_code == 200
    assert re.search(r'name="payment_standard"[^>]*value="4788(\.00)?"', response.content.decode())
