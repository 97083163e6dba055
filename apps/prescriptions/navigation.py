from django.utils.translation import gettext_lazy as _

from apps.core.navigation import BUREAU, NavItem

NAV_ITEMS = [
    NavItem(_("电子处方"), "prescriptions:list", roles=BUREAU | {"hospital", "pharmacy"}, order=30, group=_("处方流转")),
    NavItem(_("进销存"), "prescriptions:stock", roles=frozenset({"pharmacy"}), order=31, group=_("处方流转")),
    NavItem(_("年度累计"), "prescriptions:usage", roles=BUREAU, order=32, group=_("处方流转")),
    NavItem(_("超限额费用"), "prescriptions:beyond_cap", roles=BUREAU, order=32, group=_("处方流转")),
    NavItem(_("手工报销"), "prescriptions:claims", roles=BUREAU, order=33, group=_("处方流转")),
    NavItem(_("异地备案"), "prescriptions:filings", roles=BUREAU, order=34, group=_("处方流转")),
]
