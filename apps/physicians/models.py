"""Responsible physicians (责任医师): R-DOC-1..5."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.fields import EncryptedCharField
from apps.core.models import TimeStampedModel


class Physician(TimeStampedModel):
    class Title(models.TextChoices):
        CHIEF = "chief", _("主任医师")
        ASSOCIATE_CHIEF = "associate_chief", _("副主任医师")
        ATTENDING = "attending", _("主治医师")
        RESIDENT = "resident", _("住院医师")

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("待备案")
        FILED = "filed", _("已备案")
        SUSPENDED = "suspended", _("暂停")
        REVOKED = "revoked", _("已撤销")
        EXPIRED = "expired", _("已过期")
        REJECTED = "rejected", _("未予备案")

    code = models.CharField(_("医师编码"), max_length=20, unique=True)
    name = models.CharField(_("姓名"), max_length=64)
    institution = models.ForeignKey("institutions.Institution", verbose_name=_("执业机构"),
                                    on_delete=models.PROTECT, related_name="physicians")
    department = models.CharField(_("科室"), max_length=64)
    title = models.CharField(_("职称"), max_length=20, choices=Title.choices)
    is_certifying = models.BooleanField(_("认定医师"), default=False, help_text=_("须在认定类机构"))
    is_treating = models.BooleanField(_("诊治医师"), default=True)
    therapeutic_areas = models.ManyToManyField("catalogue.TherapeuticArea", verbose_name=_("治疗领域"),
                                               related_name="physicians")
    phone = EncryptedCharField(_("联系电话"), max_length=20, blank=True, kind="phone")  # encrypted at rest (PIPL)
    practice_licence_no = models.CharField(_("执业证书编号"), max_length=64, blank=True)
    # R-DOC-1 eligibility
    no_insurance_sanction_3y = models.BooleanField(_("近三年无医保处理"), default=True)
    no_pharmacy_incident_3y = models.BooleanField(_("近三年无药事事故"), default=True)
    status = models.CharField(_("备案状态"), max_length=12, choices=Status.choices, default=Status.PROPOSED,
                              db_index=True)
    status_changed_at = models.DateTimeField(_("状态变更时间"), null=True, blank=True)
    filed_on = models.DateField(_("备案日期"), null=True, blank=True)
    filing_valid_until = models.DateField(_("备案有效期至"), null=True, blank=True)
    revoked_on = models.DateField(_("撤销/暂停日期"), null=True, blank=True)
    proposed_by = models.ForeignKey("accounts.User", verbose_name=_("提名人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    user = models.OneToOneField(
        "accounts.User", verbose_name=_("医师本人账号"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="physician", help_text=_("责任医师初审由医师本人账号作出"),
    )
    last_rechecked_on = models.DateField(_("最近复查日期"), null=True, blank=True,
                                         help_text=_("经办机构每年至少复查一次备案结果"))

    class Meta:
        verbose_name = _("责任医师")
        verbose_name_plural = _("责任医师")
        ordering = ["institution__code", "department", "code"]

    def __str__(self):
        return f"{self.name}（{self.code}）"

    def is_active_on(self, day) -> bool:
        """R-RX-2 / R-DOC-3: the filing covers ``day`` (filed, not yet suspended/revoked/expired on that day)."""
        if self.status in (self.Status.PROPOSED, self.Status.REJECTED) or self.filed_on is None or day < self.filed_on:
            return False
        if self.filing_valid_until is not None and day > self.filing_valid_until:
            return False
        if self.status in (self.Status.SUSPENDED, self.Status.REVOKED):
            return self.revoked_on is not None and day < self.revoked_on
        return True
