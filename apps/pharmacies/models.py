"""Designated retail pharmacies (定点零售药店): R-PHA-1..3."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.models import DesignatedOrganisation


class Pharmacy(DesignatedOrganisation):
    licence_no = models.CharField(_("药品经营许可证号"), max_length=64, blank=True)
    # R-PHA-1 admission criteria
    has_business_licence = models.BooleanField(_("具备营业执照"), default=False)
    has_dedicated_storage = models.BooleanField(_("具备专门存储场所"), default=False)
    stocks_cold_chain = models.BooleanField(_("经营冷链药品"), default=False)
    has_cold_storage = models.BooleanField(_("具备冷藏设施"), default=False)
    sells_at_or_below_price = models.BooleanField(_("不高于谈判价格销售"), default=False)
    has_licensed_pharmacist = models.BooleanField(_("配备执业药师"), default=False)
    traceability_capable = models.BooleanField(_("可进行数据交换和电子追溯"), default=False)
    delivery_capable = models.BooleanField(_("具备配送能力"), default=False)
    trading_licence_valid = models.BooleanField(_("药品经营许可有效"), default=True,
                                                help_text=_("许可被吊销即退出"))

    class Meta(DesignatedOrganisation.Meta):
        verbose_name = _("定点零售药店")
        verbose_name_plural = _("定点零售药店")
