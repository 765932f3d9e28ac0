from django.urls import path

from shake import views

app_name = "shake"

urlpatterns = [
    path("", views.campaigns, name="campaigns"),
    path("<int:campaign_id>/", views.campaign, name="campaign"),
    path("wins/<int:win_id>/", views.win, name="win"),
]
