from django.apps import AppConfig


class RedpacketConfig(AppConfig):
    name = "redpacket"
    verbose_name = "红包"

    def ready(self) -> None:
        # Registers the packet bubble decorator with chat's message hooks.
        from redpacket import selectors  # noqa: F401
