"""Rules of higher apps that the registries' lifecycle needs (registered in their ``AppConfig.ready()``)."""
from apps.core.hooks import Hook

#: R-INS-4: per organisation id in ``org_ids``, the distinct patients with an approved dual-channel application
#: there whose validity overlaps [``start``, ``end``] (one query for all: a dict, organisations without any absent);
#: ``field`` is the application's FK to the organisation ("institution" or "pharmacy").
#: Answered by the applications app (``apps.applications.selectors.dual_channel_patient_counts``).
dual_channel_patient_counts = Hook("registries.dual_channel_patient_counts", single=True)

#: R-SET-5: a sanction was recorded on ``organisation`` at ``now``; the settlement app puts one with money (deduction,
#: deposit deduction, deferral) on the organisation's next statement at once
#: (``apps.settlement.money_services.sanction_recorded``). Every handler runs.
sanction_recorded = Hook("registries.sanction_recorded")
