"""R-SEC-1 through one function (``apps.core.scoping.scope_to_user``): every role-based list, the registries and
the catalogue's import log included, shows nothing to a bureau user whose region is missing."""
import pytest
from django.core.exceptions import PermissionDenied

from apps.accounts.selectors import users_visible_to
from apps.applications.selectors import applications_visible_to
from apps.catalogue.selectors import import_runs_visible_to
from apps.core.roles import BUREAU, Role, has_role, require_role
from apps.institutions.selectors import institutions_visible_to
from apps.pharmacies.selectors import pharmacies_visible_to
from apps.physicians.selectors import physicians_visible_to
from apps.policies.selectors import policies_visible_to
from apps.prescriptions.selectors import (
    cross_region_filings_visible_to, dispensings_visible_to, manual_claims_visible_to, persons_visible_to,
    prescriptions_visible_to, stock_movements_visible_to,
)
from apps.settlement.selectors import differences_visible_to, runs_visible_to, statements_visible_to
from apps.settlement.stocking_selectors import stocking_reports_visible_to
from tests import factories as f

pytestmark = pytest.mark.django_db

SCOPED = [institutions_visible_to, pharmacies_visible_to, physicians_visible_to, policies_visible_to,
          import_runs_visible_to, applications_visible_to, prescriptions_visible_to, dispensings_visible_to,
          stock_movements_visible_to, persons_visible_to, cross_region_filings_visible_to, manual_claims_visible_to,
          statements_visible_to, runs_visible_to, differences_visible_to, stocking_reports_visible_to]


@pytest.mark.parametrize("role", [Role.BUREAU_ADMIN, Role.BUREAU_REVIEWER])
@pytest.mark.parametrize("visible_to", SCOPED, ids=lambda fn: fn.__name__)
def test_r_sec_1_bureau_user_without_region_sees_nothing(visible_to, role):
    f.PhysicianFactory()  # an institution (admitted) with a physician in 640500
    f.PharmacyFactory()
    f.policy()
    no_region = f.UserFactory(role=role, region=None)
    assert not visible_to(no_region).exists()


def test_r_sec_1_the_same_lists_are_not_empty_for_a_bureau_user_with_a_region():
    """The guard above is not vacuous: with the region set, the registries and policies show their rows."""
    f.PhysicianFactory()
    f.PharmacyFactory()
    f.policy()
    reviewer = f.reviewer()
    for visible_to in (institutions_visible_to, pharmacies_visible_to, physicians_visible_to, policies_visible_to):
        assert visible_to(reviewer).exists(), visible_to.__name__


def test_r_sec_1_administrator_without_region_sees_only_themselves_among_users():
    admin = f.UserFactory(role=Role.BUREAU_ADMIN, region=None)
    f.reviewer()
    assert list(users_visible_to(admin)) == [admin]


def test_r_sec_1_require_role_is_the_one_role_check():
    """Superusers count as bureau administrators; hospital and pharmacy roles need their organisation."""
    reviewer, admin, hospital, pharmacy = f.reviewer(), f.bureau_admin(), f.hospital_user(), f.pharmacy_user()
    assert has_role(reviewer, BUREAU) and not has_role(reviewer, Role.BUREAU_ADMIN)
    assert has_role(admin, BUREAU, Role.BUREAU_ADMIN) and has_role(hospital, Role.HOSPITAL)
    require_role(pharmacy, Role.PHARMACY)
    with pytest.raises(PermissionDenied):
        require_role(hospital, BUREAU, Role.PHARMACY)
    orphan = f.UserFactory(role=Role.HOSPITAL, region=None, institution=None)
    assert not has_role(orphan, Role.HOSPITAL)
