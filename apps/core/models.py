"""Shared reference data: regions, the working-day calendar, per-region settings, and the event log."""
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.fields import EncryptedCharField


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


class CalendarArrangement(models.Model):
    """R-APP-5: a year whose official holiday arrangement (国务院办公厅通知) administrators have imported. A year
    without one falls back to the statutory holidays the ``holidays`` library knows, and its due dates are
    provisional."""

    year = models.PositiveSmallIntegerField(_("年度"), unique=True)
    imported_at = models.DateTimeField(_("导入时间"))
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("导入人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("正式节假日安排年度")
        verbose_name_plural = _("正式节假日安排年度")
        ordering = ["year"]

    def __str__(self):
        return str(self.year)


class RegionSettings(models.Model):
    """Per-region choices where the sources differ. Looked up walking up the region tree
    (``apps.core.selectors.region_settings_for``); a region without its own uses its parent's."""

    region = models.OneToOneField(Region, verbose_name=_("统筹区"), on_delete=models.CASCADE, related_name="settings")
    attending_physician_allowed = models.BooleanField(
        _("允许主治医师担任责任医师"), default=False, help_text=_("000、001 的放宽规定")
    )
    review_stages = models.JSONField(
        _("审核环节"), default=default_review_stages,
        help_text=_("physician, pharmacy_dept, insurance_office, bureau 中启用的环节，按顺序"),
    )
    filing_after_first_use = models.BooleanField(_("允许先用药后备案"), default=False, help_text=_("开启后，参保人在备案前已用药的，可补办待遇申请"))  # R-APP-10
    deposit_rate = models.DecimalField(
        _("质量保证金比例"), max_digits=5, decimal_places=4, default=Decimal("0.0500"),
        help_text=_("按月从统筹基金支付中预留的比例（中卫 000 附件2 第二条为 5%，湖南不设）"),
    )
    role_split = models.BooleanField(
        _("区分认定医师与诊治医师"), default=False,
        help_text=_("启用后只有认定类机构的认定医师可签署申请初审，只有诊治医师可开具处方（吉林做法）"),
    )
    prescription_validity_days = models.PositiveSmallIntegerField(_("处方有效天数"), default=3, help_text=_("超过有效天数未配药的处方自动失效"))  # R-RX-4
    insurance_office_review_days = models.PositiveSmallIntegerField(_("医院医保办审核时限（工作日）"), default=1)
    bureau_review_days = models.PositiveSmallIntegerField(_("经办机构审核时限（工作日）"), default=15)
    pharmacy_committee_deadline_months = models.PositiveSmallIntegerField(
        _("药事会召开时限（月）"), default=3, help_text=_("1–3 个月")
    )
    target_tertiary_general = models.DecimalField(_("三级综合医院配备率目标"), max_digits=5, decimal_places=4, default=Decimal("0.3000"))
    target_tertiary_specialist = models.DecimalField(_("三级专科医院配备率目标"), max_digits=5, decimal_places=4, default=Decimal("0.6000"))
    target_designated = models.DecimalField(_("指定医院配备率目标"), max_digits=5, decimal_places=4,
                                            default=Decimal("0.5000"),
                                            help_text=_("统筹区指定的重点医院（昆明做法）"))
    target_other = models.DecimalField(_("其他医院配备率目标"), max_digits=5, decimal_places=4, null=True, blank=True,
                                       help_text=_("其他医院默认无目标，统筹区可设定"))
    tertiary_hospital_count = models.PositiveIntegerField(
        _("辖区三级医院总数"), null=True, blank=True,
        help_text=_("三级医院配备占比的分母（含非定点三级医院），由管理员维护"))

    class Meta:
        verbose_name = _("统筹区设置")
        verbose_name_plural = _("统筹区设置")

    def __str__(self):
        return f"{self.region} 设置"


class EventAction(models.TextChoices):
    """What an ``Event`` row records (R-SEC-3): one typed name per business action, each with its Chinese label.
    The stored values are the names the services always wrote."""

    # kernel
    REGION_CREATED = "region_created", _("新增统筹区")
    REGION_RENAMED = "region_renamed", _("统筹区更名")
    CALENDAR_DAY_SET = "calendar_day_set", _("设置节假日/调休")
    CALENDAR_DAY_DELETED = "calendar_day_deleted", _("删除节假日/调休")
    CALENDAR_IMPORTED = "calendar_imported", _("导入节假日安排")
    IMPORT_APPLIED = "import_applied", _("导入已执行")
    # accounts
    ACCOUNT_LOCKED = "account_locked", _("账号锁定")
    ACCOUNT_UNLOCKED = "account_unlocked", _("账号解锁")
    USER_CREATED = "user_created", _("新增用户")
    USER_UPDATED = "user_updated", _("修改用户")
    PASSWORD_CHANGED = "password_changed", _("修改密码")  # also revokes the user's API tokens
    # catalogue
    DRUG_CREATED = "drug_created", _("新增药品")
    DRUG_UPDATED = "drug_updated", _("修改药品")
    DRUG_WITHDRAWN = "drug_withdrawn", _("药品退出目录")
    PAYMENT_STANDARD_CHANGED = "payment_standard_changed", _("调整支付标准")
    IMPORT_UPLOADED = "import_uploaded", _("上传导入文件")
    IMPORT_CONFIRMED = "import_confirmed", _("确认导入")
    # registries
    INSTITUTION_APPLIED = "institution_applied", _("登记申请")
    INSTITUTION_ADMITTED = "institution_admitted", _("纳入定点")
    INSTITUTION_UPDATED = "institution_updated", _("修改资料")
    INSTITUTION_SUSPENDED = "institution_suspended", _("暂停")
    INSTITUTION_RESUMED = "institution_resumed", _("恢复")
    INSTITUTION_EXITED = "institution_exited", _("退出")
    PHARMACY_APPLIED = "pharmacy_applied", _("登记申请")
    PHARMACY_ADMITTED = "pharmacy_admitted", _("纳入定点")
    PHARMACY_UPDATED = "pharmacy_updated", _("修改资料")
    PHARMACY_SUSPENDED = "pharmacy_suspended", _("暂停")
    PHARMACY_RESUMED = "pharmacy_resumed", _("恢复")
    PHARMACY_EXITED = "pharmacy_exited", _("退出")
    PHARMACY_LICENCE_REVOKED = "pharmacy_licence_revoked", _("药品经营许可吊销")
    SANCTIONED = "sanctioned", _("协议处理")
    PHYSICIAN_PROPOSED = "physician_proposed", _("提名")
    PHYSICIAN_FILED = "physician_filed", _("备案")
    PHYSICIAN_FILING_REJECTED = "physician_filing_rejected", _("不予备案")
    PHYSICIAN_SUSPENDED = "physician_suspended", _("暂停")
    PHYSICIAN_RESUMED = "physician_resumed", _("恢复")
    PHYSICIAN_REVOKED = "physician_revoked", _("撤销备案")
    PHYSICIAN_EXPIRED = "physician_expired", _("备案过期")
    PHYSICIAN_UPDATED = "physician_updated", _("修改资料")
    # policies
    POLICY_CREATED = "policy_created", _("新增支付政策")
    POLICY_UPDATED = "policy_updated", _("修改支付政策")
    POLICY_CLOSED = "policy_closed", _("支付政策截止")
    # applications
    INSURED_PERSON_CREATED = "insured_person_created", _("新增参保人")
    INSURED_PERSON_UPDATED = "insured_person_updated", _("修改参保人")
    APPLICATION_SUBMITTED = "application_submitted", _("提交申请")
    APPLICATION_RESUBMITTED = "application_resubmitted", _("补充后重新提交")
    APPLICATION_DOCUMENT_ADDED = "application_document_added", _("上传申请材料")
    APPLICATION_APPROVE = "application_approve", _("审核同意")
    APPLICATION_REJECT = "application_reject", _("审核不同意")
    APPLICATION_RETURN = "application_return", _("退回补充材料")
    APPLICATION_TERMINATED = "application_terminated", _("终止待遇")
    APPLICATION_EXPIRED = "application_expired", _("待遇到期")
    PERSONAL_NUMBER_REVEALED = "personal_number_revealed", _("查看完整身份证号")
    PUBLIC_LOOKUP_FAILED = "public_lookup_failed", _("公众查询失败")
    # prescriptions
    PRESCRIPTION_UPLOADED = "prescription_uploaded", _("处方流转")
    PRESCRIPTION_DOWNLOADED = "prescription_downloaded", _("药店下载处方")
    PRESCRIPTION_CANCELLED = "prescription_cancelled", _("撤销处方")
    PRESCRIPTION_DECLINED = "prescription_declined", _("拒配处方")
    PRESCRIPTION_EXPIRED = "prescription_expired", _("处方过期")
    PRESCRIPTION_DISPENSING_REVERSED = "prescription_dispensing_reversed", _("处方配药冲正")
    DISPENSED = "dispensed", _("配药结算")
    DISPENSING_REVERSED = "dispensing_reversed", _("配药冲正")
    STOCK_PURCHASE = "stock_purchase", _("采购入库")
    STOCK_RETURN = "stock_return", _("退货出库")
    CROSS_REGION_FILING_CREATED = "cross_region_filing_created", _("异地就医备案")
    MANUAL_CLAIM_RECORDED = "manual_claim_recorded", _("手工报销登记")
    # settlement
    SETTLEMENT_RUN_STARTED = "settlement_run_started", _("开始结算")
    SETTLEMENT_RUN_SUCCEEDED = "settlement_run_succeeded", _("结算完成")
    SETTLEMENT_RUN_FAILED = "settlement_run_failed", _("结算失败")
    STATEMENT_CONFIRMED = "statement_confirmed", _("确认结算单")
    STOCKING_REPORTED = "stocking_reported", _("报告配备")
    STOCKING_ENDED = "stocking_ended", _("结束配备")
    CATALOGUE_PUBLISHED = "catalogue_published", _("公布配备目录")
    REPORTED_TOTALS_UPLOADED = "reported_totals_uploaded", _("上传对账数据")
    RECONCILIATION_RUN = "reconciliation_run", _("执行对账")
    RECONCILIATION_DIFFERENCE_RESOLVED = "reconciliation_difference_resolved", _("处理对账差异")
    MONTHLY_REPORT_COMPILED = "monthly_report_compiled", _("生成月度报表")
    # settlement money (R-SET-5, R-SET-2, R-SET-3)
    STATEMENTS_MONTH_CONFIRMED = "statements_month_confirmed", _("确认本月结算单")
    DEFERRAL_RELEASED = "deferral_released", _("解除暂缓拨付")
    DEPOSIT_RETURNED = "deposit_returned", _("质量保证金考核返还")
    WARD_PAYMENT_RECORDED = "ward_payment_recorded", _("登记病区配送付款")
    WARD_PAYMENT_REVERSED = "ward_payment_reversed", _("冲销病区配送付款")
    INSTITUTION_REPORT_SUBMITTED = "institution_report_submitted", _("提交机构月度报表")
    RECTIFICATION_RESOLVED = "rectification_resolved", _("确认整改完成")
    RECTIFICATION_ESCALATED = "rectification_escalated", _("整改问题上报")
    # procurement (section 10)
    PROCUREMENT_ROUND_CREATED = "procurement_round_created", _("新增集中采购批次")
    PROCUREMENT_CYCLE_EXTENDED = "procurement_cycle_extended", _("采购周期延长一年")
    PROCUREMENT_CONTRACT_DECOMPOSED = "procurement_contract_decomposed", _("分解约定采购量")
    PROCUREMENT_IMPORTED = "procurement_imported", _("带量采购数据导入")
    PROCUREMENT_REPAYMENT_RECORDED = "procurement_repayment_recorded", _("登记医疗机构回款")
    PROCUREMENT_FUND_ADVANCED = "procurement_fund_advanced", _("拨付采购周转金")
    PROCUREMENT_FUND_SETTLED = "procurement_fund_settled", _("周转金与企业结算")
    PROCUREMENT_STANDARD_LINKED = "procurement_standard_linked", _("中选价格联动支付标准")
    PROCUREMENT_COMPLETION_COMPUTED = "procurement_completion_computed", _("计算带量采购完成进度")
    # issue 10 (rules of revision 2)
    REGION_SETTINGS_PRESET_APPLIED = "region_settings_preset_applied", _("应用统筹区设置预设")
    HOSPITAL_DUTY_GRANTED = "hospital_duty_granted", _("授予院内审核职责")
    HOSPITAL_DUTY_REVOKED = "hospital_duty_revoked", _("撤销院内审核职责")
    PHYSICIAN_ACCOUNT_LINKED = "physician_account_linked", _("关联责任医师账号")
    MANUFACTURER_SWITCH_DETERMINED = "manufacturer_switch_determined", _("责任医师确定更换生产企业")
    MANUFACTURER_SWITCH_CONFIRMED = "manufacturer_switch_confirmed", _("医疗机构确认更换生产企业")
    APPLICATION_EXTENSION_FILED = "application_extension_filed", _("申请待遇延期")
    DEADLINES_RECOMPUTED = "deadlines_recomputed", _("按正式节假日安排重算办结时限")
    OTHER_FUND_USE_RECORDED = "other_fund_use_recorded", _("登记其他基金支付")
    OTHER_FUND_USE_IMPORTED = "other_fund_use_imported", _("导入其他基金支付")
    INSTITUTION_RECHECKED = "institution_rechecked", _("备案结果年度复查")
    PHYSICIAN_RECHECKED = "physician_rechecked", _("责任医师年度复查")
    # monitoring (section 9, R-MON-1..9)
    MONITORING_RUN = "monitoring_run", _("执行智能监控")
    ALERT_ASSIGNED = "alert_assigned", _("分派监控预警")
    ALERT_CONFIRMED = "alert_confirmed", _("确认监控预警")
    ALERT_DISMISSED = "alert_dismissed", _("排除监控预警")
    ALERT_SANCTION_PROPOSED = "alert_sanction_proposed", _("监控预警提出协议处理")


class Event(models.Model):
    """One row per business action (who, what, when, why): written by services in the same transaction
    as the change they record (R-SEC-3, R-INS-3). Field-level before/after lives in django-auditlog."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.CharField(max_length=64, db_index=True)
    subject = GenericForeignKey("content_type", "object_id")
    action = models.CharField(_("操作"), max_length=64, choices=EventAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    # the moment the change happened, given by the service from its caller (record_event(now=…)); the clock otherwise
    at = models.DateTimeField(_("时间"), default=timezone.now, editable=False, db_index=True)
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
    contact_phone = EncryptedCharField(_("联系电话"), max_length=20, blank=True, kind="phone")  # encrypted (PIPL)
    status = models.CharField(_("状态"), max_length=12, choices=DesignationStatus.choices,
                              default=DesignationStatus.APPLIED, db_index=True)
    status_changed_at = models.DateTimeField(_("状态变更时间"), null=True, blank=True)
    agreement_no = models.CharField(_("补充协议编号"), max_length=64, blank=True)
    agreement_start = models.DateField(_("协议开始"), null=True, blank=True)
    agreement_end = models.DateField(_("协议结束"), null=True, blank=True)
    no_penalty_past_year = models.BooleanField(_("近一年无医保或卫健处罚"), default=True)
    registration_changed_on = models.DateField(
        _("名称/地址变更日期（未更新）"), null=True, blank=True,
        help_text=_("他处已变更名称或地址但尚未在本系统更新的日期"),
    )
    unable_to_serve_since = models.DateField(_("无法提供服务起始日"), null=True, blank=True,
                                             help_text=_("连续6个月以上无法服务即触发退出"))
    bank_name = models.CharField(_("开户银行"), max_length=128, blank=True, help_text=_("拨付清单用"))
    bank_account_name = models.CharField(_("账户名称"), max_length=128, blank=True)
    bank_account_no = models.CharField(_("银行账号"), max_length=40, blank=True)

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
