"""Rules of higher apps that the catalogue's services must run (registered in their ``AppConfig.ready()``)."""
from apps.core.hooks import Hook

#: R-CAT-5 (001 第二十三条): a drug was withdrawn; handlers end what depended on it (the applications app ends
#: every active treatment application). Called with ``drug``, ``withdrawn_on``, ``reason``, ``actor``.
drug_withdrawn = Hook("catalogue.drug_withdrawn")
