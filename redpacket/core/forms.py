"""Pages show domain errors as form errors (STYLE rule 6)."""

from django import forms

from redpacket.core.errors import DomainError


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
