from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class RegisterForm(forms.Form):
    username = forms.RegexField(
        label=_("用户名"),
        regex=r"^[\w.@+-]+\Z",
        min_length=2,
        max_length=150,
        error_messages={"invalid": _("只能包含字母、数字和 @/./+/-/_")},
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    display_name = forms.CharField(label=_("昵称"), max_length=32, required=False)
    password = forms.CharField(
        label=_("密码"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": _("用户名或密码错误"),
        "inactive": _("该账号已停用"),
    }
