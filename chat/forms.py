"""Page forms. They only parse input; the services decide (STYLE: forms hold no rules)."""

from __future__ import annotations

import re
from typing import cast

from django import forms
from django.utils.translation import gettext_lazy as _

from chat.models import ROOM_NAME_MAX_LENGTH


class UsernamesField(forms.CharField):
    """Usernames separated by spaces, commas or 、 → a list of distinct names."""

    def to_python(self, value: object) -> list[str]:  # type: ignore[override]
        text = super().to_python(value)
        names: list[str] = []
        for name in re.split(r"[\s,，、]+", text or ""):
            if name and name.lower() not in (n.lower() for n in names):
                names.append(name)
        return names


class GroupCreateForm(forms.Form):
    name = forms.CharField(label=_("群名称"), max_length=ROOM_NAME_MAX_LENGTH)
    members = forms.TypedMultipleChoiceField(
        label=_("选择联系人"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    usernames = UsernamesField(
        label=_("按用户名添加"),
        required=False,
        help_text=_("多个用户名用空格或逗号分隔"),
    )

    def __init__(self, *args, contacts=(), **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["members"]).choices = [
            (user.pk, user.name) for user in contacts
        ]


class AddMembersForm(forms.Form):
    members = forms.TypedMultipleChoiceField(
        label=_("选择联系人"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    usernames = UsernamesField(label=_("按用户名添加"), required=False)

    def __init__(self, *args, contacts=(), **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["members"]).choices = [
            (user.pk, user.name) for user in contacts
        ]


class DirectForm(forms.Form):
    username = forms.CharField(
        label=_("对方的用户名"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
    )
