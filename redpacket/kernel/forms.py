"""Page form plumbing: domain errors as form errors (STYLE rule 6), numbers as typed."""

from typing import Any

from django import forms

from redpacket.kernel.errors import DomainError
from redpacket.kernel.numbers import parse_int


class AsciiIntegerField(forms.IntegerField):
    """A whole number typed by a person: ASCII digits only (Django's IntegerField reads
    "٣" and "１" as digits), at most `max_digits` of them; anything else is the field's
    "invalid" error."""

    def __init__(self, *, max_digits: int = 9, **kwargs: Any) -> None:
        self.max_digits = max_digits
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        number = parse_int(str(value).strip(), max_digits=self.max_digits)
        if number is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return number


def add_domain_error(
    form: forms.Form, error: DomainError, aliases: dict[str, str] | None = None
) -> None:
    """Attach a DomainError to the form: per field where it names fields (`aliases` maps an
    API field name to the form's), else as a non-field error."""
    placed = False
    for field, message in (error.fields or {}).items():
        field = (aliases or {}).get(field, field)
        if field in form.fields:
            form.add_error(field, str(message))
            placed = True
    if not placed:
        form.add_error(None, str(error.message))
