"""Issue 9: registry imports write through the registries' own services, so a row the REST API (the same services)
would refuse is refused by the import too — reported on its row and column, and nothing of the file is written —
and every imported row leaves the same event as the API would (R-INS-2, R-INS-3, R-PHA-2, R-DOC-1, R-DOC-3)."""
from django.utils import timezone
import pytest

from apps.catalogue.models import TherapeuticArea
from apps.core.exceptions import ApplicationError
from apps.core.models import DesignationStatus, Event
from apps.institutions.models import Institution
from apps.institutions.resources import H as IH
from apps.institutions.services import institution_update
from apps.pharmacies.models import Pharmacy
from apps.pharmacies.resources import H as PH
from apps.physicians.models import Physician
from apps.physicians.resources import H as DH
from apps.physicians.services import physician_propose
from tests import factories as f
from tests.catalogue.helpers import read_workbook, upload, workbook_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(zhongwei):
    f.region("640502", "沙坡头区")
    return f.bureau_admin()


@pytest.fixture
def client(api_as, admin):
    return api_as(admin)


def post(client, kind, rows, headers):
    return client.post(f"/api/v1/imports/{kind}/", {"file": upload(workbook_bytes(rows, headers))}, format="multipart")


def exported_rows(client, kind):
    table = read_workbook(client.get(f"/api/v1/imports/{kind}/export/").content)
    return [dict(zip(table[0], row)) for row in table[1:]], table[0]


def institution_row(code, **over):
    row = {IH["code"]: code, IH["name"]: f"医院{code}", IH["region"]: "640502", IH["level"]: "三级",
           IH["hospital_type"]: "综合医院", IH["kind"]: "治疗类", IH["has_clinical_department"]: "是",
           IH["sells_at_negotiated_price"]: "是", IH["info_system_capable"]: "是", IH["no_penalty_past_year"]: "是"}
    row.update({IH.get(k, k): v for k, v in over.items()})
    return row


def test_r_ins_2_import_refuses_a_level_change_the_api_refuses_and_writes_nothing(client, admin):
    """An admitted certifying institution must stay of the city's highest level (R-INS-2). The city has another
    三级 institution, so lowering the certifying one to 二级 is refused by ``institution_update`` (the API) and by the
    import, on the row of that institution (row 2: header row 1) and the column the service names (机构类别)."""
    certifying = f.InstitutionFactory(code="H640500001", kind=Institution.Kind.CERTIFYING)
    f.InstitutionFactory(code="H640500002", kind=Institution.Kind.TREATING)
    # the API's service refuses it
    with pytest.raises(ApplicationError) as refused:
        institution_update(institution=Institution.objects.get(pk=certifying.pk), actor=admin, data={"level": 2})
    assert refused.value.code == "certifying_not_highest_level"
    # the import refuses it too, located, and writes nothing (the second row's harmless change included)
    rows, headers = exported_rows(client, "institutions")
    rows[0][IH["level"]] = "二级"
    rows[1][IH["name"]] = "改名医院"
    response = post(client, "institutions", rows, headers)
    assert response.status_code == 400, response.json()
    [error] = response.json()["errors"]
    assert (error["row"], error["column"]) == (2, IH["kind"])
    assert "最高等级" in error["message"]
    assert Institution.objects.get(code="H640500001").level == 3
    assert Institution.objects.get(code="H640500002").name != "改名医院"
    assert not Event.objects.filter(action__startswith="institution_").exists()


def test_r_ins_3_import_cannot_sign_an_agreement_that_admission_signs(client):
    """The agreement is signed on admission (R-INS-3): the API's create refuses agreement fields, so does the import
    (row 3, column 补充协议编号), and the valid first row is not written either."""
    response = post(client, "institutions", [institution_row("H640500901"),
                                             institution_row("H640500902", 补充协议编号="XY-1")], list(IH.values()))
    assert response.status_code == 400
    assert [(e["row"], e["column"]) for e in response.json()["errors"]] == [(3, IH["agreement_no"])]
    assert not Institution.objects.exists()


def test_r_ins_3_imported_institutions_are_applied_with_the_api_event(client, admin):
    """Each imported institution is created by ``institution_create``: status 申请中 and one
    ``institution_applied`` event by the importing administrator, as through the API."""
    response = post(client, "institutions", [institution_row("H640500901"), institution_row("H640500902")],
                    list(IH.values()))
    assert response.status_code == 201, response.json()
    for code in ("H640500901", "H640500902"):
        inst = Institution.objects.get(code=code)
        assert inst.status == DesignationStatus.APPLIED
        events = Event.objects.filter(object_id=str(inst.pk), action="institution_applied")
        assert [(e.actor_id, e.to_status) for e in events] == [(admin.pk, DesignationStatus.APPLIED)]


def test_r_pha_2_import_cannot_record_a_revoked_licence(client):
    """The licence is revoked only by ``pharmacy_revoke_licence`` (R-PHA-2): a new pharmacy whose 药品经营许可有效 is
    否 is refused on that cell; nothing is written."""
    row = {PH["code"]: "P640500901", PH["name"]: "中卫大药房", PH["region"]: "640502",
           **{PH[k]: "是" for k in ("has_business_licence", "has_dedicated_storage", "stocks_cold_chain",
                                    "has_cold_storage", "sells_at_or_below_price", "has_licensed_pharmacist",
                                    "traceability_capable", "delivery_capable", "trading_licence_valid",
                                    "no_penalty_past_year")}}
    response = post(client, "pharmacies", [{**row, PH["trading_licence_valid"]: "否"}], list(PH.values()))
    assert response.status_code == 400
    assert [(e["row"], e["column"]) for e in response.json()["errors"]] == [(2, PH["trading_licence_valid"])]
    assert not Pharmacy.objects.exists()
    ok = post(client, "pharmacies", [row], list(PH.values()))
    assert ok.status_code == 201, ok.json()
    pharmacy = Pharmacy.objects.get(code="P640500901")
    assert Event.objects.filter(object_id=str(pharmacy.pk), action="pharmacy_applied").count() == 1


def physician_row(code, institution, **over):
    row = {DH["code"]: code, DH["name"]: "张医生", DH["institution"]: institution, DH["department"]: "肿瘤内科",
           DH["title"]: "副主任医师", DH["is_certifying"]: "否", DH["is_treating"]: "是", DH["therapeutic_areas"]: "肿瘤",
           DH["no_insurance_sanction_3y"]: "是", DH["no_pharmacy_incident_3y"]: "是"}
    row.update({DH.get(k, k): v for k, v in over.items()})
    return row


def test_r_doc_1_import_refuses_what_physician_propose_refuses(client, admin):
    """R-DOC-1: an attending physician (主治医师) in a 三级 institution without the regional relaxation, and
    R-DOC-3: a physician of an exited institution — both refused by ``physician_propose`` (the API) and by the
    import, each on its row and column; nothing is written."""
    f.InstitutionFactory(code="H640500001")
    f.InstitutionFactory(code="H640500002", status=DesignationStatus.EXITED)
    with pytest.raises(ApplicationError) as refused:
        physician_propose(actor=admin, institution=Institution.objects.get(code="H640500001"), name="李医生",
                          department="肿瘤内科", title=Physician.Title.ATTENDING,
                          therapeutic_areas=[TherapeuticArea.objects.get(name="肿瘤")],
                          is_treating=True, now=timezone.now())
    assert refused.value.code == "physician_not_eligible" and set(refused.value.fields) == {"title"}
    rows = [physician_row("D640500901", "H640500001"),
            physician_row("D640500902", "H640500001", 职称="主治医师"),
            physician_row("D640500903", "H640500002")]
    response = post(client, "physicians", rows, list(DH.values()))
    assert response.status_code == 400, response.json()
    errors = {(e["row"], e["column"]) for e in response.json()["errors"]}
    assert errors == {(3, DH["title"]), (4, DH["code"])}
    assert not Physician.objects.exists()
    assert Event.objects.filter(action="physician_proposed").count() == 0
