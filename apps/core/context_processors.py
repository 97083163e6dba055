"""Template context read at the edge (the request): the R-APP-5 warning for administrators."""
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.working_days import missing_next_year_arrangement


def calendar_warning(request):
    """R-APP-5: from 1 November, bureau administrators are warned that next year's official holiday arrangement
    is not imported (due dates in that year are provisional until it is)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not getattr(user, "is_bureau_admin", False):
        return {}
    year = missing_next_year_arrangement(timezone.localdate())
    if year is None:
        return {}
    return {"calendar_warning": _("%(year)s 年的正式节假日安排尚未导入：涉及该年的办结时限按法定节假日暂定计算，导入后自动重算")
            % {"year": year}}
