"""Websocket routes of every app, and a last route that refuses every other path (so an
unknown path is a clean refusal, not an error in the router)."""

from channels.generic.websocket import WebsocketConsumer
from django.urls import re_path

from chat.routing import websocket_urlpatterns as chat_websocket_urlpatterns


class UnknownPathConsumer(WebsocketConsumer):
    def connect(self) -> None:
        self.close()  # before accepting: the handshake is refused


websocket_urlpatterns: list = [
    *chat_websocket_urlpatterns,
    re_path(r"", UnknownPathConsumer.as_asgi()),
]
