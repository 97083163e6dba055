"""/api/v1/: each app contributes its own ``api_urls.py``."""
from django.urls import include, path

urlpatterns = [
    path("", include("apps.accounts.api_urls")),
    path("", include("apps.core.api_urls")),
    path("", include("apps.institutions.api_urls")),
    path("", include("apps.physicians.api_urls")),
    path("", include("apps.pharmacies.api_urls")),
    path("", include("apps.catalogue.api_urls")),
    path("", include("apps.policies.api_urls")),
    path("", include("apps.applications.api_urls")),
    path("", include("apps.prescriptions.api_urls")),
    path("", include("apps.settlement.api_urls")),
    path("", include("apps.procurement.api_urls")),
    path("", include("apps.monitoring.api_urls")),
]
