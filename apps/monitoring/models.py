"""Fund-safety monitoring (智能监控, DOMAIN section 9): the region's thresholds, the alerts a rule raises and the
monthly batch runs.

An ``Alert`` is one finding: its ``finding_key`` (rule + what was found + period) is unique, so the same finding is
never raised twice; a batch rerun refreshes only alerts nobody has decided (open/assigned) and never reopens a
confirmed or dismissed one."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Rule(models.TextChoices):
    """The monitoring rules (DOMAIN section 9); the stored value is the rule id."""

    PRICE_ABOVE_STANDARD = "R-MON-1", _("价格高于支付标准")
    PHYSICIAN_NOT_ELIGIBLE = "R-MON-2", _("非备案或非本治疗领域医师开方")
    NO_APPLICATION = "R-MON-3", _("无有效待遇申请配药")
    TRACE_CODE_REUSED = "R-MON-4", _("追溯码重复出现")
    SUPPLY_BEYOND_NEED = "R-MON-5", _("超量配药（超出用药需要）")
    HIGH_COST_HIGH_VOLUME = "R-MON-6", _("高值高量药品使用")
    EXIT_CRITERIA = "R-MON-7", _("机构/药店符合退出情形")
    SALES_EXCEED_PURCHASES = "R-MON-8", _("药店销售超过进货")
    PHYSICIAN_OUTLIER = "R-MON-9", _("医师处方异常（高于同行）")


#: rules run on every dispensing inside its transaction (flag only); the others run in the monthly batch only
DISPENSING_RULES = (Rule.PRICE_ABOVE_STANDARD, Rule.PHYSICIAN_NOT_ELIGIBLE, Rule.NO_APPLICATION,
                    Rule.TRACE_CODE_REUSED, Rule.SUPPLY_BEYOND_NEED)


class MonitoringSettings(models.Model):
    """Thresholds of the monitoring rules for a region (walking up the region tree; DOMAIN defaults when none)."""

    region = models.OneToOneField("core.Region", verbose_name=_("统筹区"), on_delete=models.CASCADE,
                                  related_name="monitoring_settings")
    supply_margin_days = models.PositiveSmallIntegerField(
        _("超量配药容差（天）"), default=7, help_text=_("已配天数超过经过天数多于此天数即预警（默认7天）"))
    high_cost_top_n = models.PositiveSmallIntegerField(
        _("高值药品每品种监控前N名患者"), default=5, help_text=_("每个品种每月基金支付最高的患者人数"))
    high_cost_median_multiple = models.DecimalField(
        _("高值药品中位数倍数"), max_digits=6, decimal_places=2, default=Decimal("3.00"),
        help_text=_("患者当月该品种基金支付超过中位数的倍数即预警"))
    outlier_percentile = models.DecimalField(
        _("医师异常分位数"), max_digits=5, decimal_places=4, default=Decimal("0.9500"),
        help_text=_("高于同行该分位数（默认第95百分位）"))
    outlier_median_multiple = models.DecimalField(
        _("医师异常中位数倍数"), max_digits=6, decimal_places=2, default=Decimal("2.00"),
        help_text=_("且至少为同行中位数的倍数（默认2倍）"))
    outlier_min_peers = models.PositiveSmallIntegerField(
        _("医师比较最少同行人数"), default=5, help_text=_("同行少于此人数不作比较"))
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("智能监控阈值")
        verbose_name_plural = _("智能监控阈值")

    def __str__(self):
        return f"{self.region} {self._meta.verbose_name}"


class Alert(models.Model):
    """One finding of one rule (DOMAIN section 9). Workflow: open → assigned → confirmed | dismissed."""

    class Status(models.TextChoices):
        OPEN = "open", _("待处理")
        ASSIGNED = "assigned", _("已分派")
        CONFIRMED = "confirmed", _("已确认")
        DISMISSED = "dismissed", _("已排除")

    class Source(models.TextChoices):
        DISPENSING = "dispensing", _("配药时")
        BATCH = "batch", _("月度批量")

    rule = models.CharField(_("规则"), max_length=8, choices=Rule.choices, db_index=True)
    finding_key = models.CharField(_("发现标识"), max_length=200, unique=True,
                                   help_text=_("同一发现只预警一次"))
    region = models.ForeignKey("core.Region", verbose_name=_("统筹区"), on_delete=models.PROTECT, related_name="+")
    institution = models.ForeignKey("institutions.Institution", verbose_name=_("医疗机构"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    pharmacy = models.ForeignKey("pharmacies.Pharmacy", verbose_name=_("药店"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey("applications.InsuredPerson", verbose_name=_("参保人"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")
    physician = models.ForeignKey("physicians.Physician", verbose_name=_("医师"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    period = models.DateField(_("所属月份"), db_index=True)
    amount_at_risk = models.DecimalField(_("涉及金额（元）"), max_digits=14, decimal_places=2, default=Decimal("0"))
    summary = models.CharField(_("摘要"), max_length=500)
    evidence = models.JSONField(_("证据"), default=dict,
                                help_text=_("处方、配药、追溯码等的编号及计算数字"))
    source = models.CharField(_("发现方式"), max_length=10, choices=Source.choices)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("处理人"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    decision_reason = models.TextField(_("处理意见"), blank=True)
    decided_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("处理人（决定）"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    sanction = models.ForeignKey("core.Sanction", verbose_name=_("提出的协议处理"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    raised_at = models.DateTimeField(_("预警时间"))
    refreshed_at = models.DateTimeField(_("最近复核时间"))

    class Meta:
        verbose_name = _("监控预警")
        verbose_name_plural = _("监控预警")
        ordering = ["-raised_at", "-id"]
        indexes = [models.Index(fields=["region", "status", "rule"], name="alert_region_status_rule"),
                   models.Index(fields=["period", "rule"], name="alert_period_rule")]
        constraints = [
            # every alert is about an organisation of the system, except R-MON-1 on a manual claim whose invoice
            # came from outside it (about the patient, in the bureau's region)
            models.CheckConstraint(condition=models.Q(institution__isnull=False) | models.Q(pharmacy__isnull=False)
                                   | models.Q(rule="R-MON-1", person__isnull=False),
                                   name="alert_has_organisation"),
        ]

    def __str__(self):
        return f"{self.rule} {self.summary}"

    @property
    def organisation(self):
        """The pharmacy, else the hospital; None only for a manual claim's invoice from outside the system."""
        return self.pharmacy if self.pharmacy_id else self.institution

    @property
    def is_decided(self) -> bool:
        return self.status in (self.Status.CONFIRMED, self.Status.DISMISSED)


class MonitoringRun(models.Model):
    """One monthly batch (scheduled or started by the bureau), with its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("运行中")
        SUCCEEDED = "succeeded", _("已完成")
        FAILED = "failed", _("失败")

    period = models.DateField(_("月份"))
    region = models.ForeignKey("core.Region", verbose_name=_("统筹区"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+", help_text=_("空 = 全部统筹区"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    rules_done = models.PositiveSmallIntegerField(_("已完成规则数"), default=0)
    rules_total = models.PositiveSmallIntegerField(_("规则总数"), default=9)
    findings = models.IntegerField(_("发现数"), default=0)
    alerts_raised = models.IntegerField(_("新增预警"), default=0)
    error = models.TextField(_("错误"), blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("发起人"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("创建时间"))
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("智能监控批次")
        verbose_name_plural = _("智能监控批次")
        ordering = ["-created_at", "-id"]

    @property
    def progress_percent(self) -> int:
        return int(100 * self.rules_done / self.rules_total) if self.rules_total else 0
