from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project (settings, urls, demo data): its management commands, and the Celery app.

    Label "project": "redpacket" is the packet app's label (its tables keep their names).
    """

    name = "redpacket"
    label = "project"
    verbose_name = "红包 project"

    def ready(self) -> None:
        # Celery's Django setup: the app must be configured (settings under CELERY_) in
        # every process before a @shared_task is sent, or .delay() would go to Celery's
        # default broker. `redpacket/__init__` no longer imports it eagerly.
        import redpacket.celery  # noqa: F401
