"""Volume-based procurement demo (section 10): one round of Zhongwei with three varieties (one, two and three
winning firms) across the Zhongwei hospitals, executed six months before the demo's today; the winning products,
bases and base use imported and six months of purchases imported through the real import (the provincial
platform's export), agreed volumes decomposed, the fund advanced and settled, repayments recorded — with one
institution behind the even pace (海原县人民医院 on 阿托伐他汀钙) and one invoice overdue. Re-runnable: an existing
round is kept as it is."""
from __future__ import annotations

import datetime as dt
import io
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

import openpyxl
from django.contrib.auth import get_user_model

from apps.core.models import Region
from apps.institutions.models import Institution
from apps.procurement import importing, selectors, services
from apps.procurement.models import ProcurementRound, Purchase, WinningProduct

ROUND_CODE = "GJ-DEMO"
REGION = "640500"
# code, generic name, dosage form, specification, winning firms, winning price, region base
VARIETIES = [
    ("V001", "恩格列净", "片剂", "10mg*30片", ["勃林格殷格翰国际公司"], "45.00", 6000),
    ("V002", "来那度胺", "胶囊", "25mg*21粒", ["正大天晴药业集团股份有限公司", "齐鲁制药有限公司"], "680.00", 1000),
    ("V003", "阿托伐他汀钙", "片剂", "20mg*7片",
     ["北京嘉林药业股份有限公司", "浙江新东港药业股份有限公司", "齐鲁制药有限公司"], "0.95", 50000),
]
# institution → base use weight (the same for every variety)
BASE_USE = {"H640500001": 5, "H640500002": 3, "H640500003": 2}
# share of the even monthly pace each institution buys, per variety (海原 well behind on V003)
PACE = {("H640500003", "V003"): Decimal("0.30")}
OTHER_FIRM = ("V001", "H640500002", "某非中选企业", 40)  # a non-winning product of V001 bought each month
OVERDUE = ("H640500002", "V002")  # its invoice of three months ago stays unpaid


def _months_before(day: dt.date, n: int) -> dt.date:
    month = day.month - n
    year = day.year + (month - 1) // 12
    return dt.date(year, (month - 1) % 12 + 1, 1)


def _workbook(headers: list[str], rows: list[tuple], name: str) -> io.BytesIO:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(headers)
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    out.name = name
    return out


def load(*, today: dt.date, now: dt.datetime, stdout=None):
    def say(message):
        if stdout is not None:
            stdout.write(message)

    region = Region.objects.filter(code=REGION).first()
    admin = get_user_model().objects.filter(username="admin").first()
    institutions = {i.code: i for i in Institution.objects.filter(code__in=BASE_USE)}
    if region is None or admin is None or len(institutions) != len(BASE_USE):
        say("  带量采购：缺少中卫市或演示医院，跳过")
        return
    if ProcurementRound.objects.filter(region=region, code=ROUND_CODE).exists():
        say("  带量采购：演示批次已存在")
        return
    execution = _months_before(today, 6)
    round_ = services.round_create(region=region, code=ROUND_CODE, name="国家组织药品集中采购（演示批次）", actor=admin)

    # R-VBP-1, R-VBP-2: winning products, bases, base use — through the imports
    importing.import_file(kind=importing.PRODUCTS, actor=admin, dry_run=False, round_id=round_.pk, upload=_workbook(
        [c.header for c in importing.SPECS[importing.PRODUCTS].columns],
        [(code, name, form, spec, "、".join(firms), len(firms), price, execution)
         for code, name, form, spec, firms, price, _base in VARIETIES], "中选药品.xlsx"))
    importing.import_file(kind=importing.BASES, actor=admin, dry_run=False, upload=_workbook(
        ["品种编码", "计算基数"], [(v[0], v[6]) for v in VARIETIES], "计算基数.xlsx"))
    importing.import_file(kind=importing.BASE_USES, actor=admin, dry_run=False, upload=_workbook(
        ["品种编码", "医疗机构编码", "基期使用量"],
        [(v[0], code, weight) for v in VARIETIES for code, weight in BASE_USE.items()], "基期使用量.xlsx"))
    products = {p.code: p for p in WinningProduct.objects.filter(round=round_)}
    agreed = {}
    for product in products.values():
        contract = services.contract_decompose(product=product, cycle_year=1, actor=admin)
        for agreement in contract.agreements.select_related("institution"):
            agreed[(agreement.institution.code, product.code)] = agreement.agreed_volume

    # R-VBP-4: the advance (the annual agreed amount rounded up to the hundred yuan, half of it at least)
    annual = selectors.annual_agreed_amount(round_=round_, cycle_year=1)
    advance = (annual / 2 / 100).to_integral_value(rounding=ROUND_CEILING) * 100
    services.fund_advance(round_=round_, amount=advance, occurred_on=execution + dt.timedelta(days=3),
                          reference="财预〔演示〕1号", actor=admin)

    # R-VBP-3: six months of purchases, one invoice per institution, variety and month (imported)
    rows, number = [], 0
    months = [_months_before(today, n) for n in range(6, 0, -1)]
    for month in months:
        invoice_date = month.replace(day=15)
        for (code, variety), volume in sorted(agreed.items()):
            product = products[variety]
            share = PACE.get((code, variety), Decimal("1.05"))
            quantity = int((Decimal(volume) / 12 * share).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
            if quantity <= 0:
                continue
            firm = product.firms[number % len(product.firms)]
            number += 1
            rows.append((code, variety, firm, quantity, product.winning_price * quantity,
                         f"DEMO{invoice_date:%Y%m}{number:04d}", invoice_date))
        variety, code, firm, quantity = OTHER_FIRM
        number += 1
        rows.append((code, variety, firm, quantity, Decimal("52.00") * quantity, f"DEMO{invoice_date:%Y%m}{number:04d}",
                     invoice_date))
    importing.import_file(kind=importing.PURCHASES, actor=admin, dry_run=False,
                          upload=_workbook(importing.SPECS[importing.PURCHASES].headers, rows, "省平台采购明细.xlsx"))

    # R-VBP-5 and R-VBP-4: repayments 20 days after each invoice (up to today), except the overdue one; the fund
    # settles each month's winning purchases with the firms on the 25th of the next month
    overdue_month = months[-3]
    repaid = 0
    for purchase in Purchase.objects.filter(product__round=round_, is_winning=True).select_related(
            "institution", "product").order_by("invoice_date", "invoice_no"):
        paid_on = purchase.invoice_date + dt.timedelta(days=20)
        if paid_on > today or ((purchase.institution.code, purchase.product.code) == OVERDUE
                               and purchase.invoice_date.replace(day=1) == overdue_month):
            continue
        services.repayment_record(purchase=purchase, amount=purchase.amount, paid_on=paid_on,
                                  reference=f"HK{purchase.invoice_no}", actor=admin)
        repaid += 1
    for month in months:
        settle_on = _months_before(month, -1).replace(day=25)
        if settle_on > today:
            continue
        by_firm: dict[str, Decimal] = {}
        for firm, amount in Purchase.objects.filter(product__round=round_, is_winning=True,
                                                    invoice_date__year=month.year,
                                                    invoice_date__month=month.month).values_list("firm", "amount"):
            by_firm[firm] = by_firm.get(firm, Decimal("0")) + amount
        for firm, amount in sorted(by_firm.items()):
            services.fund_settle(round_=round_, firm=firm, amount=amount, occurred_on=settle_on,
                                 reference=f"JS{month:%Y%m}", actor=admin)

    # R-VBP-3: the monthly job's snapshots of the six months
    for month in months:
        services.completion_recompute(period=month, region=region)
    say(f"  带量采购：3 个品种，{len(rows)} 张发票，回款 {repaid} 笔，执行日期 {execution}")
