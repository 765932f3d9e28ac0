"""Websocket routes of the chat app (included by `redpacket.routing`)."""

from django.urls import re_path

from chat import consumers

websocket_urlpatterns = [
    re_path(r"^ws/rooms/(?P<room_id>\d+)/$", consumers.RoomConsumer.as_asgi()),
    re_path(r"^ws/me/$", consumers.UserConsumer.as_asgi()),
]
