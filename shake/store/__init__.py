"""A campaign's fast state for the shake path (ARCHITECTURE "Redis keys": `sk:{<id>}:…`).

One shake is ONE atomic step here (a Lua script on Redis): check the window and whether
the campaign was closed, whether packets are left, the caller's win cap, the pace line,
the win chance, then pick the first candidate payout that fits the unspent budget and
reserve it (one packet, its amount, one win of the caller). The database then records
the win under the campaign's row lock as the truth; a reservation it refuses is given
back here. Randomness never comes from Lua: Python draws the candidates and the chance
roll with `secrets` and passes them in.

The store exists twice, once per place the state can live, and this package keeps them
apart along that seam so each can be read on its own:

- `base`: what every store answers (outcomes, terms, the protocol) and the key names;
- `lua` and `redis_store`: the Redis store, its atomic steps spelled as Lua scripts;
- `local_store`: the in-process store of the embedded default (no REDIS_URL), the same
  answers to the one process there is, under one lock.

The payout rule itself is `shake.draw.choose`: the in-process store calls it, the Lua
script spells it again, and tests/shake/test_payout_rule.py holds the two to the same
answers (and the two stores to the same reservation) on random inputs, on Redis.
Callers import from `shake.store` only; `campaign_store()` picks the store.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings

from shake.store.base import (
    INFLIGHT_KEY,
    INFLIGHT_STALE_MS,
    CampaignStore,
    Outcome,
    Reservation,
    ShakeTerms,
    StateView,
)
from shake.store.local_store import LocalCampaignStore
from shake.store.redis_store import RedisCampaignStore

__all__ = [
    "INFLIGHT_KEY",
    "INFLIGHT_STALE_MS",
    "CampaignStore",
    "LocalCampaignStore",
    "Outcome",
    "RedisCampaignStore",
    "Reservation",
    "ShakeTerms",
    "StateView",
    "campaign_store",
]


@cache
def campaign_store() -> CampaignStore:
    """The store for this process: Redis when REDIS_URL is set, else in-process."""
    return RedisCampaignStore() if settings.REDIS_URL else LocalCampaignStore()
