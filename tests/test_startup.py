"""Unsafe defaults (SPEC §7, issue #16 finding 4): DEBUG is off unless asked for, and a
process outside development refuses to start with a missing or example secret, an
allocation secret equal to SECRET_KEY, a PIN pepper equal to either, or the sandbox
bank/SMS not explicitly allowed.
The refusals are checked in real `manage.py` processes with production settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from redpacket.kernel.startup import (
    DEV_ALLOCATION_SECRET,
    DEV_PIN_PEPPER,
    DEV_SECRET_KEY,
    production_problems,
)

ROOT = Path(__file__).resolve().parent.parent
GOOD_SECRET = "a-production-secret-key-of-enough-length-0123456789"
GOOD_ALLOCATION = "an-allocation-secret-of-enough-length-9876543210abc"
GOOD_PEPPER = "a-pin-pepper-of-enough-length-0123456789abcdefghij"
OLD_PEPPER = "a-retired-pin-pepper-of-enough-length-0123456789ab"
# What the environment of these processes must not inherit from the test run.
_DROPPED = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOCATION_SECRET",
    "PIN_PEPPER",
    "PIN_PEPPERS_OLD",
    "ALLOW_SANDBOX_PAYMENTS",
    "PAYMENTS_SANDBOX",
    "BANK_GATEWAY",
    "SMS_BACKEND",
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    environment.update(DJANGO_SETTINGS_MODULE="redpacket.settings", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "SECRET_KEY": GOOD_SECRET,
    "ALLOCATION_SECRET": GOOD_ALLOCATION,
    "PIN_PEPPER": GOOD_PEPPER,
    "ALLOWED_HOSTS": "pay.example.com",
}


def test_production_settings_with_real_secrets_pass_check_deploy():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", ALLOW_SANDBOX_PAYMENTS="1", **PRODUCTION
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_is_off_unless_asked_for():
    code = "from django.conf import settings; print(settings.DEBUG, settings.DEVELOPMENT)"
    result = manage("shell", "-v", "0", "-c", code, ALLOW_SANDBOX_PAYMENTS="1", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": DEV_SECRET_KEY}, "SECRET_KEY is an example value"),
        ({"ALLOCATION_SECRET": ""}, "ALLOCATION_SECRET must be set"),
        ({"ALLOCATION_SECRET": DEV_ALLOCATION_SECRET}, "ALLOCATION_SECRET is an example"),
        ({"ALLOCATION_SECRET": GOOD_SECRET}, "must differ from SECRET_KEY"),
        ({"PIN_PEPPER": ""}, "PIN_PEPPER must be set"),
        ({"PIN_PEPPER": DEV_PIN_PEPPER}, "PIN_PEPPER is an example value"),
        ({"PIN_PEPPER": "too-short-a-pepper"}, "PIN_PEPPER must be at least 32"),
        ({"PIN_PEPPER": GOOD_SECRET}, "must differ from SECRET_KEY and ALLOCATION_SECRET"),
        ({"PIN_PEPPERS_OLD": f"{OLD_PEPPER},{GOOD_ALLOCATION}"}, "must differ from SECRET_KEY"),
        ({"PIN_PEPPERS_OLD": f"{OLD_PEPPER}, change-me"}, "PIN_PEPPERS_OLD entry 2 is an example"),
        ({"ALLOW_SANDBOX_PAYMENTS": "0"}, "sandbox bank/SMS"),
        ({"ALLOW_SANDBOX_PAYMENTS": "0", "PAYMENTS_SANDBOX": "1"}, "sandbox bank/SMS"),
    ],
)
def test_outside_development_the_server_refuses_to_start(env, reason):
    settings_env = {**PRODUCTION, "ALLOW_SANDBOX_PAYMENTS": "1", **env}
    result = manage("check", **settings_env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and reason in result.stderr


def test_development_mode_starts_without_secrets_and_never_shares_the_key():
    code = (
        "from django.conf import settings; "
        "print(settings.ALLOCATION_SECRET != settings.SECRET_KEY, settings.PAYMENTS_SANDBOX, "
        f"settings.PIN_PEPPERS == [{DEV_PIN_PEPPER!r}])"
    )
    result = manage("shell", "-v", "0", "-c", code, DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True"]


def test_pin_peppers_are_the_current_one_then_the_retired_ones():
    code = "from django.conf import settings; print(*settings.PIN_PEPPERS)"
    old = f" {OLD_PEPPER} ,{GOOD_PEPPER[::-1]},"
    result = manage(
        "shell",
        "-v",
        "0",
        "-c",
        code,
        ALLOW_SANDBOX_PAYMENTS="1",
        PIN_PEPPERS_OLD=old,
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [GOOD_PEPPER, OLD_PEPPER, GOOD_PEPPER[::-1]]


def test_the_rules_list_every_problem_at_once():
    problems = production_problems(
        secret_key="short",
        allocation_secret="short",
        pin_peppers=["short"],
        payments_sandbox=True,
        bank_gateway="wallet.gateway.SandboxGateway",
        sms_backend="wallet.gateway.SandboxSms",
        sandbox_allowed=False,
    )
    # three short secrets, equal secrets, the pepper equal to them, the sandbox
    assert len(problems) == 6


@pytest.mark.django_db
def test_seed_demo_refuses_outside_development(settings):
    from django.core.management import CommandError, call_command

    from redpacket.accounts.models import User

    settings.DEVELOPMENT = False
    with pytest.raises(CommandError, match="development"):
        call_command("seed_demo")
    assert not User.objects.filter(username="admin").exists()
