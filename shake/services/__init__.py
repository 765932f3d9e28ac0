"""Every write of the shake domain (SPEC §5), one module per step."""

from shake.services.create import (
    campaign_create,
    campaign_edit,
    campaign_sponsor,
    campaign_start,
    campaign_terms_changed,
    campaigns_start_due,
)
from shake.services.credit import WINS, win_credit, wins_pending
from shake.services.end import campaign_end, campaigns_end_due
from shake.services.shake import Reason, ShakeResult, campaign_shake

__all__ = [
    "WINS",
    "Reason",
    "ShakeResult",
    "campaign_create",
    "campaign_edit",
    "campaign_end",
    "campaign_shake",
    "campaign_sponsor",
    "campaign_start",
    "campaign_terms_changed",
    "campaigns_end_due",
    "campaigns_start_due",
    "win_credit",
    "wins_pending",
]
