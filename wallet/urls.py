from django.urls import path

from wallet import views

app_name = "wallet"

urlpatterns = [
    path("", views.wallet_home, name="home"),
    path("cards/add/", views.card_add, name="card_add"),
    path("cards/bind/<uuid:binding_id>/", views.card_verify, name="card_verify"),
    path("cards/<int:card_id>/remove/", views.card_remove, name="card_remove"),
    path("topup/", views.topup, name="topup"),
    path("withdraw/", views.withdraw, name="withdraw"),
    path("transfer/", views.transfer, name="transfer"),
    path("ledger/", views.ledger, name="ledger"),
    path("notices/", views.notices, name="notices"),
]
