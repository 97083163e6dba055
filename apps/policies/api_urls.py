from rest_framework.routers import SimpleRouter

from apps.policies import api

router = SimpleRouter()
router.register("policies", api.PolicyViewSet, basename="policy")
urlpatterns = router.urls
