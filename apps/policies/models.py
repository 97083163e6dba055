"""Payment policies per region and effective period (R-PAY-1, R-PAY-2)."""
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel


class InsuranceType(models.TextChoices):
    EMPLOYEE = "employee", _("职工医保")
    RESIDENT = "resident", _("城乡居民医保")


class CareSetting(models.TextChoices):
    OUTPATIENT = "outpatient", _("门诊/药店")
    INPATIENT = "inpatient", _("住院")


def _ratio(verbose):
    return models.DecimalField(verbose, max_digits=5, decimal_places=4,
                               validators=[MinValueValidator(0), MaxValueValidator(1)])


def _money(verbose, **kw):
    return models.DecimalField(verbose, max_digits=14, decimal_places=2, validators=[MinValueValidator(0)], **kw)


class PaymentPolicy(TimeStampedModel):
    """Deductible and ratio by care setting × insurance type; annual fund cap by insurance type (empty = none)."""

    region = models.ForeignKey("core.Region", verbose_name=_("统筹区"), on_delete=models.PROTECT,
                               related_name="payment_policies")
    preset = models.CharField(_("预置方案"), max_length=32, blank=True, help_text=_("如 zhongwei-2021、hunan-2026"))
    name = models.CharField(_("名称"), max_length=128)
    valid_from = models.DateField(_("生效日期"))
    valid_until = models.DateField(_("失效日期"), null=True, blank=True)
    deductible_outpatient_employee = _money(_("门诊起付线（职工）"), default=Decimal("0"))
    deductible_outpatient_resident = _money(_("门诊起付线（居民）"), default=Decimal("0"))
    deductible_inpatient_employee = _money(_("住院起付线（职工）"), default=Decimal("0"))
    deductible_inpatient_resident = _money(_("住院起付线（居民）"), default=Decimal("0"))
    ratio_outpatient_employee = _ratio(_("门诊报销比例（职工）"))
    ratio_outpatient_resident = _ratio(_("门诊报销比例（居民）"))
    ratio_inpatient_employee = _ratio(_("住院报销比例（职工）"))
    ratio_inpatient_resident = _ratio(_("住院报销比例（居民）"))
    annual_cap_employee = _money(_("年度基金支付限额（职工）"), null=True, blank=True)
    annual_cap_resident = _money(_("年度基金支付限额（居民）"), null=True, blank=True)
    source = models.CharField(_("依据"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("支付政策")
        verbose_name_plural = _("支付政策")
        ordering = ["region__code", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["region", "valid_from"], name="uniq_policy_region_valid_from"),
            models.CheckConstraint(
                condition=models.Q(valid_until__isnull=True) | models.Q(valid_until__gte=models.F("valid_from")),
                name="policy_valid_until_after_from",
                violation_error_message=_("失效日期早于生效日期"),
            ),
        ]

    def __str__(self):
        return f"{self.name}（{self.region.name}，{self.valid_from} 起）"

    def deductible(self, *, care_setting: str, insurance_type: str) -> Decimal:
        return getattr(self, f"deductible_{care_setting}_{insurance_type}")

    def ratio(self, *, care_setting: str, insurance_type: str) -> Decimal:
        return getattr(self, f"ratio_{care_setting}_{insurance_type}")

    def annual_cap(self, *, insurance_type: str) -> Decimal | None:
        return getattr(self, f"annual_cap_{insurance_type}")
