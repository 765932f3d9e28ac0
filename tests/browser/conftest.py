"""Fixtures the browser tests share with the red packet and wallet tests."""

from tests.redpacket.conftest import direct, group, send  # noqa: F401
from tests.wallet.conftest import bind_card, fund  # noqa: F401
