from django.utils.translation import gettext_lazy as _

from apps.core.navigation import BUREAU, NavItem

NAV_ITEMS = [
    NavItem(_("监测看板"), "settlement:dashboard", roles=BUREAU, order=5),
    NavItem(_("月度结算"), "settlement:statements", roles=BUREAU | {"hospital", "pharmacy"}, order=70, group=_("结算统计")),
    NavItem(_("统计报表"), "settlement:monthly", roles=BUREAU, order=71, group=_("结算统计")),
    NavItem(_("对账"), "settlement:reconciliation", roles=BUREAU | {"hospital", "pharmacy"}, order=72, group=_("结算统计")),
    NavItem(_("药品配备"), "settlement:stocking", roles=BUREAU | {"hospital"}, order=73, group=_("结算统计")),
    NavItem(_("覆盖与药事会"), "settlement:coverage", roles=BUREAU, order=74, group=_("结算统计")),
    NavItem(_("质量保证金"), "settlement:deposit_accounts", roles=BUREAU | {"hospital", "pharmacy"}, order=75,
            group=_("结算统计")),
    NavItem(_("拨付清单"), "settlement:payment_list", roles=BUREAU, order=76, group=_("结算统计")),
    NavItem(_("机构月报"), "settlement:report_status", roles=BUREAU, order=77, group=_("结算统计")),
    NavItem(_("月报报送"), "settlement:report_submit", roles={"hospital", "pharmacy"}, order=77, group=_("结算统计")),
    NavItem(_("整改跟踪"), "settlement:rectifications", roles=BUREAU, order=78, group=_("结算统计")),
]
