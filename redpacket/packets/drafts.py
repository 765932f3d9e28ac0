"""The send page's draft, kept while its sender binds a card (SPEC §4 Paying: the sheet
returns with the packet exactly as typed; nothing typed is lost on the way).

It lives in the sender's session, one per session, tied to its room: the pay sheet's
添加银行卡 (or the no-JS form's) stores it before going to the binding pages, and the send
page takes it back when it is shown again. Never the PIN, never an idempotency key (the
restored page is a new payment attempt).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DRAFT_FIELDS = ("kind", "count", "total_fen", "share_fen", "greeting", "to_user_id")
SESSION_KEY = "packet_send_draft"
# Longer than any valid value, short enough that a forged post cannot bloat the session.
MAX_FIELD_LENGTH = 200


def draft_keep(*, session: Any, room_id: int, data: Mapping[str, Any]) -> None:
    """Remember what was typed on room `room_id`'s send page (replaces an older draft)."""
    session[SESSION_KEY] = {
        "room_id": room_id,
        "fields": {name: str(data.get(name) or "")[:MAX_FIELD_LENGTH] for name in DRAFT_FIELDS},
    }


def draft_take(*, session: Any, room_id: int) -> dict[str, str] | None:
    """The draft of room `room_id`, removed from the session; None if there is none (a
    draft of another room stays for that room)."""
    draft = session.get(SESSION_KEY)
    if not isinstance(draft, dict) or draft.get("room_id") != room_id:
        return None
    del session[SESSION_KEY]
    fields = draft.get("fields")
    if not isinstance(fields, dict):
        return None
    return {name: str(fields.get(name, "")) for name in DRAFT_FIELDS}
