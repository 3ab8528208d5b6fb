from django.apps import AppConfig


class InteropAppConfig(AppConfig):
    name = "interop_app"
