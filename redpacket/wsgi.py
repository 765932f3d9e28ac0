"""WSGI entry point (gunicorn serves pages and /api/ in the deployed topology)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "redpacket.settings")
application = get_wsgi_application()
