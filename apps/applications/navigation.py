from django.utils.translation import gettext_lazy as _

from apps.core.navigation import BUREAU, NavItem

NAV_ITEMS = [
    NavItem(_("审核工作台"), "applications:queue", roles=BUREAU | {"hospital"}, order=20, group=_("待遇审核")),
    NavItem(_("待遇申请"), "applications:list", roles=BUREAU | {"hospital"}, order=21, group=_("待遇审核")),
    NavItem(_("备案申请"), "applications:filings", roles=BUREAU, order=22, group=_("待遇审核")),
]
