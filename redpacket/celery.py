"""The Celery app: `celery -A redpacket worker` / `celery -A redpacket beat`.

Settings come from Django settings under the CELERY_ prefix; the beat schedule lives there.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "redpacket.settings")

app = Celery("redpacket")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
