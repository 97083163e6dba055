"""Issue 3 §1: institutions, responsible physicians and pharmacies from Excel through the same all-or-nothing
engine (R-CAT-2 rules apply; R-SEC-1 scope: only the administrator's region; R-DOC-3: imported physicians are
proposed, filing stays a bureau decision)."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.core.models import DesignationStatus
from apps.institutions.models import Institution
from apps.institutions.resources import H as IH
from apps.pharmacies.models import Pharmacy
from apps.pharmacies.resources import H as PH
from apps.physicians.models import Physician
from apps.physicians.resources import H as DH
from tests import factories as f
from tests.catalogue.helpers import read_workbook, upload, workbook_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(api_as, zhongwei):
    f.region("640502", "沙坡头区")
    return api_as(f.bureau_admin())


def institution_row(code="H640500901", **over):
    row = {IH["code"]: code, IH["name"]: "中卫市第二人民医院", IH["region"]: "640502", IH["level"]: "三级",
           IH["hospital_type"]: "综合医院", IH["kind"]: "治疗类", IH["has_clinical_department"]: "是",
           IH["sells_at_negotiated_price"]: "是", IH["info_system_capable"]: "是", IH["no_penalty_past_year"]: "是"}
    row.update({IH.get(k, k): v for k, v in over.items()})
    return row


def post(client, kind, rows, headers, **data):
    return client.post(f"/api/v1/imports/{kind}/", {"file": upload(workbook_bytes(rows, headers)), **data},
                       format="multipart")


def test_registry_import_institutions_created_as_applied(client):
    headers = list(IH.values())
    response = post(client, "institutions", [institution_row(), institution_row("H640500902", 医院类型="专科医院",
                                                                                专科领域="肿瘤")], headers)
    assert response.status_code == 201, response.json()
    assert response.json()["created"] == 2
    inst = Institution.objects.get(code="H640500901")
    assert inst.status == DesignationStatus.APPLIED and inst.level == 3 and inst.region.code == "640502"
    assert Institution.objects.get(code="H640500902").specialty.code == "oncology"


def test_registry_import_institution_errors_and_nothing_written(client, changsha):
    headers = list(IH.values())
    rows = [institution_row(), institution_row("H640500902", 所在县区="430102"),
            institution_row("H640500903", 医院等级="特级"), institution_row("H640500904", 医院类型="专科医院")]
    f.region("430102", "芙蓉区")
    response = post(client, "institutions", rows, headers)
    assert response.status_code == 400
    errors = {(e["row"], e["column"]) for e in response.json()["errors"]}
    assert errors == {(3, "所在县区"), (4, "医院等级"), (5, "专科领域")}
    assert "不在本统筹区" in response.json()["errors"][0]["message"]
    assert Institution.objects.count() == 0


def test_registry_import_institutions_export_round_trip(client):
    f.InstitutionFactory(code="H640500001", name="中卫市人民医院")
    exported = client.get("/api/v1/imports/institutions/export/")
    assert read_workbook(exported.content)[0] == list(IH.values())
    response = client.post("/api/v1/imports/institutions/", {"file": SimpleUploadedFile("x.xlsx", exported.content)},
                           format="multipart")
    assert response.status_code == 201, response.json()
    assert (response.json()["created"], response.json()["updated"], response.json()["unchanged"]) == (0, 0, 1)


def test_registry_import_physicians_proposed_with_areas_and_scope(client):
    inst = f.InstitutionFactory(code="H640500001")
    headers = list(DH.values())
    row = {DH["code"]: "D640500901", DH["name"]: "张医生", DH["institution"]: "H640500001", DH["department"]: "肿瘤内科",
           DH["title"]: "副主任医师", DH["is_certifying"]: "是", DH["is_treating"]: "是",
           DH["therapeutic_areas"]: "肿瘤、血液病", DH["no_insurance_sanction_3y"]: "是",
           DH["no_pharmacy_incident_3y"]: "是"}
    response = post(client, "physicians", [row], headers)
    assert response.status_code == 201, response.json()
    doc = Physician.objects.get(code="D640500901")
    assert doc.status == Physician.Status.PROPOSED and doc.institution == inst
    assert set(doc.therapeutic_areas.values_list("code", flat=True)) == {"oncology", "hematology"}
    # the same file again changes nothing; a changed area list is an update of the areas only
    assert post(client, "physicians", [row], headers).json()["unchanged"] == 1
    preview = post(client, "physicians", [{**row, DH["therapeutic_areas"]: "肿瘤"}], headers, dry_run="true").json()
    assert preview["updated"] == 1 and preview["changes"][0]["fields"] == {"治疗领域": ["肿瘤、血液病", "肿瘤"]}
    applied = client.post(f"/api/v1/imports/{preview['id']}/confirm/")
    assert applied.status_code == 201
    assert set(doc.therapeutic_areas.values_list("code", flat=True)) == {"oncology"}
    bad = post(client, "physicians", [{**row, DH["code"]: "D2", DH["institution"]: "H999", DH["therapeutic_areas"]: "火星"}],
               headers)
    assert {(e["column"]) for e in bad.json()["errors"]} == {"执业机构编码", "治疗领域"}


def test_registry_import_pharmacies(client):
    headers = list(PH.values())
    row = {PH["code"]: "P640500901", PH["name"]: "中卫大药房", PH["region"]: 640502,
           **{PH[k]: "是" for k in ("has_business_licence", "has_dedicated_storage", "stocks_cold_chain",
                                    "has_cold_storage", "sells_at_or_below_price", "has_licensed_pharmacist",
                                    "traceability_capable", "delivery_capable", "trading_licence_valid",
                                    "no_penalty_past_year")}}
    response = post(client, "pharmacies", [row], headers)
    assert response.status_code == 201, response.json()
    pharmacy = Pharmacy.objects.get(code="P640500901")
    assert pharmacy.status == DesignationStatus.APPLIED and pharmacy.has_cold_storage
    bad = post(client, "pharmacies", [{**row, PH["has_cold_storage"]: "也许"}], headers)
    assert bad.status_code == 400 and bad.json()["errors"][0]["message"] == "“也许”应填 是 或 否"


def test_registry_templates_for_every_kind(client):
    for kind, headers in (("institutions", IH), ("pharmacies", PH), ("physicians", DH)):
        response = client.get(f"/api/v1/imports/{kind}/template/")
        assert response.status_code == 200 and read_workbook(response.content) == [list(headers.values())]
    assert client.get("/api/v1/imports/unknown/template/").status_code == 404
