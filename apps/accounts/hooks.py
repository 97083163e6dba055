"""What the accounts app needs from the registries above it, registered in their ``AppConfig.ready()``: the
institutions and pharmacies a user may choose when an administrator assigns an account to one (R-SEC-1)."""
from apps.core.hooks import Hook

#: ``(user) -> QuerySet[Institution]``: answered by ``apps.institutions.selectors.institutions_visible_to``
institutions_visible_to = Hook("accounts.institutions_visible_to", single=True)
#: ``(user) -> QuerySet[Pharmacy]``: answered by ``apps.pharmacies.selectors.pharmacies_visible_to``
pharmacies_visible_to = Hook("accounts.pharmacies_visible_to", single=True)
