"""R-INS-6 (002 三(一)): at least once a year the bureau re-checks each filed institution and physician (备案结果复查);
the registry shows when each was last re-checked and lists those overdue. Shared by institutions and physicians."""
from __future__ import annotations

import datetime as dt

from apps.core.exceptions import ApplicationError
from apps.core.roles import BUREAU_ROLES
from apps.registries.designation import add_months

#: R-INS-6: at least once a year
RECHECK_INTERVAL_MONTHS = 12


def recheck_due(*, last_rechecked_on: dt.date | None, since: dt.date | None) -> dt.date | None:
    """The date the next re-check is due: a year after the last one, or a year after the filing/admission."""
    base = last_rechecked_on or since
    return add_months(base, RECHECK_INTERVAL_MONTHS) if base else None


def check_recheck(*, actor, region_code: str, on: dt.date, last: dt.date | None, today: dt.date) -> None:
    """A bureau user of the organisation's region records a re-check dated ``on`` (not in the future, not before
    the last one)."""
    if not (actor.is_superuser or (actor.role in BUREAU_ROLES and actor.region_id
                                   and region_code.startswith(actor.region.descendant_prefix))):
        raise ApplicationError("permission_denied", "只有所在统筹区的经办机构可以登记年度复查（R-INS-6）", status=403)
    if on > today:
        raise ApplicationError("invalid", "复查日期不能晚于今天", fields={"on": ["晚于今天"]})
    if last is not None and on < last:
        raise ApplicationError("invalid", f"复查日期不能早于上次复查（{last}）", fields={"on": [f"早于上次复查 {last}"]})
