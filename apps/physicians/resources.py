"""Excel layout of the responsible-physician registry (issue 3 §1): template/export through django-import-export,
import through the shared all-or-nothing engine (``apps.core.excel.engine``). Imported physicians are
*proposed*; filing stays a bureau decision (R-DOC-3)."""
from __future__ import annotations

from import_export import fields, resources, widgets

from apps.core.excel import engine as imp
from apps.catalogue.models import TherapeuticArea
from apps.catalogue.resources import ParsedWidget, _label
from apps.institutions.models import Institution
from apps.physicians.models import Physician

H = {
    "code": "医师编码", "name": "姓名", "institution": "执业机构编码", "department": "科室", "title": "职称",
    "is_certifying": "认定医师", "is_treating": "诊治医师", "therapeutic_areas": "治疗领域", "phone": "联系电话",
    "practice_licence_no": "执业证书编号", "no_insurance_sanction_3y": "近三年无医保处理",
    "no_pharmacy_incident_3y": "近三年无药事事故",
}


def _yes(v):
    return "是" if v else "否"


class PhysicianResource(resources.ModelResource):
    code = fields.Field("code", H["code"], widget=ParsedWidget(imp.text(20)))
    name = fields.Field("name", H["name"], widget=ParsedWidget(imp.text(64)))
    institution = fields.Field("institution", H["institution"], widget=widgets.ForeignKeyWidget(Institution, "code"))
    department = fields.Field("department", H["department"], widget=ParsedWidget(imp.text(64)))
    title = fields.Field("title", H["title"], widget=ParsedWidget(imp.choice(Physician.Title, "职称"),
                                                                _label(Physician.Title)))
    is_certifying = fields.Field("is_certifying", H["is_certifying"], widget=ParsedWidget(imp.yes_no, _yes))
    is_treating = fields.Field("is_treating", H["is_treating"], widget=ParsedWidget(imp.yes_no, _yes))
    therapeutic_areas = fields.Field("therapeutic_areas", H["therapeutic_areas"], m2m_add=False,
                                     widget=widgets.ManyToManyWidget(TherapeuticArea, separator="、", field="name"))
    phone = fields.Field("phone", H["phone"], widget=ParsedWidget(imp.text(20, required=False)))
    practice_licence_no = fields.Field("practice_licence_no", H["practice_licence_no"],
                                       widget=ParsedWidget(imp.text(64, required=False)))
    no_insurance_sanction_3y = fields.Field("no_insurance_sanction_3y", H["no_insurance_sanction_3y"],
                                            widget=ParsedWidget(imp.yes_no, _yes))
    no_pharmacy_incident_3y = fields.Field("no_pharmacy_incident_3y", H["no_pharmacy_incident_3y"],
                                           widget=ParsedWidget(imp.yes_no, _yes))

    class Meta:
        model = Physician
        import_id_fields = ("code",)
        fields = tuple(H)
        export_order = tuple(H)


class PhysicianImportSpec(imp.RegistrySpec):
    kind = "physicians"
    label = "责任医师"
    model = Physician
    resource_class = PhysicianResource
    m2m_attr = "therapeutic_areas"
    copy_attrs = ("code", "name", "institution_id", "department", "title", "is_certifying", "is_treating", "phone",
                  "practice_licence_no", "no_insurance_sanction_3y", "no_pharmacy_incident_3y")
    columns = [
        imp.Column(H["code"], "code", imp.text(20)),
        imp.Column(H["name"], "name", imp.text(64)),
        imp.Column(H["institution"], "institution_id", imp.text(20)),
        imp.Column(H["department"], "department", imp.text(64)),
        imp.Column(H["title"], "title", imp.choice(Physician.Title, "职称")),
        imp.Column(H["is_certifying"], "is_certifying", imp.yes_no),
        imp.Column(H["is_treating"], "is_treating", imp.yes_no),
        imp.Column(H["therapeutic_areas"], "therapeutic_areas", imp.text(200)),
        imp.Column(H["phone"], "phone", imp.text(20, required=False), required=False),
        imp.Column(H["practice_licence_no"], "practice_licence_no", imp.text(64, required=False), required=False),
        imp.Column(H["no_insurance_sanction_3y"], "no_insurance_sanction_3y", imp.yes_no),
        imp.Column(H["no_pharmacy_incident_3y"], "no_pharmacy_incident_3y", imp.yes_no),
    ]

    def context(self, *, run):
        ctx = super().context(run=run)
        ctx["institutions"] = {i.code: i for i in Institution.objects.select_related("region")}
        ctx["institutions_by_pk"] = {i.pk: i for i in ctx["institutions"].values()}
        return ctx

    def bind(self, ctx):
        self._names = ctx["area_names"]
        institutions = ctx["institutions"]

        def parse_institution(value):
            if imp.is_blank(value):
                raise imp.CellError("必填，填写执业机构编码")
            code = str(value).strip()
            inst = institutions.get(code)
            if inst is None:
                raise imp.CellError(f"未知执业机构编码“{code}”")
            if not self.in_scope(inst.region.code, ctx):
                raise imp.CellError(f"{inst.name}（{code}）不在本统筹区（{ctx['scope_name']}）范围内")
            return inst.pk

        bound = {"institution_id": parse_institution,
                 "therapeutic_areas": self.area_parser(ctx, required=True, many=True)}
        return [imp.Column(c.header, c.attr, bound.get(c.attr, c.parse), c.required, c.compare) for c in self.columns]

    def load_existing(self, keys, ctx):
        found = {}
        for start in range(0, len(keys), 5000):
            for obj in Physician.objects.select_related("institution__region").prefetch_related(
                    "therapeutic_areas").filter(code__in=keys[start:start + 5000]):
                found[obj.code] = obj
        return found

    def current_value(self, instance, attr):
        if attr == "therapeutic_areas":
            return frozenset(a.pk for a in instance.therapeutic_areas.all())
        return getattr(instance, attr)

    def region_code_of(self, instance):
        return instance.institution.region.code

    def check_row(self, values, ctx):
        if not values.get("is_certifying") and not values.get("is_treating"):
            yield H["is_treating"], "认定医师与诊治医师至少选择一项（R-DOC-2）"
        if values.get("is_certifying"):
            inst = ctx["institutions_by_pk"].get(values.get("institution_id"))
            if inst is not None and not inst.is_certifying:
                yield H["is_certifying"], f"{inst.name} 不是认定类机构，不能设认定医师（R-DOC-2）"


imp.register(PhysicianImportSpec())
