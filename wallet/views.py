"""Wallet pages (钱包): thin views over the same payments and selectors as the API."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from redpacket.accounts.models import User
from redpacket.kernel.errors import DomainError, NotFound
from redpacket.kernel.forms import add_domain_error
from redpacket.kernel.money import yuan
from wallet import payments, selectors, services
from wallet.forms import (
    CardBindForm,
    CardNumberForm,
    CardPaymentForm,
    CardVerifyForm,
    TransferForm,
)
from wallet.idempotency import run_idempotent
from wallet.models import CardBinding


@login_required
def wallet_home(request):
    summary = selectors.wallet_summary(user=request.user)
    return render(request, "wallet/home.html", {"summary": summary, "tab": "wallet"})


def _next_url(request) -> str:
    """Where a binding started from another flow returns (`?next=`, e.g. the send page
    with its draft kept); only a path on this site."""
    candidate = request.GET.get("next") or ""
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


def _with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


@login_required
def card_add(request):
    """添加银行卡, split at 下一步 (SPEC §4 Paying): step 1 asks the card number; step 2
    the holder name, the reserved phone and, with the first card, the new PIN (SPEC §2);
    then the SMS code (`card_verify`). A post carrying the holder name is step 2."""
    summary = selectors.wallet_summary(user=request.user)
    next_url = _next_url(request)
    context = {"next_url": next_url, "back_url": next_url or reverse("wallet:home")}
    if request.method != "POST":
        return render(
            request, "wallet/card_add.html", {**context, "form": CardNumberForm(), "step": 1}
        )
    if "holder_name" not in request.POST:
        number_form = CardNumberForm(request.POST)
        if number_form.is_valid():
            try:
                number = services.card_number_check(**number_form.cleaned_data)
            except DomainError as error:
                add_domain_error(number_form, error)
            else:
                form = CardBindForm(initial={"card_number": number}, needs_pin=not summary.has_pin)
                return _card_details_page(request, form, number, context)
        return render(request, "wallet/card_add.html", {**context, "form": number_form, "step": 1})
    form = CardBindForm(request.POST, needs_pin=not summary.has_pin)
    if form.is_valid():
        try:
            binding, code = services.card_bind_start(user=request.user, **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            request.session["sandbox_sms_code"] = code
            return redirect(_with_next(reverse("wallet:card_verify", args=[binding.pk]), next_url))
    if "card_number" in form.errors:  # the number itself is wrong: back to step 1
        number_form = CardNumberForm(request.POST)
        if number_form.is_valid():
            for message in form.errors["card_number"]:
                number_form.add_error("card_number", message)
        return render(request, "wallet/card_add.html", {**context, "form": number_form, "step": 1})
    return _card_details_page(request, form, request.POST.get("card_number", ""), context)


def _card_details_page(request, form, card_number: str, context: dict):
    digits = "".join(str(card_number).split())
    return render(
        request,
        "wallet/card_details.html",
        {**context, "form": form, "step": 2, "last4": digits[-4:]},
    )


@login_required
def card_verify(request, binding_id):
    binding = CardBinding.objects.filter(pk=binding_id, user=request.user).first()
    if binding is None:
        raise NotFound()
    next_url = _next_url(request)
    form = CardVerifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            card = services.card_bind_verify(
                user=request.user, binding_id=binding.pk, **form.cleaned_data
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            request.session.pop("sandbox_sms_code", None)
            messages.success(request, _("已绑定%(card)s") % {"card": card})
            return redirect(next_url or "wallet:home")
    context = {
        "form": form,
        "binding": binding,
        "step": 3,
        "next_url": next_url,
        "back_url": _with_next(reverse("wallet:card_add"), next_url),
        "sandbox_code": request.session.get("sandbox_sms_code")
        if settings.PAYMENTS_SANDBOX
        else None,
    }
    return render(request, "wallet/card_verify.html", context)


def _pay(request, form, pay, template, title):
    """A payment form through the API's idempotency rules: its hidden key is scoped to
    this page and user, a resubmission replays the first answer, another body with the
    same key is refused."""
    if request.method == "POST" and form.is_valid():
        try:
            outcome = run_idempotent(
                user=request.user,
                scope=f"page:{request.resolver_match.view_name}",
                key=form.cleaned_data["idempotency_key"],
                data=form.cleaned_data,
                action=lambda request_key: {
                    "balance_fen": pay(form.cleaned_data, request_key).balance_fen
                },
            )
        except DomainError as error:
            add_domain_error(form, error, aliases={"to_user_id": "recipient"})
        else:
            messages.success(
                request,
                _("%(what)s成功，零钱余额%(balance)s")
                % {"what": title, "balance": yuan(outcome.body["balance_fen"])},
            )
            return redirect("wallet:home")
    return render(request, template, {"form": form, "title": title})


def _card_payment_page(request, payment, title, *, from_change: bool):
    """Top-up and withdraw: between the user's change and one of their cards. A withdraw
    (`from_change`) checks the amount against the balance before the PIN."""
    summary = selectors.wallet_summary(user=request.user)
    if not summary.cards:
        messages.info(request, _("请先添加银行卡"))
        return redirect("wallet:card_add")
    form = CardPaymentForm(
        request.POST or None,
        cards=summary.cards,
        needs_pin=summary.has_pin,
        balance_fen=summary.balance_fen if from_change else None,
    )
    return _pay(
        request,
        form,
        lambda data, request_key: payment(
            user=request.user,
            card_id=data["card_id"],
            amount_fen=data["amount_fen"],
            pin=data.get("pin"),
            request_key=request_key,
        ),
        "wallet/pay.html",
        title,
    )


@login_required
def topup(request):
    return _card_payment_page(request, payments.payment_topup, _("充值"), from_change=False)


@login_required
def withdraw(request):
    return _card_payment_page(request, payments.payment_withdraw, _("提现"), from_change=True)


@login_required
def transfer(request):
    summary = selectors.wallet_summary(user=request.user)
    form = TransferForm(
        request.POST or None, needs_pin=summary.has_pin, balance_fen=summary.balance_fen
    )
    return _pay(
        request,
        form,
        lambda data, request_key: payments.payment_transfer(
            user=request.user,
            recipient=User.objects.filter(username=data["recipient"]).first(),
            amount_fen=data["amount_fen"],
            pin=data.get("pin"),
            note=data.get("note", ""),
            request_key=request_key,
        ),
        "wallet/pay.html",
        _("转账"),
    )


@login_required
def ledger(request):
    page = Paginator(selectors.ledger_for(user=request.user), 30).get_page(request.GET.get("page"))
    return render(request, "wallet/ledger.html", {"page": page})


@login_required
def card_remove(request, card_id):
    if request.method == "POST":
        try:
            services.card_remove(user=request.user, card_id=card_id)
        except DomainError as error:
            messages.error(request, str(error.message))
        else:
            messages.success(request, _("已解除绑定"))
    return redirect("wallet:home")


@login_required
def notices(request):
    """服务通知: the user's money notices, newest first; showing them marks them seen."""
    page = Paginator(selectors.notice_entries(user=request.user), 30).get_page(
        request.GET.get("page")
    )
    items = selectors.notices_of(list(page))
    if page.number == 1 and items:
        services.notices_mark_seen(user=request.user, up_to_entry_id=items[0].id)
    return render(
        request,
        "wallet/notices.html",
        {"page": page, "notices": items, "notices_page": True, "tab": "wallet"},
    )
