from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("", views.rooms, name="rooms"),
    path("rooms/partial/", views.rooms_partial, name="rooms-partial"),
    path("rooms/<int:room_id>/", views.room, name="room"),
    path("rooms/<int:room_id>/members/", views.room_members, name="room-members"),
    path("new/group/", views.group_new, name="group-new"),
    path("new/direct/", views.direct_new, name="direct-new"),
    path(
        "invitations/<int:invitation_id>/accept/",
        views.invitation_answer,
        {"answer": "accept"},
        name="invitation-accept",
    ),
    path(
        "invitations/<int:invitation_id>/decline/",
        views.invitation_answer,
        {"answer": "decline"},
        name="invitation-decline",
    ),
]
