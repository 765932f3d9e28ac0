"""ASGI entry point: HTTP through Django, websockets through Channels.

Websockets pass the allowed-hosts Origin check, then session-or-ticket authentication.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "redpacket.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from redpacket.accounts.ws_auth import TicketOrSessionAuthMiddlewareStack  # noqa: E402
from redpacket.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            TicketOrSessionAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
