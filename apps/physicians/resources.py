"""Excel layout of the responsible-physician registry (R-DOC-1, Excel import R-CAT-2): the columns are declared once on the spec
(template, export and import); imported rows are proposed and changed by ``apps.physicians.services`` so the
eligibility rules (R-DOC-1, R-DOC-2), model validation and the events hold for them as for the REST API. Imported
physicians are *proposed*; filing stays a bureau decision (R-DOC-3). Registered in ``PhysiciansConfig.ready()``."""
from __future__ import annotations

from import_export import widgets

from apps.catalogue.models import TherapeuticArea
from apps.core.excel import engine as imp
from apps.core.excel.widgets import label_of, yes_no_label
from apps.institutions.models import Institution
from apps.physicians import services
from apps.physicians.models import Physician
from apps.physicians.selectors import physicians_visible_to

H = {
    "code": "医师编码", "name": "姓名", "institution": "执业机构编码", "department": "科室", "title": "职称",
    "is_certifying": "认定医师", "is_treating": "诊治医师", "therapeutic_areas": "治疗领域", "phone": "联系电话",
    "practice_licence_no": "执业证书编号", "no_insurance_sanction_3y": "近三年无医保处理",
    "no_pharmacy_incident_3y": "近三年无药事事故",
}


class PhysicianImportSpec(imp.RegistrySpec):
    kind = "physicians"
    label = "责任医师"
    model = Physician
    area_model = TherapeuticArea
    m2m_attr = "therapeutic_areas"
    copy_attrs = ("code", "name", "institution_id", "department", "title", "is_certifying", "is_treating", "phone",
                  "practice_licence_no", "no_insurance_sanction_3y", "no_pharmacy_incident_3y")
    columns = [
        imp.Column(H["code"], "code", imp.text(20)),
        imp.Column(H["name"], "name", imp.text(64)),
        imp.Column(H["institution"], "institution_id", imp.text(20), field="institution",
                   widget=widgets.ForeignKeyWidget(Institution, "code")),
        imp.Column(H["department"], "department", imp.text(64)),
        imp.Column(H["title"], "title", imp.choice(Physician.Title, "职称"), render=label_of(Physician.Title)),
        imp.Column(H["is_certifying"], "is_certifying", imp.yes_no, render=yes_no_label),
        imp.Column(H["is_treating"], "is_treating", imp.yes_no, render=yes_no_label),
        imp.Column(H["therapeutic_areas"], "therapeutic_areas", imp.text(200),
                   widget=widgets.ManyToManyWidget(TherapeuticArea, separator="、", field="name")),
        imp.Column(H["phone"], "phone", imp.text(20, required=False), required=False),
        imp.Column(H["practice_licence_no"], "practice_licence_no", imp.text(64, required=False), required=False),
        imp.Column(H["no_insurance_sanction_3y"], "no_insurance_sanction_3y", imp.yes_no, render=yes_no_label),
        imp.Column(H["no_pharmacy_incident_3y"], "no_pharmacy_incident_3y", imp.yes_no, render=yes_no_label),
    ]

    def export_queryset(self, user):
        return physicians_visible_to(user).order_by("code")

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
        return [c.rebind(bound[c.attr]) if c.attr in bound else c for c in self.columns]

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

    def related(self, attr, pk, ctx):
        if attr == "institution_id":
            return ctx["institutions_by_pk"][pk]
        return super().related(attr, pk, ctx)

    def check_row(self, values, ctx):
        if not values.get("is_certifying") and not values.get("is_treating"):
            yield H["is_treating"], "认定医师与诊治医师至少选择一项"

    def check_change(self, row, ctx):
        if "institution_id" in row.changed:  # a move between institutions is a new proposal (R-DOC-3)
            yield H["institution"], "执业机构不能通过导入变更，请在新执业机构重新提名"
            return
        yield from super().check_change(row, ctx)

    def _areas(self, row, ctx):
        return [ctx["areas_by_pk"][pk] for pk in sorted(row.values.get("therapeutic_areas", ()))]

    def apply_create(self, row, ctx):
        return services.physician_propose(actor=ctx["user"], therapeutic_areas=self._areas(row, ctx),
                                          now=ctx["now"], **self.service_values(row.values, ctx, self.copy_attrs))

    def apply_change(self, row, ctx):
        physician = Physician.objects.get(pk=row.instance.pk)
        data = self.service_values(row.values, ctx, [a for a in row.changed if a != self.m2m_attr])
        areas = self._areas(row, ctx) if self.m2m_attr in row.changed else None
        return services.physician_update(physician=physician, actor=ctx["user"], data=data, therapeutic_areas=areas)


PHYSICIANS = PhysicianImportSpec()
