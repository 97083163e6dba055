"""R-SEC-1 in the Django admin (issue 14 §4, §5): every admin class goes through the same scoping as the API.

The test is generated from the admin registry: two regions (Zhongwei 640500, Changsha 430100) each get an
institution, a pharmacy, a physician, a patient with an application, region settings, a payment policy, a pharmacy
committee meeting, a sanction and an event; then for EVERY registered admin, the Changsha administrator's change
list holds none of Zhongwei's rows (unless the admin is shared reference data), and each Zhongwei row's change page
is refused to the Changsha administrator. A new admin class that forgets its scope fails here."""
import datetime as dt

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.test import RequestFactory

from apps.core.admin_scoping import ScopedAdmin, scope_admin_queryset, unscoped_admins
from apps.core.events import record_event
from apps.core.models import Event, RegionSettings, Sanction
from apps.institutions.models import PharmacyCommitteeMeeting
from tests import factories as f
from tests.prescriptions import factories as rx

pytestmark = pytest.mark.django_db


def _world(city: str, county: str, letter: str):
    rx.ensure_areas()
    policy = f.policy(city, "zhongwei-2021")
    institution = f.InstitutionFactory(code=f"H{city}{letter}01", region=f.region(county))
    pharmacy = f.PharmacyFactory(code=f"P{city}{letter}01", region=f.region(county))
    physician = f.PhysicianFactory(code=f"D{city}{letter}01", institution=institution)
    drug = f.DrugFactory()
    person = rx.person(insured_region=county)
    application = rx.approved_application(person=person, physician=physician, drug=drug, pharmacy=pharmacy)
    settings_row = RegionSettings.objects.create(region=f.region(city))
    meeting = PharmacyCommitteeMeeting.objects.create(institution=institution, catalogue_version=f"2025-{letter}",
                                                      catalogue_published_on=dt.date(2025, 12, 1),
                                                      held_on=dt.date(2026, 1, 10))
    sanction = Sanction.objects.create(content_type=ContentType.objects.get_for_model(institution),
                                       object_id=str(institution.pk), kind=Sanction.Kind.choices[0][0],
                                       decided_on=dt.date(2026, 3, 1), reason="约谈")
    event = record_event(subject=institution, action="institution_updated", data={})
    hospital = f.hospital_user(institution)
    return {"policy": policy, "institution": institution, "pharmacy": pharmacy, "physician": physician,
            "person": person, "application": application, "settings": settings_row, "meeting": meeting,
            "sanction": sanction, "event": event, "hospital": hospital}


@pytest.fixture
def worlds():
    zw = _world("640500", "640502", "A")
    cs = _world("430100", "430102", "B")
    zw_admin = f.bureau_admin("640500", is_staff=True)
    cs_admin = f.bureau_admin("430100", is_staff=True)
    return zw, cs, zw_admin, cs_admin


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _scoped_pairs():
    return [(model, model_admin) for model, model_admin in admin.site._registry.items()]


def test_r_sec_1_every_admin_class_is_scoped_or_closed_to_region_administrators():
    """Each admin either goes through ScopedAdmin, or (third-party admins: auditlog, knox, auth groups) is not
    open to a region's administrator at all (no Django model permissions are granted to them)."""
    region_admin = f.bureau_admin("640500", is_staff=True)
    open_but_unscoped = [name for name in unscoped_admins()
                         if admin.site._registry[_model_by_label(name)].has_module_permission(_request(region_admin))]
    assert open_but_unscoped == []


def _model_by_label(name):
    from django.apps import apps

    return apps.get_model(name.split(":")[0])


def test_r_sec_1_admin_change_lists_of_two_regions_do_not_overlap(worlds):
    zw, cs, zw_admin, cs_admin = worlds
    checked = 0
    for model, model_admin in _scoped_pairs():
        if not isinstance(model_admin, ScopedAdmin) or model_admin.reference_data:
            continue
        seen_by_zw = set(model_admin.get_queryset(_request(zw_admin)).values_list("pk", flat=True))
        seen_by_cs = set(model_admin.get_queryset(_request(cs_admin)).values_list("pk", flat=True))
        assert not (seen_by_zw & seen_by_cs), f"{model._meta.label}: both regions see {seen_by_zw & seen_by_cs}"
        checked += bool(seen_by_zw)
    # the rows named in the issue are really there for their own region
    for key, model in (("settings", RegionSettings), ("meeting", PharmacyCommitteeMeeting), ("sanction", Sanction),
                       ("event", Event)):
        own = admin.site._registry[model].get_queryset(_request(zw_admin))
        assert own.filter(pk=zw[key].pk).exists(), key
        assert not admin.site._registry[model].get_queryset(_request(cs_admin)).filter(pk=zw[key].pk).exists(), key
    assert checked >= 10


def test_r_sec_1_another_regions_rows_cannot_be_opened_or_changed_in_the_admin(client, worlds):
    """Every Zhongwei row visible to Zhongwei's administrator, opened by Changsha's administrator: not shown (the
    admin answers as for a missing row: a redirect to the admin index), and a POST changes nothing."""
    zw, cs, zw_admin, cs_admin = worlds
    client.force_login(cs_admin)
    opened = 0
    for model, model_admin in _scoped_pairs():
        if not isinstance(model_admin, ScopedAdmin) or model_admin.reference_data:
            continue
        for pk in model_admin.get_queryset(_request(zw_admin)).values_list("pk", flat=True)[:3]:
            url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/{pk}/change/"
            resp = client.get(url)
            assert resp.status_code in (302, 403, 404), (url, resp.status_code)
            opened += 1
    assert opened >= 10
    # region settings, the one named in the issue that is editable: a POST does not change it
    before = RegionSettings.objects.get(pk=zw["settings"].pk)
    client.post(f"/admin/core/regionsettings/{zw['settings'].pk}/change/",
                {"region": zw["settings"].region_id, "prescription_validity_days": 9})
    assert RegionSettings.objects.get(pk=zw["settings"].pk).prescription_validity_days == \
        before.prescription_validity_days


def test_r_sec_1_foreign_keys_offer_only_the_own_regions_rows(client, worlds):
    zw, cs, zw_admin, cs_admin = worlds
    model_admin = admin.site._registry[PharmacyCommitteeMeeting]
    field = PharmacyCommitteeMeeting._meta.get_field("institution")
    formfield = model_admin.formfield_for_foreignkey(field, _request(cs_admin))
    assert set(formfield.queryset) == {cs["institution"]}


def test_r_sec_1_region_settings_of_own_region_still_editable(client, worlds):
    zw, cs, zw_admin, cs_admin = worlds
    client.force_login(zw_admin)
    resp = client.get(f"/admin/core/regionsettings/{zw['settings'].pk}/change/")
    assert resp.status_code == 200


# --- §5 shared reference data: read by a region's administrator, written by a system-wide role ---------------

@pytest.mark.parametrize("label", ["catalogue.Drug", "core.CalendarDay", "core.Region", "catalogue.TherapeuticArea"])
def test_r_sec_1_reference_data_is_read_only_for_a_regions_administrator(label):
    from django.apps import apps

    model = apps.get_model(label)
    model_admin = admin.site._registry[model]
    region_admin = f.bureau_admin("430100", is_staff=True)
    superuser = f.UserFactory(is_superuser=True, is_staff=True, role="bureau_admin")
    assert model_admin.has_view_permission(_request(region_admin))
    assert not model_admin.has_add_permission(_request(region_admin))
    assert not model_admin.has_change_permission(_request(region_admin))
    assert model_admin.has_change_permission(_request(superuser))


def test_r_sec_1_events_scoped_by_subject_include_own_rows_only(worlds):
    zw, cs, zw_admin, cs_admin = worlds
    model_admin = admin.site._registry[Event]
    visible = scope_admin_queryset(model_admin, Event.objects.all(), cs_admin)
    assert cs["event"] in visible and zw["event"] not in visible
