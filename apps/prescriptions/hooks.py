"""Rules of higher apps that the prescriptions' services must run (registered in their ``AppConfig.ready()``)."""
from apps.core.hooks import Hook

#: R-SET-1: is the statement of ``organisation`` for month ``period`` confirmed (locked)? Answered by the
#: settlement app (``apps.settlement.selectors.period_is_locked``). Called with ``organisation``, ``period``.
period_is_locked = Hook("prescriptions.period_is_locked", single=True)

#: Section 9 (R-MON-1..5): a dispensing was just recorded, inside its transaction — the monitoring rules flag it
#: (never refuse it). Called with ``dispensing``, ``lines``, ``trace_codes``, ``prescription``, ``items`` (the
#: prescribed items with their drugs) and ``now``. Answered by ``apps.monitoring.hot.dispensing_flag``.
dispensing_recorded = Hook("prescriptions.dispensing_recorded")
