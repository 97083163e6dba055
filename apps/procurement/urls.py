from django.urls import path

from apps.procurement import views

app_name = "procurement"
urlpatterns = [
    path("", views.round_list, name="rounds"),
    path("products/<int:pk>/", views.product_detail, name="product"),
    path("products/<int:pk>/extend/", views.product_extend, name="product_extend"),
    path("products/<int:pk>/decompose/", views.product_decompose, name="product_decompose"),
    path("products/<int:pk>/payment-standard/", views.product_link_standard, name="product_link_standard"),
    path("completion/", views.completion, name="completion"),
    path("pace/", views.pace, name="pace"),
    path("fund/", views.fund, name="fund"),
    path("repayments/", views.repayments, name="repayments"),
    path("imports/", views.imports, name="imports"),
    path("imports/<slug:kind>/template/", views.import_template, name="import_template"),
    path("mine/", views.mine, name="mine"),
]
