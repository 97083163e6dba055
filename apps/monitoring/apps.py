from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "apps.monitoring"
    verbose_name = "智能监控"

    def ready(self):
        from auditlog.registry import auditlog

        from apps.monitoring.hot import dispensing_flag
        from apps.prescriptions import hooks as prescriptions_hooks

        # section 9: R-MON-1..5 flag every dispensing inside its transaction (prescriptions is below: a hook)
        prescriptions_hooks.dispensing_recorded.register(dispensing_flag)
        # R-SEC-3: field-level history of the thresholds; alerts change only through their workflow services,
        # each transition writing a core.Event (who, when, from, to, reason)
        auditlog.register(self.get_model("MonitoringSettings"))
