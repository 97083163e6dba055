from django.urls import path

from apps.physicians import views

app_name = "physicians"
urlpatterns = [
    path("", views.physician_list_view, name="list"),
    path("propose/", views.physician_propose, name="propose"),
    path("<int:pk>/", views.physician_detail, name="detail"),
    path("<int:pk>/<slug:action>/", views.physician_action, name="action"),
]
