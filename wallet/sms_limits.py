"""Limits on the SMS a card binding sends (issue #16 finding 5, "SMS pumping"): so many
per user and so many per phone number in a window, for the page and the API alike
(`card_bind_start` asks here before the bank and the SMS are called).

Counters live in the cache (Redis when deployed: shared by every process), one fixed
window per key: `add` opens the window with its expiry, `incr` counts atomically. The
phone number is hashed before it becomes a key, as tokens are.
"""

from __future__ import annotations

import contextlib
import hashlib

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

from redpacket.kernel.errors import DomainError

_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


class SmsRateLimited(DomainError):
    code = "sms_rate_limited"
    status = 429
    message = _("验证码发送太频繁，请稍后再试")


def parse_rate(rate: str) -> tuple[int, int]:
    """ "5/hour" → (5, 3600): how many sends per how many seconds."""
    count, _slash, period = rate.partition("/")
    return int(count), _PERIODS[period.strip()]


def _over_limit(key: str, rate: str) -> bool:
    limit, seconds = parse_rate(rate)
    cache.add(key, 0, seconds)
    try:
        sent = cache.incr(key)
    except ValueError:  # the window closed between add and incr: a new one opens
        cache.add(key, 1, seconds)
        sent = 1
    return sent > limit


def sms_send_allow(*, user_id: int, phone: str) -> None:
    """Count one binding SMS to `phone` for `user_id`; SmsRateLimited (429) when either
    the user (SMS_SENDS_PER_USER) or the phone number (SMS_SENDS_PER_PHONE, whoever asks:
    pumping a stranger's phone from many accounts) is over its limit."""
    user_key = f"sms:user:{user_id}"
    if _over_limit(user_key, settings.SMS_SENDS_PER_USER):
        raise SmsRateLimited()
    phone_key = "sms:phone:" + hashlib.sha256(phone.encode()).hexdigest()
    if _over_limit(phone_key, settings.SMS_SENDS_PER_PHONE):
        # No SMS goes out: this attempt does not use up one of the user's own sends.
        with contextlib.suppress(ValueError):
            cache.decr(user_key)
        message = _("该手机号收到的验证码太多，请稍后再试")
        raise SmsRateLimited(message, fields={"phone": message})
