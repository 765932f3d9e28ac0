"""The payment PIN is stored as an HMAC under a server-side pepper (SPEC §2): bound to its
user, rotatable, and PBKDF2 hashes from before it are replaced on the next right entry."""

import re

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from wallet import errors, pin_hash, services
from wallet.models import CardBinding, PaymentPin

pytestmark = pytest.mark.django_db

PIN = "123456"  # bind_card's
KEYED = re.compile(r"hmac-sha256\$[0-9a-f]{8}\$[0-9a-f]{64}")
OLD_PEPPER = "an-old-pin-pepper-for-the-rotation-tests-0123456789"
NEW_PEPPER = "a-new-pin-pepper-for-the-rotation-tests-9876543210"


def stored_hash(user) -> str:
    return PaymentPin.objects.get(user=user).pin_hash


def test_setting_a_pin_stores_an_hmac_never_the_pin(make_user, bind_card, settings):
    user = make_user()
    bind_card(user, pin="975310")
    stored = stored_hash(user)
    assert KEYED.fullmatch(stored)
    assert stored.split("$")[1] == pin_hash.pepper_id(settings.PIN_PEPPERS[0])
    assert "975310" not in stored
    binding = CardBinding.objects.get(user=user)
    assert binding.pending_pin_hash == stored


def test_right_pin_passes_and_wrong_pin_counts(make_user, bind_card):
    user = make_user()
    bind_card(user)
    before = stored_hash(user)
    services.payment_authorize(user=user, pin=PIN)
    with pytest.raises(errors.WrongPin):
        services.payment_authorize(user=user, pin="654321")
    assert PaymentPin.objects.get(user=user).failed_attempts == 1
    assert stored_hash(user) == before  # a current hash is never written again


def test_equal_pins_of_two_users_store_different_hashes(make_user, bind_card):
    first, second = make_user(), make_user()
    bind_card(first)
    bind_card(second)
    assert stored_hash(first) != stored_hash(second)
    # Nor does one user's hash pass for the other.
    PaymentPin.objects.filter(user=second).update(pin_hash=stored_hash(first))
    with pytest.raises(errors.WrongPin):
        services.payment_authorize(user=second, pin=PIN)


@pytest.fixture
def legacy_pin(make_user, bind_card, settings):
    """A user whose PIN is still Django's PBKDF2 hash from before the pepper (few
    iterations here: the stored count is what a check uses)."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]
    user = make_user()
    bind_card(user)
    legacy = PBKDF2PasswordHasher().encode(PIN, "legacysalt0123", iterations=1_000)
    PaymentPin.objects.filter(user=user).update(pin_hash=legacy)
    return user, legacy


def test_legacy_pbkdf2_hash_is_kept_after_a_wrong_pin(legacy_pin):
    user, legacy = legacy_pin
    with pytest.raises(errors.WrongPin):
        services.payment_authorize(user=user, pin="000000")
    assert stored_hash(user) == legacy
    assert PaymentPin.objects.get(user=user).failed_attempts == 1


def test_legacy_pbkdf2_hash_is_replaced_on_the_right_pin(legacy_pin):
    user, _ = legacy_pin
    services.payment_authorize(user=user, pin=PIN)
    record = PaymentPin.objects.get(user=user)
    assert KEYED.fullmatch(record.pin_hash) and PIN not in record.pin_hash
    assert record.failed_attempts == 0
    services.payment_authorize(user=user, pin=PIN)  # and the new form checks
    with pytest.raises(errors.WrongPin):
        services.payment_authorize(user=user, pin="000000")


def test_legacy_pbkdf2_hash_still_locks_after_five_wrong(legacy_pin):
    user, legacy = legacy_pin
    for _ in range(4):
        with pytest.raises(errors.WrongPin):
            services.payment_authorize(user=user, pin="000000")
    with pytest.raises(errors.PinLocked):
        services.payment_authorize(user=user, pin="000000")
    with pytest.raises(errors.PinLocked):
        services.payment_authorize(user=user, pin=PIN)
    assert stored_hash(user) == legacy


def test_hash_under_a_retired_pepper_verifies_and_is_signed_again(make_user, bind_card, settings):
    settings.PIN_PEPPERS = [OLD_PEPPER]
    user = make_user()
    bind_card(user)
    under_old = stored_hash(user)
    assert under_old.split("$")[1] == pin_hash.pepper_id(OLD_PEPPER)

    settings.PIN_PEPPERS = [NEW_PEPPER, OLD_PEPPER]  # rotated: PIN_PEPPERS_OLD=<old>
    with pytest.raises(errors.WrongPin):
        services.payment_authorize(user=user, pin="000000")
    assert stored_hash(user) == under_old  # not on a wrong PIN
    services.payment_authorize(user=user, pin=PIN)
    under_new = stored_hash(user)
    assert KEYED.fullmatch(under_new)
    assert under_new.split("$")[1] == pin_hash.pepper_id(NEW_PEPPER)

    settings.PIN_PEPPERS = [NEW_PEPPER]  # the old pepper dropped
    services.payment_authorize(user=user, pin=PIN)
    assert PaymentPin.objects.get(user=user).failed_attempts == 0


def test_hash_under_a_missing_pepper_counts_as_wrong_and_is_logged(
    make_user, bind_card, settings, caplog
):
    user = make_user()
    bind_card(user)
    settings.PIN_PEPPERS = [NEW_PEPPER]
    with pytest.raises(errors.WrongPin):
        services.payment_authorize(user=user, pin=PIN)
    assert PaymentPin.objects.get(user=user).failed_attempts == 1
    assert "missing from PIN_PEPPER" in caplog.text


def test_pepper_id_and_hash_tell_nothing_of_pepper_or_pin():
    stored = pin_hash.keyed_pin_hash(peppers=[NEW_PEPPER], user_id=7, pin=PIN)
    _, pepper_name, digest = stored.split("$")
    assert pepper_name == pin_hash.pepper_id(NEW_PEPPER) and pepper_name not in NEW_PEPPER
    assert digest != pin_hash.keyed_pin_hash(peppers=[NEW_PEPPER], user_id=8, pin=PIN)[-64:]
    check = pin_hash.keyed_pin_check
    assert check(peppers=[NEW_PEPPER], user_id=7, pin=PIN, stored=stored) is (
        pin_hash.PinMatch.RIGHT
    )
    assert check(peppers=[NEW_PEPPER], user_id=8, pin=PIN, stored=stored) is (
        pin_hash.PinMatch.WRONG
    )
    assert check(peppers=[OLD_PEPPER, NEW_PEPPER], user_id=7, pin=PIN, stored=stored) is (
        pin_hash.PinMatch.RIGHT_STALE
    )
    with pytest.raises(pin_hash.UnknownPepper):
        check(peppers=[OLD_PEPPER], user_id=7, pin=PIN, stored=stored)
    assert not pin_hash.is_keyed("pbkdf2_sha256$1000000$salt$hash")


def test_a_malformed_pin_is_refused_without_counting_a_guess(make_user, bind_card):
    from redpacket.kernel.errors import InvalidInput

    user = make_user()
    bind_card(user)
    for malformed in ("12345", "abcdef", "１２３４５６"):
        with pytest.raises(InvalidInput) as refused:
            services.payment_authorize(user=user, pin=malformed)
        assert refused.value.code == "invalid_pin"
    assert PaymentPin.objects.get(user=user).failed_attempts == 0
    services.payment_authorize(user=user, pin=PIN)


def test_a_user_without_a_pin_pays_from_change_whatever_pin_is_sent(make_user):
    user = make_user()
    services.payment_authorize(user=user, pin=None)
    services.payment_authorize(user=user, pin="not-a-pin")
    assert not PaymentPin.objects.filter(user=user).exists()
