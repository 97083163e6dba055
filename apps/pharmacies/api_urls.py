from rest_framework.routers import SimpleRouter

from apps.pharmacies import api

router = SimpleRouter()
router.register("pharmacies", api.PharmacyViewSet, basename="pharmacy")
urlpatterns = router.urls
