"""Rules of higher apps that the registries' lifecycle needs (registered in their ``AppConfig.ready()``)."""
from apps.core.hooks import Hook

#: R-INS-4: distinct patients with an approved dual-channel application at ``org`` whose validity overlaps
#: [``start``, ``end``]; ``field`` is the application's FK to the organisation ("institution" or "pharmacy").
#: Answered by the applications app (``apps.applications.selectors.dual_channel_patient_count``).
dual_channel_patient_count = Hook("registries.dual_channel_patient_count", single=True)
