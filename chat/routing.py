"""Websocket routes of the chat app (included by `redpacket.routing`)."""

from django.urls import path

from chat import consumers

websocket_urlpatterns = [
    path("ws/rooms/<int:room_id>/", consumers.RoomConsumer.as_asgi()),
    path("ws/me/", consumers.UserConsumer.as_asgi()),
]
