from django.urls import path

from redpacket.packets.api import views

urlpatterns = [
    path("packets", views.PacketsApi.as_view(), name="api-packets"),
    path("packets/received", views.ReceivedApi.as_view(), name="api-packets-received"),
    path("packets/sent", views.SentApi.as_view(), name="api-packets-sent"),
    path("packets/<int:packet_id>", views.PacketDetailApi.as_view(), name="api-packet"),
    path("packets/<int:packet_id>/open", views.PacketOpenApi.as_view(), name="api-packet-open"),
    path(
        "packets/<int:packet_id>/result", views.PacketResultApi.as_view(), name="api-packet-result"
    ),
    path(
        "packets/<int:packet_id>/forward",
        views.PacketForwardApi.as_view(),
        name="api-packet-forward",
    ),
]
