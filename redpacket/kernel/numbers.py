"""Client text → numbers, one rule for the whole project (issue #16 finding 8).

`str.isdigit()` is true for "²" and "٣" and full-width "１", and `int()` then either
raises (a 500 where it was not expected) or quietly reads another script's digits. A
number typed by a client is ASCII digits only, and of a sensible length; anything else
is a clear "invalid", never an exception.
"""

from __future__ import annotations

from typing import TypeGuard

ASCII_DIGITS = frozenset("0123456789")
# Longer than any id, amount or count the product has (bigint is 19 digits): a longer
# run of digits is refused before int() spends time on it.
MAX_DIGITS = 19


def is_ascii_digits(text: object, *, max_length: int | None = None) -> TypeGuard[str]:
    """True for a non-empty str of the ASCII digits 0-9 only (and at most `max_length`)."""
    if not isinstance(text, str) or not text:
        return False
    if max_length is not None and len(text) > max_length:
        return False
    return text.isascii() and text.isdigit()


def parse_int(text: object, *, max_digits: int = MAX_DIGITS) -> int | None:
    """ "42" → 42; None for anything else ("", "-1", "4.0", "²", "٣", "１", " 4", NUL,
    more than `max_digits` digits)."""
    if not is_ascii_digits(text, max_length=max_digits):
        return None
    return int(text)
