from django.apps import AppConfig


class KernelConfig(AppConfig):
    """Building blocks every app shares; an installed app only so that its template tag
    library (`{% load money %}`) is found. It depends on no app."""

    name = "redpacket.kernel"
    label = "kernel"
    verbose_name = "kernel"
