from django.apps import AppConfig


class RedpacketConfig(AppConfig):
    name = "redpacket"
    verbose_name = "红包"
