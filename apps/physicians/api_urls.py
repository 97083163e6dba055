from rest_framework.routers import SimpleRouter

from apps.physicians import api

router = SimpleRouter()
router.register("physicians", api.PhysicianViewSet, basename="physician")
urlpatterns = router.urls
