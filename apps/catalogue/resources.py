"""The catalogue's Excel layout (R-CAT-1, R-CAT-2): the ``DrugImportSpec`` declares its columns once; they drive the
template and the export (``DrugResource``, a django-import-export resource built from them), and the fast
all-or-nothing import (``apps.core.excel.engine``). The resource's widgets parse with the engine's parsers, so the
plain ``DrugResource().import_data`` (the benchmark's comparison) reads the same file. Registered in
``CatalogueConfig.ready()``."""
from __future__ import annotations

import datetime as dt

from django.db.models import OuterRef, Subquery
from import_export import widgets

from apps.core.excel import bulk, engine as imp
from apps.core.excel.widgets import label_of, yes_no_label
from apps.catalogue.models import Drug, PaymentStandard, TherapeuticArea

H = {
    "code": "医保药品代码", "generic_name": "通用名", "dosage_form": "剂型", "specification": "规格",
    "manufacturer": "生产企业", "category": "类别", "therapeutic_area": "治疗领域", "route": "给药途径",
    "cold_chain": "冷链", "payment_standard": "支付标准", "first_self_pay_ratio": "先行自付比例",
    "restricted_scope": "限定支付范围", "agreement_start": "协议期开始", "agreement_end": "协议期结束",
    "standard_effective": "支付标准生效日期",
}


def parse_drug_code(value) -> str:
    """R-CAT-1: 23 characters, ``X`` (Western) or ``Z`` (Chinese patent medicine) first, then A–Z/0–9."""
    if imp.is_blank(value):
        raise imp.CellError("必填，不能为空")
    code = str(value).strip().upper()
    if len(code) != 23:
        raise imp.CellError(f"代码“{code}”应为 23 位，实为 {len(code)} 位")
    if code[0] not in "XZ":
        raise imp.CellError(f"代码“{code}”应以 X（西药）或 Z（中成药）开头")
    if not code.isascii() or not code.isalnum():
        raise imp.CellError(f"代码“{code}”只能包含大写字母和数字")
    return code


parse_drug_code.hint = "23 位医保药品代码，以 X（西药）或 Z（中成药）开头"
parse_drug_code.max_length = 23  # exactly 23 characters: the field's length is not checked again


class DrugImportSpec(imp.ImportSpec):
    kind = "drugs"
    label = "药品目录"
    model = Drug
    streaming = True  # one pass, chunk by chunk; the run's ChangeLog is its audit (ImportAudit, issue 16)
    COPY = ("code", "generic_name", "dosage_form", "specification", "manufacturer", "category",
            "therapeutic_area_id", "route", "cold_chain", "payment_standard", "first_self_pay_ratio",
            "restricted_scope", "agreement_start", "agreement_end")

    columns = [
        imp.Column(H["code"], "code", parse_drug_code),
        imp.Column(H["generic_name"], "generic_name", imp.text(128)),
        imp.Column(H["dosage_form"], "dosage_form", imp.text(32)),
        imp.Column(H["specification"], "specification", imp.text(128)),
        imp.Column(H["manufacturer"], "manufacturer", imp.text(128)),
        imp.Column(H["category"], "category", imp.choice(Drug.Category, "类别"), render=label_of(Drug.Category)),
        imp.Column(H["therapeutic_area"], "therapeutic_area_id", imp.text(64), field="therapeutic_area",
                   widget=widgets.ForeignKeyWidget(TherapeuticArea, "name")),  # parser bound per run
        imp.Column(H["route"], "route", imp.choice(Drug.Route, "给药途径"), required=False,
                   render=label_of(Drug.Route)),
        imp.Column(H["cold_chain"], "cold_chain", imp.yes_no, required=False, render=yes_no_label),
        imp.Column(H["payment_standard"], "payment_standard", imp.decimal(2)),
        imp.Column(H["first_self_pay_ratio"], "first_self_pay_ratio", imp.ratio),
        imp.Column(H["restricted_scope"], "restricted_scope", imp.text(4000, required=False), required=False),
        imp.Column(H["agreement_start"], "agreement_start", imp.date()),
        imp.Column(H["agreement_end"], "agreement_end", imp.date(required=False)),
        imp.Column(H["standard_effective"], "standard_effective", imp.date(required=False), required=False,
                   compare=False, export=lambda drug: getattr(drug, "standard_effective", None)),
    ]

    example = {
        "code": "XL01XEA0000000000000001", "generic_name": "奥希替尼", "dosage_form": "片剂",
        "specification": "80mg*30片", "manufacturer": "阿斯利康制药有限公司", "category": "协议期内谈判药品",
        "therapeutic_area": "肿瘤", "route": "口服", "cold_chain": "否", "payment_standard": "1000.00",
        "first_self_pay_ratio": "10%", "restricted_scope": "限 EGFR 突变的非小细胞肺癌", "agreement_start": "2026-01-01",
        "agreement_end": "2027-12-31", "standard_effective": "2026-01-01",
    }

    def template_options(self):
        return {"therapeutic_area_id": list(TherapeuticArea.objects.order_by("code").values_list("name", flat=True))}

    def export_queryset(self, user):
        """Every drug with the start of its latest payment-standard version (the catalogue is public)."""
        latest = PaymentStandard.objects.filter(drug=OuterRef("pk")).order_by("-valid_from").values("valid_from")[:1]
        return Drug.objects.select_related("therapeutic_area").annotate(
            standard_effective=Subquery(latest)).order_by("code")

    def context(self, *, run) -> dict:
        ctx = super().context(run=run)
        areas = {}
        for area in TherapeuticArea.objects.all():
            areas[area.name] = area
            areas[area.code] = area
        ctx["areas"] = areas
        ctx["area_names"] = {a.pk: a.name for a in areas.values()}
        return ctx

    def bind(self, ctx):
        areas = ctx["areas"]
        known = "、".join(sorted({a.name for a in areas.values()}))

        def parse_area(value):
            if imp.is_blank(value):
                raise imp.CellError("必填，不能为空")
            area = areas.get(str(value).strip())
            if area is None:
                raise imp.CellError(f"未知治疗领域“{str(value).strip()}”，应为：{known}")
            return area.pk

        self._area_names = ctx["area_names"]
        return [c.rebind(parse_area) if c.attr == "therapeutic_area_id" else c for c in self.columns]

    def check_row(self, values, ctx):
        start, end = values.get("agreement_start"), values.get("agreement_end")
        if start and end and end < start:
            yield H["agreement_end"], f"协议期结束 {end} 早于协议期开始 {start}"

    def load_existing(self, keys, ctx):
        """Existing drugs as plain dicts (pk + the compared fields) and their latest payment-standard version as a
        tuple: model instances are built later only for the rows that change."""
        found: dict[str, dict] = {}
        names = ["pk", *self.COPY]
        for start in range(0, len(keys), 5000):
            for values in Drug.objects.filter(code__in=keys[start:start + 5000]).values_list(*names):
                found[values[1]] = dict(zip(names, values))
        latest: dict[int, tuple] = {}
        ids = [d["pk"] for d in found.values()]
        for start in range(0, len(ids), 5000):
            for version in PaymentStandard.objects.filter(drug_id__in=ids[start:start + 5000]).order_by(
                    "drug_id", "valid_from").values_list("drug_id", "pk", "amount", "valid_from", "valid_until"):
                latest[version[0]] = version  # ordered ascending: the last one wins
        ctx["latest_versions"] = latest
        return found

    def current_value(self, instance, attr):
        return instance[attr]

    @staticmethod
    def effective_of(row, ctx) -> dt.date:
        """The date a changed payment standard takes effect (R-CAT-3): the row's 支付标准生效日期, unless it is still
        the date the export wrote there (the start of the current standard) — an exported file whose price was
        edited and whose date was left alone takes the run's effective date, so export → edit → import works."""
        given = row.values.get("standard_effective")
        latest = ctx["latest_versions"].get(row.instance["pk"]) if row.instance else None
        if given is not None and latest is not None and given == latest[3]:
            return ctx["effective_date"]
        return given or ctx["effective_date"]

    def check_change(self, row, ctx):
        if "payment_standard" in row.changed:
            effective = self.effective_of(row, ctx)
            latest = ctx["latest_versions"].get(row.instance["pk"])
            if latest is not None and effective <= latest[3]:
                earliest = latest[3] + dt.timedelta(days=1)
                change = f"支付标准由 {latest[2]} 改为 {row.values['payment_standard']}，生效日期 {effective} 须晚于" \
                         f"现行支付标准的生效日期 {latest[3]}"
                if effective is row.values.get("standard_effective"):  # the row's own date
                    yield H["standard_effective"], (
                        f"{change}。请把本行“{H['standard_effective']}”改为 {earliest} 或之后的日期，"
                        f"或清空该格以使用本次导入的生效日期")
                else:  # the run's date
                    yield H["payment_standard"], (
                        f"{change}。请把上传时的“支付标准生效日期”改为 {earliest} 或之后，"
                        f"或在本行“{H['standard_effective']}”填写该日期")

    def show(self, attr, value):
        if attr == "therapeutic_area_id":
            return getattr(self, "_area_names", {}).get(value, str(value))
        if attr == "category" and value:
            return str(Drug.Category(value).label)
        if attr == "route" and value:
            return str(Drug.Route(value).label)
        if attr == "first_self_pay_ratio" and value is not None:
            return f"{(value * 100).normalize():f}%"
        return super().show(attr, value)

    def write(self, plan, ctx):
        """One chunk's writes (``write_chunk``): new drugs by COPY with their first payment-standard version,
        changed drugs by ``bulk_update``; a changed payment standard closes the old version the day before the new
        one (R-CAT-3). The audit is the run's ChangeLog (``ImportAudit``), written by the engine and the service."""
        actor = ctx["user"]
        actor_id = actor.pk if actor is not None else None
        run = ctx["run"]
        source = f"导入#{run.pk} {run.file_name}"[:128]
        now = ctx["now"]  # the run's moment, given by the edge that recorded the upload
        # the rows' own values (only the drug's fields among them are written): no copy per row
        new_rows = [row.values for row in plan.creates]
        ids = bulk.insert_values(Drug, new_rows, now=now)
        versions = [
            {"drug_id": pk, "amount": values["payment_standard"], "created_by_id": actor_id, "source": source,
             "valid_from": row.values.get("standard_effective") or values["agreement_start"]}
            for pk, values, row in zip(ids, new_rows, plan.creates)
        ]
        changed_fields: set[str] = set()
        closing = []
        updated = []
        for row in plan.updates:
            current = {**row.instance, **{attr: new for attr, (_old, new) in row.changed.items()}}
            drug = Drug(updated_at=now, **current)
            changed_fields.update(row.changed)
            updated.append(drug)
            if "payment_standard" in row.changed:
                effective = self.effective_of(row, ctx)
                latest = ctx["latest_versions"].get(drug.pk)
                if latest is not None and (latest[4] is None or latest[4] >= effective):
                    closing.append(PaymentStandard(pk=latest[1], valid_until=effective - dt.timedelta(days=1)))
                versions.append({"drug_id": drug.pk, "amount": drug.payment_standard, "valid_from": effective,
                                 "source": source, "created_by_id": actor_id})
        if updated:
            Drug.objects.bulk_update(updated, sorted(changed_fields) + ["updated_at"], batch_size=1000)
        if closing:
            PaymentStandard.objects.bulk_update(closing, ["valid_until"], batch_size=1000)
        bulk.insert_values(PaymentStandard, versions, now=now, ids=False)


DRUGS = DrugImportSpec()
#: the django-import-export resource of the catalogue layout (template, export, benchmark comparison)
DrugResource = DRUGS.resource_class
