from django.apps import AppConfig


class PrescriptionsConfig(AppConfig):
    name = "apps.prescriptions"
    verbose_name = "处方流转"
