"""Procurement test data: a round of the Zhongwei region (640500) with winning products, bases and agreements."""
import datetime as dt
from decimal import Decimal

from apps.procurement import services
from apps.procurement.models import Purchase, WinningProduct
from tests import factories as f

EXECUTION = dt.date(2026, 1, 1)


def round_(region_code="640500", code="R4", name="第四批国家组织药品集采"):
    return services.round_create(region=f.region(region_code), code=code, name=name, actor=None)


def product(round_obj, *, code="V001", generic_name="阿托伐他汀钙", dosage_form="片剂", specification="20mg*7片",
            firms=("甲制药有限公司",), price="10.00", execution=EXECUTION) -> WinningProduct:
    return services.winning_product_create(
        round_=round_obj, actor=None, code=code, generic_name=generic_name, dosage_form=dosage_form,
        specification=specification, firms=list(firms), firm_count=len(firms), winning_price=Decimal(price),
        execution_date=execution)


def bases(product_obj, base: int, uses: dict):
    """``uses``: {institution: base use}."""
    services.region_base_set(product=product_obj, quantity=base)
    for institution, quantity in uses.items():
        services.base_use_set(product=product_obj, institution=institution, quantity=quantity)


def purchase(*, institution, product_obj, quantity: int, on: dt.date, firm: str | None = None, invoice_no=None,
             amount=None) -> Purchase:
    """A purchase row as the import writes it (the import itself is tested in test_imports)."""
    firm = firm or product_obj.firms[0]
    winning = firm in product_obj.firms
    if amount is None:
        amount = product_obj.winning_price * quantity if winning else Decimal("1.00") * quantity
    purchase.n += 1
    return Purchase.objects.create(
        institution=institution, product=product_obj, firm=firm, is_winning=winning, quantity=quantity,
        amount=Decimal(amount), invoice_no=invoice_no or f"INV{purchase.n:06d}", invoice_date=on,
        due_on=on + dt.timedelta(days=30))


purchase.n = 0
