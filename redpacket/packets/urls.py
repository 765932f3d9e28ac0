"""Red packet pages, mounted at /packets/ by redpacket/urls.py."""

from django.urls import path

from redpacket.packets import views

app_name = "redpacket"

urlpatterns = [
    path("mine/", views.mine, name="mine"),
    path("send/", views.send_pick_room, name="send-pick"),
    path("send/<int:room_id>/", views.send, name="send"),
    path("<int:packet_id>/", views.open_page, name="open"),
    path("<int:packet_id>/card/", views.open_card, name="open-card"),
    path("<int:packet_id>/result/", views.result, name="result"),
    path("<int:packet_id>/forward/", views.forward, name="forward"),
]
