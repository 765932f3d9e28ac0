"""The Celery app: `celery -A redpacket worker` / `celery -A redpacket beat`.

Settings come from Django settings under the CELERY_ prefix; the beat schedule lives there.
"""

import os

from celery import Celery
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "redpacket.settings")

app = Celery("redpacket")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _reuse_sound_connections(task=None, **kwargs):
    """Before each task in a worker, drop the connections that are broken or older than
    CONN_MAX_AGE (Django's own check around a request); keep the rest. Eager tasks run
    inside their caller's request or transaction and are left alone."""
    if task is None or getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
