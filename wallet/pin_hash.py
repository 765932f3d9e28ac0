"""How a payment PIN is stored (SPEC §2): an HMAC-SHA256 under a server-side pepper.

There are only 10⁶ six-digit PINs, so no hash cost stops an offline search of a copied
table, while every payment would pay that cost under the PIN's row lock. A key kept
outside the database (the pepper, settings.PIN_PEPPERS) does stop it; the lockout in
wallet.services.pin is the online guard. The message binds the hash to its user, so two
users with the same PIN store different hashes.

Stored form: `hmac-sha256$<pepper id>$<64 hex>`. The id names the pepper that signed, so
after a rotation a hash under a retired pepper still verifies (and is signed again with
the newest on its owner's next right PIN). Plain functions with no Django import: the
peppers are passed in, newest first.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Sequence

SCHEME = "hmac-sha256"


class PinMatch(enum.Enum):
    WRONG = "wrong"
    RIGHT = "right"
    RIGHT_STALE = "right_stale"  # right, under a retired pepper: sign again with the newest


def pepper_id(pepper: str) -> str:
    """The short name stored with each hash: derived under the pepper, so it tells
    nothing about it (a plain digest would let anyone test a guessed pepper)."""
    return hmac.new(pepper.encode(), b"redpacket.pin-pepper-id", hashlib.sha256).hexdigest()[:8]


def _digest(*, pepper: str, user_id: int, pin: str) -> str:
    message = f"redpacket.payment-pin:{user_id}:{pin}".encode()
    return hmac.new(pepper.encode(), message, hashlib.sha256).hexdigest()


def is_keyed(stored: str) -> bool:
    """True for this module's form; anything else is a hash from before it (Django's)."""
    return stored.startswith(f"{SCHEME}$")


def keyed_pin_hash(*, peppers: Sequence[str], user_id: int, pin: str) -> str:
    """The stored form of `pin` for `user_id`, signed with the newest pepper."""
    pepper = peppers[0]
    return f"{SCHEME}${pepper_id(pepper)}${_digest(pepper=pepper, user_id=user_id, pin=pin)}"


class UnknownPepper(LookupError):
    """The hash was signed with a pepper no longer configured: it cannot be checked."""


def keyed_pin_check(*, peppers: Sequence[str], user_id: int, pin: str, stored: str) -> PinMatch:
    """Whether `pin` is the one `stored` (this module's form) was made from, in constant
    time for a given pepper; UnknownPepper if its pepper is no longer configured."""
    scheme, _, rest = stored.partition("$")
    stored_id, _, stored_digest = rest.partition("$")
    if scheme != SCHEME:
        raise ValueError("not a keyed PIN hash")
    for position, pepper in enumerate(peppers):
        if pepper_id(pepper) != stored_id:
            continue
        digest = _digest(pepper=pepper, user_id=user_id, pin=pin)
        if not hmac.compare_digest(digest.encode(), stored_digest.encode()):
            return PinMatch.WRONG
        return PinMatch.RIGHT if position == 0 else PinMatch.RIGHT_STALE
    raise UnknownPepper(stored_id)
