"""Shared reference data: regions, the working-day calendar, per-region settings, and the event log."""
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        abstract = True


class Region(models.Model):
    """An administrative division by its 6-digit code: province XX0000, city XXYY00, county XXYYZZ."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("省")
        CITY = "city", _("市")
        COUNTY = "county", _("县/区")

    code = models.CharField(
        _("行政区划代码"), max_length=6, unique=True,
        validators=[RegexValidator(r"^\d{6}$", _("行政区划代码应为6位数字"))],
    )
    name = models.CharField(_("名称"), max_length=64)
    level = models.CharField(_("级别"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("上级区划"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        verbose_name = _("行政区划")
        verbose_name_plural = _("行政区划")
        ordering = ["code"]

    def __str__(self):
        return f"{self.name}（{self.code}）"

    @property
    def descendant_prefix(self) -> str:
        """Code prefix shared by this region and everything under it."""
        if self.level == self.Level.PROVINCE:
            return self.code[:2]
        if self.level == self.Level.CITY:
            return self.code[:4]
        return self.code

    def ancestors_and_self(self) -> list["Region"]:
        """This region first, then its parent, up to the province (for walking up policies and settings)."""
        chain, node = [], self
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain


class CalendarDay(models.Model):
    """An exception to the Monday–Friday working week (R-APP-5)."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("法定节假日")
        WORKDAY = "workday", _("调休上班")

    date = models.DateField(_("日期"), unique=True)
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("名称"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("节假日安排")
        verbose_name_plural = _("节假日安排")
        ordering = ["date"]

    def __str__(self):
        return f"{self.date} {self.get_kind_display()} {self.name}"


def default_review_stages():
    return ["physician", "pharmacy_dept", "insurance_office", "bureau"]


class RegionSettings(models.Model):
    """Per-region choices where the sources differ. Looked up walking up the region tree
    (``apps.core.selectors.region_settings_for``); a region without its own uses its parent's."""

    region = models.OneToOneField(Region, verbose_name=_("统筹区"), on_delete=models.CASCADE, related_name="settings")
    attending_physician_allowed = models.BooleanField(
        _("允许主治医师担任责任医师"), default=False, help_text=_("R-DOC-1：000、001 的放宽规定")
    )
    review_stages = models.JSONField(
        _("审核环节"), default=default_review_stages,
        help_text=_("R-APP-4：physician, pharmacy_dept, insurance_office, bureau 中启用的环节，按顺序"),
    )
    filing_after_first_use = models.BooleanField(_("允许先用药后备案"), default=False, help_text=_("R-APP-10"))
    prescription_validity_days = models.PositiveSmallIntegerField(_("处方有效天数"), default=3, help_text=_("R-RX-4"))
    insurance_office_review_days = models.PositiveSmallIntegerField(_("医院医保办审核时限（工作日）"), default=1)
    bureau_review_days = models.PositiveSmallIntegerField(_("经办机构审核时限（工作日）"), default=15)
    pharmacy_committee_deadline_months = models.PositiveSmallIntegerField(
        _("药事会召开时限（月）"), default=3, help_text=_("R-STK-4：1–3 个月")
    )
    target_tertiary_general = models.DecimalField(_("三级综合医院配备率目标"), max_digits=5, decimal_places=4, default=Decimal("0.3000"))
    target_tertiary_specialist = models.DecimalField(_("三级专科医院配备率目标"), max_digits=5, decimal_places=4, default=Decimal("0.6000"))
    target_designated = models.DecimalField(_("定点医院配备率目标"), max_digits=5, decimal_places=4, default=Decimal("0.5000"))

    class Meta:
        verbose_name = _("统筹区设置")
        verbose_name_plural = _("统筹区设置")

    def __str__(self):
        return f"{self.region} 设置"


class Event(models.Model):
    """One row per business action (who, what, when, why): written by services in the same transaction
    as the change they record (R-SEC-3, R-INS-3). Field-level before/after lives in django-auditlog."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.CharField(max_length=64, db_index=True)
    subject = GenericForeignKey("content_type", "object_id")
    action = models.CharField(_("操作"), max_length=64)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)
    from_status = models.CharField(_("原状态"), max_length=32, blank=True)
    to_status = models.CharField(_("新状态"), max_length=32, blank=True)
    reason = models.TextField(_("原因/意见"), blank=True)
    data = models.JSONField(_("详情"), default=dict, blank=True)

    class Meta:
        verbose_name = _("业务日志")
        verbose_name_plural = _("业务日志")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "at"])]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"


class DesignationStatus(models.TextChoices):
    """Lifecycle of a designated institution or pharmacy (R-INS-3, R-PHA-2)."""

    APPLIED = "applied", _("申请中")
    ADMITTED = "admitted", _("已纳入")
    SUSPENDED = "suspended", _("暂停")
    EXITED = "exited", _("已退出")


class DesignatedOrganisation(TimeStampedModel):
    """Fields shared by designated institutions and pharmacies."""

    code = models.CharField(_("编码"), max_length=20, unique=True)
    name = models.CharField(_("名称"), max_length=128)
    region = models.ForeignKey(Region, verbose_name=_("所在县区"), on_delete=models.PROTECT, related_name="+")
    address = models.CharField(_("地址"), max_length=255, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=64, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    status = models.CharField(_("状态"), max_length=12, choices=DesignationStatus.choices,
                              default=DesignationStatus.APPLIED, db_index=True)
    status_changed_at = models.DateTimeField(_("状态变更时间"), null=True, blank=True)
    agreement_no = models.CharField(_("补充协议编号"), max_length=64, blank=True)
    agreement_start = models.DateField(_("协议开始"), null=True, blank=True)
    agreement_end = models.DateField(_("协议结束"), null=True, blank=True)
    no_penalty_past_year = models.BooleanField(_("近一年无医保或卫健处罚"), default=True)
    registration_changed_on = models.DateField(
        _("名称/地址变更日期（未更新）"), null=True, blank=True,
        help_text=_("R-INS-4：他处已变更名称或地址但尚未在本系统更新的日期"),
    )
    unable_to_serve_since = models.DateField(_("无法提供服务起始日"), null=True, blank=True,
                                             help_text=_("R-INS-4：连续6个月以上无法服务即触发退出"))

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self):
        return f"{self.name}（{self.code}）"

    @property
    def is_active(self) -> bool:
        return self.status == DesignationStatus.ADMITTED


class Sanction(models.Model):
    """A sanction on a designated institution or pharmacy (000 附件2 第四条, 第五条)."""

    class Kind(models.TextChoices):
        INTERVIEW = "interview", _("约谈")
        RECTIFICATION = "rectification", _("限时整改")
        DEDUCTION = "deduction", _("拒付/追回费用")
        DEPOSIT_DEDUCTION = "deposit_deduction", _("扣除质量保证金")
        PAYMENT_DEFERRAL = "payment_deferral", _("暂缓拨付")
        PUBLIC_CRITICISM = "public_criticism", _("通报批评")
        SUSPENSION = "suspension", _("暂停协议")
        TERMINATION = "termination", _("解除协议")

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.CharField(max_length=64, db_index=True)
    organisation = GenericForeignKey("content_type", "object_id")
    kind = models.CharField(_("处理方式"), max_length=24, choices=Kind.choices)
    decided_on = models.DateField(_("决定日期"))
    reason = models.TextField(_("事由"))
    amount = models.DecimalField(_("金额（元）"), max_digits=14, decimal_places=2, null=True, blank=True)
    deadline = models.DateField(_("整改期限"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("协议处理")
        verbose_name_plural = _("协议处理")
        ordering = ["-decided_on", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.decided_on}"
