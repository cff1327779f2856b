"""Phone numbers, one-time-code challenges and single-use verification tickets (domain/phone.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from civicpass.domain.errors import Gone, InvalidInput, NotAuthenticated, TooManyRequests
from civicpass.domain.phone import (
    PhoneChallenge,
    confirm,
    local_part,
    normalize_phone,
    redeem_ticket,
    wrong_code,
)

T0 = datetime(2022, 5, 3, 8, 0, tzinfo=UTC)
MAX_ATTEMPTS = 5
TICKET_TTL = 900


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "+8613800138000",
        "8613800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        " 13800138000\n",
    ],
)
def test_a_mainland_mobile_with_or_without_country_code_becomes_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+8613800138000"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+442071838750", "+442071838750"),
        ("+44 20 7183 8750", "+442071838750"),
        ("+85291234567", "+85291234567"),
    ],
)
def test_an_international_number_in_e164_form_is_kept(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not a phone",
        "12800138000",  # mainland mobiles start 13-19
        "1380013800",  # 10 digits
        "138001380001",  # 12 digits without +
        "442071838750",  # international without +
        "+0123456789",  # country codes do not start with 0
        "+123456",  # too short for E.164
        "+1234567890123456",  # 16 digits, too long for E.164
        "+1 (555) 123-4567",
    ],
)
def test_anything_else_is_refused_as_phone_invalid(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_phone(raw)
    assert caught.value.reason == "phone_invalid"
    assert caught.value.errors[0].path == ("phone",)


def test_a_mobile_number_with_full_width_digits_is_normalised_to_ascii_or_refused() -> None:
    try:
        normal = normalize_phone("13８00138000")
    except InvalidInput:
        return
    assert normal == "+8613800138000"


def test_the_local_part_drops_only_the_mainland_country_code() -> None:
    assert local_part("+8613800138000") == "13800138000"
    assert local_part("+442071838750") == "+442071838750"


def _challenge(**changes: object) -> PhoneChallenge:
    base = PhoneChallenge(
        id="c-1",
        phone="+8613800138000",
        code_digest="digest-of-right-code",
        created_at=T0,
        expires_at=T0 + timedelta(minutes=5),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _confirm(challenge: PhoneChallenge, code_digest: str, now: datetime = T0) -> PhoneChallenge:
    return confirm(
        challenge,
        code_digest,
        "digest-of-ticket",
        now,
        max_attempts=MAX_ATTEMPTS,
        ticket_ttl_seconds=TICKET_TTL,
    )


def test_the_right_code_confirms_the_challenge_and_issues_a_ticket() -> None:
    now = T0 + timedelta(minutes=1)
    confirmed = _confirm(_challenge(), "digest-of-right-code", now)
    assert confirmed.confirmed_at == now
    assert confirmed.ticket_digest == "digest-of-ticket"
    assert confirmed.ticket_expires_at == now + timedelta(seconds=TICKET_TTL)
    assert confirmed.attempts == 0
    assert confirmed.consumed_at is None


def test_a_wrong_code_counts_one_attempt_and_confirms_nothing() -> None:
    original = _challenge()
    after = _confirm(original, "digest-of-wrong-code")
    assert after.attempts == 1
    assert after.confirmed_at is None
    assert after.ticket_digest is None
    assert original.attempts == 0


def test_the_right_code_still_works_after_fewer_wrong_codes_than_the_limit() -> None:
    challenge = _challenge()
    for _ in range(MAX_ATTEMPTS - 1):
        challenge = _confirm(challenge, "wrong")
    assert challenge.attempts == MAX_ATTEMPTS - 1
    assert _confirm(challenge, "digest-of-right-code").confirmed_at == T0


def test_once_attempts_are_exhausted_even_the_right_code_is_refused_as_too_many_requests() -> None:
    challenge = _challenge()
    for _ in range(MAX_ATTEMPTS):
        challenge = _confirm(challenge, "wrong")
    with pytest.raises(TooManyRequests) as caught:
        _confirm(challenge, "digest-of-right-code")
    assert caught.value.reason == "otp_attempts_exceeded"


@pytest.mark.parametrize("late", [timedelta(0), timedelta(seconds=1), timedelta(days=1)])
def test_a_code_at_or_after_its_expiry_is_gone(late: timedelta) -> None:
    challenge = _challenge()
    with pytest.raises(Gone) as caught:
        _confirm(challenge, "digest-of-right-code", challenge.expires_at + late)
    assert caught.value.reason == "otp_expired"


def test_a_code_one_second_before_expiry_is_accepted() -> None:
    challenge = _challenge()
    now = challenge.expires_at - timedelta(seconds=1)
    assert _confirm(challenge, "digest-of-right-code", now).confirmed_at == now


def test_an_already_confirmed_challenge_is_gone_as_already_used() -> None:
    confirmed = _confirm(_challenge(), "digest-of-right-code")
    with pytest.raises(Gone) as caught:
        _confirm(confirmed, "digest-of-right-code")
    assert caught.value.reason == "otp_already_used"


def test_the_wrong_code_error_says_how_many_attempts_are_left() -> None:
    error = wrong_code(3)
    assert isinstance(error, NotAuthenticated)
    assert error.reason == "otp_wrong"
    assert error.extra == {"attempts_left": 3}
    assert "3" in error.message.en
    assert "3" in error.message.zh


def test_a_ticket_can_be_redeemed_once() -> None:
    confirmed = _confirm(_challenge(), "digest-of-right-code")
    now = T0 + timedelta(minutes=2)
    redeemed = redeem_ticket(confirmed, now)
    assert redeemed.consumed_at == now
    with pytest.raises(Gone) as caught:
        redeem_ticket(redeemed, now)
    assert caught.value.reason == "verification_used"


def test_a_ticket_at_or_after_its_expiry_is_gone() -> None:
    confirmed = _confirm(_challenge(), "digest-of-right-code")
    assert confirmed.ticket_expires_at is not None
    with pytest.raises(Gone) as caught:
        redeem_ticket(confirmed, confirmed.ticket_expires_at)
    assert caught.value.reason == "verification_expired"
    assert (
        redeem_ticket(confirmed, confirmed.ticket_expires_at - timedelta(seconds=1)).consumed_at is not None
    )


def test_an_unconfirmed_challenge_has_no_ticket_to_redeem() -> None:
    with pytest.raises(Gone) as caught:
        redeem_ticket(_challenge(), T0)
    assert caught.value.reason == "verification_expired"
