from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.accounts.forms import AdminLoginForm

admin.site.site_header = "双通道药品管理平台"
admin.site.site_title = "双通道药品管理平台"
admin.site.index_title = "系统管理"
admin.site.login_form = AdminLoginForm  # the one login service and its lockout (R-SEC-1)

# under /api/ every error leaves in the API.md error format, a 500 too (R-SEC-4)
handler400 = "apps.core.error_views.bad_request"
handler403 = "apps.core.error_views.permission_denied"
handler404 = "apps.core.error_views.page_not_found"
handler500 = "apps.core.error_views.server_error"

urlpatterns = [
    path("", include("apps.core.urls")),
    path("accounts/", include("apps.accounts.urls")),
    path("institutions/", include("apps.institutions.urls")),
    path("physicians/", include("apps.physicians.urls")),
    path("pharmacies/", include("apps.pharmacies.urls")),
    path("catalogue/", include("apps.catalogue.urls")),
    path("policies/", include("apps.policies.urls")),
    path("applications/", include("apps.applications.urls")),
    path("prescriptions/", include("apps.prescriptions.urls")),
    path("settlement/", include("apps.settlement.urls")),
    path("procurement/", include("apps.procurement.urls")),
    path("monitoring/", include("apps.monitoring.urls")),
    path("favicon.ico", RedirectView.as_view(url=f"{settings.STATIC_URL}img/favicon.svg", permanent=True)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI from the project's own static files (drf-spectacular-sidecar), its initialiser as a separate
    # script URL rather than inline, so the page works offline and under the site's Content-Security-Policy
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
if settings.BENCHMARK_BARE_ENDPOINTS:  # the REST benchmark's floor (benchmarks/bare_endpoint.py); never deployed
    urlpatterns += [path("bench/", include("benchmarks.bare_endpoint"))]
