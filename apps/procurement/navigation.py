from django.utils.translation import gettext_lazy as _

from apps.core.navigation import BUREAU, NavItem

_GROUP = _("带量采购")

NAV_ITEMS = [
    NavItem(_("批次与中选药品"), "procurement:rounds", roles=BUREAU, order=80, group=_GROUP),
    NavItem(_("完成情况"), "procurement:completion", roles=BUREAU, order=81, group=_GROUP),
    NavItem(_("进度预警"), "procurement:pace", roles=BUREAU, order=82, group=_GROUP),
    NavItem(_("周转金"), "procurement:fund", roles=BUREAU, order=83, group=_GROUP),
    NavItem(_("逾期回款"), "procurement:repayments", roles=BUREAU, order=84, group=_GROUP),
    NavItem(_("带量采购导入"), "procurement:imports", roles=frozenset({"bureau_admin"}), order=85, group=_GROUP),
    NavItem(_("带量采购"), "procurement:mine", roles=frozenset({"hospital"}), order=80),
]
