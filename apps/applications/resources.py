"""Excel import of the patients' other fund use (R-PAY-3 step 4), as the core insurance system exports it monthly:
all-or-nothing like the catalogue (R-CAT-2: every bad row with row, column and reason; nothing written), through
the kernel's Excel engine (``/api/v1/imports/other_fund_use/``)."""
from __future__ import annotations

import datetime as dt
import re

from apps.applications.models import InsuredPerson, OtherFundUse
from apps.applications.selectors import other_fund_uses_visible_to
from apps.applications.services import lock_patient_years
from apps.core.events import EventAction, record_event
from apps.core.excel import engine as imp
from apps.core.masking import mask_id_number

H = {"id_number": "身份证号", "period": "年月", "amount": "基金支付金额"}
_PERIOD = re.compile(r"^(\d{4})[-/年.]?(\d{1,2})月?$")


def parse_period(value) -> tuple[int, int]:
    """``2026-11``, ``2026/11``, ``202611``, ``2026年11月`` or an Excel date → (2026, 11)."""
    if imp.is_blank(value):
        raise imp.CellError("必填，请填写年月，如 2026-11")
    if isinstance(value, (dt.datetime, dt.date)):
        return value.year, value.month
    text = str(value).strip()
    match = _PERIOD.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise imp.CellError(f"“{text}”不是有效的年月，请填写如 2026-11")
    return int(match.group(1)), int(match.group(2))


class OtherFundUseImportSpec(imp.ImportSpec):
    kind = "other_fund_use"
    label = "其他基金支付"
    generic_upload = True  # offered on the catalogue's import page (/catalogue/imports/)
    model = OtherFundUse
    key_attr = "id_number"
    columns = [
        imp.Column(H["id_number"], "id_number", imp.text(18), export=lambda o: mask_id_number(o.person.id_number)),
        imp.Column(H["period"], "period", parse_period, export=lambda o: f"{o.year}-{o.month:02d}"),
        imp.Column(H["amount"], "amount", imp.decimal(2, minimum=None), field="amount"),
    ]

    def export_queryset(self, user):
        return other_fund_uses_visible_to(user)

    def bind(self, ctx):
        run = ctx["run"]
        prefix = run.region.descendant_prefix if run.region_id else ""
        ctx["prefix"], ctx["period"], ctx["persons"] = prefix, None, {}
        return self.columns

    def check_row(self, values, ctx):
        if "amount" in values and values["amount"] is not None and values["amount"] < 0:
            yield H["amount"], "基金支付金额不能为负数"
        if "period" in values:
            year, month = values["period"]
            today = ctx["effective_date"]  # the upload's date, set at the edge
            if (year, month) > (today.year, today.month):
                yield H["period"], f"{year}-{month:02d} 晚于本月"
            elif ctx["period"] is None:
                ctx["period"] = (year, month)
            elif ctx["period"] != (year, month):
                yield H["period"], (f"一个文件只能包含一个月份（第一行为 {ctx['period'][0]}-{ctx['period'][1]:02d}），"
                                    "请按月分别导入")
        if values.get("id_number"):
            number = values["id_number"].upper()
            values["id_number"] = number
            person = InsuredPerson.objects.select_related("insured_region").filter(id_number=number).first()
            if person is None:
                yield H["id_number"], f"没有身份证号为 {mask_id_number(number)} 的参保人"
            elif not person.insured_region.code.startswith(ctx["prefix"]):
                yield H["id_number"], f"参保人 {mask_id_number(number)} 不是本统筹区参保人"
            else:
                ctx["persons"][number] = person

    def load_existing(self, keys, ctx):
        if ctx["period"] is None:
            return {}
        year, month = ctx["period"]
        return {o.person.id_number: o for o in OtherFundUse.objects.select_related("person").filter(
            person__id_number__in=keys, year=year, month=month)}

    def current_value(self, instance, attr):
        if attr == "id_number":
            return instance.person.id_number
        if attr == "period":
            return instance.year, instance.month
        return getattr(instance, attr)

    def show(self, attr, value):
        if attr == "id_number":
            return mask_id_number(value)
        if attr == "period" and isinstance(value, tuple):
            return f"{value[0]}-{value[1]:02d}"
        return super().show(attr, value)

    def write(self, plan, ctx):
        now, user = ctx["run"].created_at, ctx["user"]  # the upload's moment, set at the edge
        rows = [*plan.creates, *plan.updates]
        if not rows:
            return
        year, month = ctx["period"]
        persons = ctx["persons"]
        # R-PAY-3 step 4: the patients' year accumulators are held while their other fund use changes
        lock_patient_years([(persons[r.values["id_number"]].pk, year) for r in rows], now=now)
        OtherFundUse.objects.bulk_create([
            OtherFundUse(person=persons[r.values["id_number"]], year=year, month=month, amount=r.values["amount"],
                         source=OtherFundUse.Source.IMPORT, recorded_by=user, recorded_at=now)
            for r in plan.creates])
        for r in plan.updates:
            r.instance.amount, r.instance.source = r.values["amount"], OtherFundUse.Source.IMPORT
            r.instance.recorded_by, r.instance.recorded_at = user, now
            r.instance.save(update_fields=["amount", "source", "recorded_by", "recorded_at"])
        run = ctx["run"]
        record_event(subject=run, action=EventAction.OTHER_FUND_USE_IMPORTED, actor=user,
                     data={"period": f"{year}-{month:02d}", "created": len(plan.creates),
                           "updated": len(plan.updates), "unchanged": plan.unchanged}, now=now)


OTHER_FUND_USE = OtherFundUseImportSpec()
