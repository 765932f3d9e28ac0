"""How a packet is split into shares (SPEC §3 "Allocation"). Pure functions, no Django.

Lucky packets follow the "double average" rule: with R fen and n shares left, the last
share takes all of R; otherwise a share is uniform in

    [max(1, R − (n−1)·M),  min(⌊2R/n⌋, R − (n−1), M)]

so every later share can still get between 1 fen and M, no share exceeds twice the
remaining average, and nothing is left when the count reaches zero. The uniform draw
comes from a keyed stream, HMAC(secret, packet id, share index): the server can recompute
and audit every share, and nobody without the secret can predict which one is large.
"""

from __future__ import annotations

import hashlib
import hmac

MAX_SHARE_FEN = 20_000  # ¥200.00


def share_draw(secret: bytes, packet_id: int, index: int) -> int:
    """The keyed pseudo-random number for one share: a 256-bit integer."""
    digest = hmac.new(secret, f"{packet_id}:{index}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest, "big")


def lucky_bounds(
    remaining_fen: int, remaining_count: int, max_share_fen: int = MAX_SHARE_FEN
) -> tuple[int, int]:
    """The inclusive range the next lucky share is drawn from (both ends equal for the last)."""
    if (
        remaining_count < 1
        or not remaining_count <= remaining_fen <= remaining_count * max_share_fen
    ):
        raise ValueError(
            f"{remaining_fen} fen cannot be split into {remaining_count} shares "
            f"of 1..{max_share_fen}"
        )
    if remaining_count == 1:
        return remaining_fen, remaining_fen
    low = max(1, remaining_fen - (remaining_count - 1) * max_share_fen)
    high = min(
        2 * remaining_fen // remaining_count, remaining_fen - (remaining_count - 1), max_share_fen
    )
    return low, high


def lucky_share(
    remaining_fen: int, remaining_count: int, draw: int, max_share_fen: int = MAX_SHARE_FEN
) -> int:
    """The next lucky share for a uniform `draw` (any non-negative integer)."""
    low, high = lucky_bounds(remaining_fen, remaining_count, max_share_fen)
    # 256-bit draws make the modulo bias ~2^-240: negligible.
    return low + draw % (high - low + 1)


def lucky_shares(
    *, total_fen: int, count: int, secret: bytes, packet_id: int, max_share_fen: int = MAX_SHARE_FEN
) -> list[int]:
    """Every share of a lucky packet in claim order — what reconciliation audits against."""
    shares = []
    remaining = total_fen
    for index in range(count):
        share = lucky_share(
            remaining, count - index, share_draw(secret, packet_id, index), max_share_fen
        )
        shares.append(share)
        remaining -= share
    return shares


def share_for_index(
    *,
    kind: str,
    index: int,
    count: int,
    remaining_fen: int,
    share_fen: int | None,
    secret: bytes,
    packet_id: int,
    max_share_fen: int = MAX_SHARE_FEN,
) -> int:
    """The share at claim `index`, given what is left before it (R and n = count − index)."""
    if kind in ("normal", "exclusive"):  # a fixed share each
        assert share_fen is not None
        return share_fen
    return lucky_share(
        remaining_fen, count - index, share_draw(secret, packet_id, index), max_share_fen
    )


def packet_shares(
    *,
    kind: str,
    count: int,
    total_fen: int,
    share_fen: int | None,
    secret: bytes,
    packet_id: int,
    max_share_fen: int = MAX_SHARE_FEN,
) -> list[int]:
    """Every share of a packet in claim order: kept on the packet row at send (so an open
    is one statement) and recomputed by 对账. The same values `share_for_index` gives one
    by one, since each lucky share depends only on the secret, the id, the index and
    what the earlier shares left."""
    if kind in ("normal", "exclusive"):  # a fixed share each
        assert share_fen is not None
        return [share_fen] * count
    return lucky_shares(
        total_fen=total_fen,
        count=count,
        secret=secret,
        packet_id=packet_id,
        max_share_fen=max_share_fen,
    )
