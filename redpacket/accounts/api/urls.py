from django.urls import path

from redpacket.accounts.api import views

urlpatterns = [
    path("auth/register", views.RegisterApi.as_view(), name="api-register"),
    path("auth/token", views.TokenApi.as_view(), name="api-token"),
    path("auth/logout", views.LogoutApi.as_view(), name="api-logout"),
    path("auth/ws-ticket", views.WsTicketApi.as_view(), name="api-ws-ticket"),
    path("me", views.MeApi.as_view(), name="api-me"),
]
