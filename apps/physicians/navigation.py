from django.utils.translation import gettext_lazy as _

from apps.core.navigation import BUREAU, NavItem

NAV_ITEMS = [
    NavItem(_("责任医师"), "physicians:list", roles=BUREAU | {"hospital"}, order=11, group=_("定点管理")),
]
