"""Money is integer fen everywhere; yuan appear only when shown (SPEC: "¥12.30")."""

from __future__ import annotations

from redpacket.kernel.numbers import is_ascii_digits


def yuan(fen: int) -> str:
    """1230 → "¥12.30"; -5 → "-¥0.05"."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}¥{whole}.{cents:02d}"


def yuan_plain(fen: int) -> str:
    """1230 → "12.30" (no currency sign, as in "红包金额12.30元")."""
    return yuan(fen).replace("¥", "")


def parse_yuan(text: str) -> int | None:
    """ "12.3" / "12.30" / "12" → fen, or None when it is not a money amount (no floats;
    ASCII digits only: "²" or "１２" is not an amount)."""
    value = (text or "").strip() if isinstance(text, str) else ""
    whole, _, cents = value.partition(".")
    if not is_ascii_digits(whole, max_length=9):
        return None
    if cents and not is_ascii_digits(cents, max_length=2):
        return None
    return int(whole) * 100 + int(cents.ljust(2, "0") or 0)
