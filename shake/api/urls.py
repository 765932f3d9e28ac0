from django.urls import path

from shake.api import views

urlpatterns = [
    path("shake/campaigns", views.CampaignsApi.as_view(), name="api-shake-campaigns"),
    path(
        "shake/campaigns/<int:campaign_id>/shake",
        views.CampaignShakeApi.as_view(),
        name="api-shake-shake",
    ),
    path(
        "shake/campaigns/<int:campaign_id>/remaining",
        views.CampaignRemainingApi.as_view(),
        name="api-shake-remaining",
    ),
    path("shake/wins/<int:win_id>", views.WinApi.as_view(), name="api-shake-win"),
]
