from django.urls import path

from apps.pharmacies import views

app_name = "pharmacies"
urlpatterns = [
    path("", views.pharmacy_list_view, name="list"),
    path("<int:pk>/", views.pharmacy_detail, name="detail"),
    path("<int:pk>/<slug:action>/", views.pharmacy_action, name="action"),
]
