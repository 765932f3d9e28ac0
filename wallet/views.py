"""Wallet pages (钱包): thin views over the same payments and selectors as the API."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from redpacket.accounts.models import User
from redpacket.kernel.errors import DomainError, NotFound
from redpacket.kernel.forms import add_domain_error
from redpacket.kernel.money import yuan
from wallet import payments, selectors, services
from wallet.forms import CardBindForm, CardPaymentForm, CardVerifyForm, TransferForm
from wallet.idempotency import run_idempotent
from wallet.models import CardBinding


@login_required
def wallet_home(request):
    summary = selectors.wallet_summary(user=request.user)
    return render(request, "wallet/home.html", {"summary": summary, "tab": "wallet"})


@login_required
def card_add(request):
    summary = selectors.wallet_summary(user=request.user)
    form = CardBindForm(request.POST or None, needs_pin=not summary.has_pin)
    if request.method == "POST" and form.is_valid():
        try:
            binding, code = services.card_bind_start(user=request.user, **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            request.session["sandbox_sms_code"] = code
            return redirect("wallet:card_verify", binding_id=binding.pk)
    return render(request, "wallet/card_add.html", {"form": form, "step": 1})


@login_required
def card_verify(request, binding_id):
    binding = CardBinding.objects.filter(pk=binding_id, user=request.user).first()
    if binding is None:
        raise NotFound()
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
            return redirect("wallet:home")
    context = {
        "form": form,
        "binding": binding,
        "step": 2,
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


def _card_payment_page(request, payment, title):
    """Top-up and withdraw: between the user's change and one of their cards."""
    summary = selectors.wallet_summary(user=request.user)
    if not summary.cards:
        messages.info(request, _("请先添加银行卡"))
        return redirect("wallet:card_add")
    form = CardPaymentForm(request.POST or None, cards=summary.cards, needs_pin=summary.has_pin)
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
    return _card_payment_page(request, payments.payment_topup, _("充值"))


@login_required
def withdraw(request):
    return _card_payment_page(request, payments.payment_withdraw, _("提现"))


@login_required
def transfer(request):
    summary = selectors.wallet_summary(user=request.user)
    form = TransferForm(request.POST or None, needs_pin=summary.has_pin)
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
