"""Sign-in refusals with API.md's codes."""

from django.utils.translation import gettext_lazy as _

from redpacket.kernel.errors import DomainError


class LoginLocked(DomainError):
    """Too many wrong passwords for this account (SPEC §7), whatever the address."""

    code = "login_locked"
    status = 429
    message = _("密码错误次数过多，该账号暂时无法登录，请稍后再试")
