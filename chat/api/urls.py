from django.urls import path

from chat.api import views

urlpatterns = [
    path("rooms", views.RoomListApi.as_view(), name="api-rooms"),
    path("rooms/<int:room_id>", views.RoomDetailApi.as_view(), name="api-room"),
    path("rooms/<int:room_id>/members", views.RoomMembersApi.as_view(), name="api-room-members"),
    path("rooms/<int:room_id>/messages", views.RoomMessagesApi.as_view(), name="api-room-messages"),
    path("rooms/<int:room_id>/read", views.RoomReadApi.as_view(), name="api-room-read"),
    path("invitations", views.InvitationListApi.as_view(), name="api-invitations"),
    path(
        "invitations/<int:invitation_id>/accept",
        views.InvitationAcceptApi.as_view(),
        name="api-invitation-accept",
    ),
    path(
        "invitations/<int:invitation_id>/decline",
        views.InvitationDeclineApi.as_view(),
        name="api-invitation-decline",
    ),
]
