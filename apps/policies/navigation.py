from django.utils.translation import gettext_lazy as _

from apps.core.navigation import NavItem

NAV_ITEMS = [
    NavItem(_("支付政策"), "admin:policies_paymentpolicy_changelist", roles=frozenset({"bureau_admin"}), order=85, group=_("系统设置")),
]
