"""Rules of higher apps that the prescriptions' services must run (registered in their ``AppConfig.ready()``)."""
from apps.core.hooks import Hook

#: R-SET-1: the first month from ``period`` on in which none of ``organisations`` has a confirmed (locked)
#: statement — where an entry dated ``period`` counts. One query whatever the number of organisations or locked
#: months. Answered by the settlement app (``apps.settlement.selectors.first_open_period``).
first_open_period = Hook("prescriptions.first_open_period", single=True)

#: Section 9 (R-MON-1..5): a dispensing was just recorded, inside its transaction — the monitoring rules flag it
#: (never refuse it). Called with ``dispensing``, ``lines``, ``trace_codes``, ``prescription``, ``items`` (the
#: prescribed items with their drugs) and ``now``. Answered by ``apps.monitoring.hot.dispensing_flag``.
dispensing_recorded = Hook("prescriptions.dispensing_recorded")
