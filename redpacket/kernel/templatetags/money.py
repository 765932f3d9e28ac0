from django import template

from redpacket.kernel import money

register = template.Library()


@register.filter
def yuan(fen: int | None) -> str:
    """{{ amount_fen|yuan }} → ¥12.30"""
    return "" if fen is None else money.yuan(fen)


@register.filter
def yuan_plain(fen: int | None) -> str:
    """{{ amount_fen|yuan_plain }} → 12.30"""
    return "" if fen is None else money.yuan_plain(fen)
