from django.urls import path

from wallet.api import views

urlpatterns = [
    path("wallet", views.WalletApi.as_view(), name="api-wallet"),
    path("wallet/topup", views.TopupApi.as_view(), name="api-wallet-topup"),
    path("wallet/withdraw", views.WithdrawApi.as_view(), name="api-wallet-withdraw"),
    path("wallet/transfer", views.TransferApi.as_view(), name="api-wallet-transfer"),
    path("wallet/ledger", views.LedgerApi.as_view(), name="api-wallet-ledger"),
    path("wallet/notices", views.NoticesApi.as_view(), name="api-wallet-notices"),
    path("wallet/notices/seen", views.NoticesSeenApi.as_view(), name="api-wallet-notices-seen"),
    path("cards", views.CardsApi.as_view(), name="api-cards"),
    path("cards/<uuid:binding_id>/verify", views.CardVerifyApi.as_view(), name="api-card-verify"),
    path("cards/<int:card_id>", views.CardDetailApi.as_view(), name="api-card"),
]
