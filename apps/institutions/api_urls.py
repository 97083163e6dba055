from rest_framework.routers import SimpleRouter

from apps.institutions import api

router = SimpleRouter()
router.register("institutions", api.InstitutionViewSet, basename="institution")
urlpatterns = router.urls
