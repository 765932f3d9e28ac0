"""摇一摇 pages: the running campaigns and a campaign's shake page (thin: selectors only;
the shaking itself goes through the API from the page's script)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET

from redpacket.accounts.requests import SignedInRequest
from shake import selectors
from shake.errors import CampaignNotFound, WinNotFound

# The page asks for the remaining count once every this many shakes (SPEC §5).
REMAINING_EVERY = 5


@login_required
@require_GET
def campaigns(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "shake/campaigns.html",
        {"campaigns": list(selectors.campaigns_running()[:50]), "tab": "shake"},
    )


@login_required
@require_GET
def campaign(request: HttpRequest, campaign_id: int) -> HttpResponse:
    try:
        found = selectors.campaign_for_page(campaign_id=campaign_id)
    except CampaignNotFound as error:
        raise Http404(str(error.message)) from error
    context = {
        "campaign": found,
        "status": selectors.campaign_status(found),
        "remaining": selectors.campaign_remaining(campaign_id=found.pk),
        "remaining_every": REMAINING_EVERY,
        "tab": "shake",
    }
    return render(request, "shake/campaign.html", context)


@login_required
@require_GET
def win(request: SignedInRequest, win_id: int) -> HttpResponse:
    """A won shake packet's result page: sponsor, greeting, amount and the credit line
    ("入账中…" until credited; shake-win.js switches it when the credit lands)."""
    try:
        outcome = selectors.win_result(user=request.user, win_id=win_id)
    except WinNotFound as error:
        raise Http404(str(error.message)) from error
    back = request.GET.get("back", "")
    if back and not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    sponsor = outcome["sender"]
    return render(
        request,
        "shake/win.html",
        {
            "win": outcome,
            "sponsor": sponsor,
            "sponsor_initial": (sponsor["display_name"] or sponsor["username"])[:1].upper(),
            "back_url": back or reverse("redpacket:mine"),
            "tab": "shake",
        },
    )
