"""Pages show domain errors as form errors (STYLE rule 6)."""

from django import forms

from redpacket.core.errors import DomainError


def add_domain_error(form: forms.Form, error: DomainError) -> None:
    """Attach a DomainError to the form: per field where it names fields, else non-field."""
    placed = False
    for field, message in (error.fields or {}).items():
        if field in form.fields:
            form.add_error(field, str(message))
            placed = True
    if not placed:
        form.add_error(None, str(error.message))
