"""Settings rules computed at load: what a process outside development refuses to start
with (SPEC §7, issue #16 finding 4), and where client addresses come from.

Plain functions with no Django import: the settings module calls `production_problems`
at load, before anything is served, so every entry point (runserver, gunicorn, daphne,
Celery, manage.py) refuses alike with ImproperlyConfigured.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Development only. All are public (they are in the repository), so a process outside
# development refuses them, and every secret derived from them.
DEV_SECRET_KEY = "django-insecure-dev-only-redpacket-0f6a1c2b9e"
DEV_ALLOCATION_SECRET = "dev-only-allocation-secret-redpacket-7d41c0"
DEV_PIN_PEPPER = "dev-only-pin-pepper-redpacket-5b93e8"

# Values that have appeared in this repository, its docs or common examples.
EXAMPLE_SECRETS = frozenset(
    {
        DEV_SECRET_KEY,
        DEV_ALLOCATION_SECRET,
        DEV_PIN_PEPPER,
        "change-me",
        "changeme",
        "secret",
        "your-secret-key",
        "please-change-me",
    }
)
MIN_SECRET_LENGTH = 32

SANDBOX_BACKENDS = ("wallet.gateway.SandboxGateway", "wallet.gateway.SandboxSms")


def _secret_problem(name: str, value: str) -> str | None:
    if not value:
        return f"{name} must be set outside development (DEBUG=0)."
    if value in EXAMPLE_SECRETS or value.startswith("django-insecure"):
        return f"{name} is an example value from the repository; set a fresh random one."
    if len(value) < MIN_SECRET_LENGTH:
        return f"{name} must be at least {MIN_SECRET_LENGTH} characters."
    return None


def sandbox_in_use(*, payments_sandbox: bool, bank_gateway: str, sms_backend: str) -> bool:
    """True when the sandbox bank or SMS (free top-ups, codes in answers) would serve."""
    return payments_sandbox or bank_gateway in SANDBOX_BACKENDS or sms_backend in SANDBOX_BACKENDS


def production_problems(
    *,
    secret_key: str,
    allocation_secret: str,
    pin_peppers: Sequence[str],
    payments_sandbox: bool,
    bank_gateway: str,
    sms_backend: str,
    sandbox_allowed: bool,
) -> list[str]:
    """Every reason this configuration must not serve outside development (empty: fine).

    `pin_peppers` is settings.PIN_PEPPERS: PIN_PEPPER first, then PIN_PEPPERS_OLD."""
    current_pepper, *old_peppers = pin_peppers or [""]
    problems = [
        problem
        for problem in (
            _secret_problem("SECRET_KEY", secret_key),
            _secret_problem("ALLOCATION_SECRET", allocation_secret),
            _secret_problem("PIN_PEPPER", current_pepper),
            *(
                _secret_problem(f"PIN_PEPPERS_OLD entry {number}", pepper)
                for number, pepper in enumerate(old_peppers, start=1)
            ),
        )
        if problem
    ]
    if allocation_secret and allocation_secret == secret_key:
        problems.append(
            "ALLOCATION_SECRET must differ from SECRET_KEY (anyone holding one would "
            "predict every lucky share)."
        )
    if any(pepper and pepper in (secret_key, allocation_secret) for pepper in pin_peppers):
        problems.append(
            "PIN_PEPPER and PIN_PEPPERS_OLD must differ from SECRET_KEY and ALLOCATION_SECRET "
            "(the pepper is what keeps a copied PIN table from being searched)."
        )
    in_use = sandbox_in_use(
        payments_sandbox=payments_sandbox, bank_gateway=bank_gateway, sms_backend=sms_backend
    )
    if in_use and not sandbox_allowed:
        problems.append(
            "The sandbox bank/SMS is configured (BANK_GATEWAY, SMS_BACKEND, "
            "PAYMENTS_SANDBOX): set real backends, or ALLOW_SANDBOX_PAYMENTS=1 for a demo."
        )
    return problems


def trusted_proxy_settings(count: int) -> dict[str, Any]:
    """The one rule for a client's address, as DRF's throttles and django-axes' ipware
    each spell it: with `count` = 0 the peer (REMOTE_ADDR), whatever X-Forwarded-For
    says; with N trusted proxies the entry the outermost of them appended, N-th from the
    right. (ipware counts only the proxies listed *inside* the header: the last proxy
    appends its peer, so N proxies leave N - 1 entries after the client's.)"""
    if count < 0:
        raise ValueError("TRUSTED_PROXY_COUNT cannot be negative")
    return {
        "NUM_PROXIES": count,
        # With IPWARE_STRICT off (settings): at least this many, the rest is the client's.
        "AXES_IPWARE_PROXY_COUNT": count - 1 if count else None,
        "AXES_IPWARE_META_PRECEDENCE_ORDER": (
            ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if count else ("REMOTE_ADDR",)
        ),
    }
