from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo data loader (``manage.py load_demo``): the top layer, it may use every app's services and no app
    uses it."""
    name = "apps.demo"
    label = "demo"
    verbose_name = "演示数据"
