import uuid

import pytest

GOOD_CARD = "4111111111111111"
DECLINED_CARD = "4000000000000002"
INSUFFICIENT_CARD = "4000000000009995"
PIN = "123456"


@pytest.fixture
def bind_card():
    """Bind a sandbox card through the services (PIN 123456 with the first card)."""
    from wallet import services

    def bind(user, number=GOOD_CARD, pin=PIN):
        # One number per user: the SMS limits count sends per phone number.
        phone = f"138{user.pk % 10**8:08d}"
        binding, code = services.card_bind_start(
            user=user, card_number=number, holder_name="张三", phone=phone, pin=pin
        )
        return services.card_bind_verify(user=user, binding_id=str(binding.pk), code=code)

    return bind


@pytest.fixture
def fund(bind_card):
    """Give a user change: a top-up from their first card (bound if they have none)."""
    from wallet import services
    from wallet.models import BankCard

    def fund(user, amount_fen):
        card = BankCard.objects.filter(user=user, is_active=True).first() or bind_card(user)
        services.wallet_topup(
            user=user, card=card, amount_fen=amount_fen, request_key=uuid.uuid4().hex
        )

    return fund
