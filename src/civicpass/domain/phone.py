"""Phone numbers and one-time-code (OTP) phone verification.

A challenge holds only a keyed digest of its code. It expires, allows a limited number of wrong
attempts, and once confirmed yields a single-use ticket for enrolment or login.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from civicpass.domain.errors import FieldError, Gone, InvalidInput, Message, NotAuthenticated, TooManyRequests

_CN_MOBILE = re.compile(r"(?:\+?86)?(1[3-9][0-9]{9})")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def normalize_phone(raw: str) -> str:
    """E.164 form: mainland mobiles with or without +86 become +86XXXXXXXXXXX."""
    text = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", raw))
    match = _CN_MOBILE.fullmatch(text)
    if match:
        return "+86" + match.group(1)
    if _E164.fullmatch(text):
        return text
    raise InvalidInput(
        "phone_invalid",
        Message(
            "a phone number is a mainland mobile number or +country code and number", "手机号码格式不正确"
        ),
        errors=[FieldError(("phone",), "phone_invalid", "mainland mobile or E.164")],
    )


def local_part(phone: str) -> str:
    """The number without +86, as residents read it."""
    return phone[3:] if phone.startswith("+86") else phone


@dataclass(frozen=True)
class PhoneChallenge:
    id: str
    phone: str
    code_digest: str
    created_at: datetime
    expires_at: datetime
    attempts: int = 0
    confirmed_at: datetime | None = None
    ticket_digest: str | None = None
    ticket_expires_at: datetime | None = None
    consumed_at: datetime | None = None


def confirm(
    challenge: PhoneChallenge,
    code_digest: str,
    ticket_digest: str,
    now: datetime,
    *,
    max_attempts: int,
    ticket_ttl_seconds: int,
) -> PhoneChallenge:
    """Check a code against the challenge; return the confirmed challenge or the one with one more attempt.

    Raises ``Gone`` when expired or already confirmed, ``TooManyRequests`` when out of attempts. A wrong
    code returns the challenge with its attempt counted; the caller stores it and then reports the error
    (see ``wrong_code``), so the count survives the failed request.
    """
    if challenge.confirmed_at is not None:
        raise Gone("otp_already_used", Message("this code was already used", "该验证码已使用"))
    if now >= challenge.expires_at:
        raise Gone(
            "otp_expired", Message("the code has expired; ask for a new one", "验证码已过期，请重新获取")
        )
    if challenge.attempts >= max_attempts:
        raise TooManyRequests(
            "otp_attempts_exceeded",
            Message("too many wrong codes; ask for a new one", "错误次数过多，请重新获取验证码"),
        )
    if not hmac.compare_digest(challenge.code_digest, code_digest):
        return replace(challenge, attempts=challenge.attempts + 1)
    return replace(
        challenge,
        confirmed_at=now,
        ticket_digest=ticket_digest,
        ticket_expires_at=now + timedelta(seconds=ticket_ttl_seconds),
    )


def wrong_code(attempts_left: int) -> NotAuthenticated:
    return NotAuthenticated(
        "otp_wrong",
        Message(
            f"the code is wrong; {attempts_left} attempts left", f"验证码错误，还可尝试{attempts_left}次"
        ),
        extra={"attempts_left": attempts_left},
    )


def redeem_ticket(challenge: PhoneChallenge, now: datetime) -> PhoneChallenge:
    """Use a confirmed challenge's ticket once."""
    if challenge.consumed_at is not None:
        raise Gone(
            "verification_used", Message("this phone verification was already used", "该手机验证已使用")
        )
    if challenge.ticket_expires_at is None or now >= challenge.ticket_expires_at:
        raise Gone("verification_expired", Message("the phone verification has expired", "手机验证已过期"))
    return replace(challenge, consumed_at=now)
