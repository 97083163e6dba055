from rest_framework.routers import SimpleRouter

from apps.core import api

router = SimpleRouter()
router.register("regions", api.RegionViewSet, basename="region")
router.register("calendar", api.CalendarDayViewSet, basename="calendar")
urlpatterns = router.urls
