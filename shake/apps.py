from django.apps import AppConfig


class ShakeConfig(AppConfig):
    name = "shake"
    verbose_name = "摇一摇"
