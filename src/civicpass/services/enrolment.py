"""Phone verification, self-enrolment and resident sign-in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from civicpass.domain import phone as phones
from civicpass.domain.errors import Conflict, Message, NotAuthenticated, NotFound, TooManyRequests
from civicpass.domain.identity import Document
from civicpass.domain.regions import check_region_code
from civicpass.domain.residents import PersonalData, Resident, ResidentKind, check_name, check_self_enrolment
from civicpass.domain.sessions import SubjectKind
from civicpass.services.auth import open_session
from civicpass.services.context import Deps
from civicpass.services.ports import UnitOfWork


@dataclass(frozen=True)
class ChallengeSent:
    challenge_id: str
    expires_at: datetime


@dataclass(frozen=True)
class Verified:
    verification_token: str
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn:
    resident: Resident
    access_token: str
    expires_at: datetime


def start_phone_verification(deps: Deps, raw_phone: str) -> ChallengeSent:
    """Send a one-time code to a phone; at most ``otp_max_per_hour`` codes per phone per hour."""
    phone = phones.normalize_phone(raw_phone)
    now = deps.clock.now()
    code = deps.random.digits(6)
    with deps.uow() as uow:
        if uow.challenges.count_since(phone, now - timedelta(hours=1)) >= deps.limits.otp_max_per_hour:
            raise TooManyRequests(
                "otp_rate_limited",
                Message(
                    "too many codes for this phone; try again later", "该号码获取验证码过于频繁，请稍后再试"
                ),
                extra={"retry_after": 3600},
            )
        challenge = phones.PhoneChallenge(
            id=deps.random.new_id(),
            phone=phone,
            code_digest=deps.digest.secret_digest(code),
            created_at=now,
            expires_at=now + timedelta(seconds=deps.limits.otp_ttl_seconds),
        )
        uow.challenges.add(challenge)
        uow.commit()
    minutes = deps.limits.otp_ttl_seconds // 60
    deps.messenger.send_text(
        phone, f"【civicpass】验证码 {code}，{minutes}分钟内有效。Your code is {code}, valid {minutes} min."
    )
    return ChallengeSent(challenge.id, challenge.expires_at)


def confirm_phone(deps: Deps, challenge_id: str, code: str) -> Verified:
    """Check the code; on success return a single-use verification token for enrolment or sign-in."""
    ticket = deps.random.token()
    with deps.uow() as uow:
        challenge = uow.challenges.get(challenge_id)
        if challenge is None:
            raise NotFound("otp_challenge_not_found", Message("no such verification", "验证请求不存在"))
        updated = phones.confirm(
            challenge,
            deps.digest.secret_digest(code.strip()),
            deps.digest.secret_digest(ticket),
            deps.clock.now(),
            max_attempts=deps.limits.otp_max_attempts,
            ticket_ttl_seconds=deps.limits.verification_ttl_seconds,
        )
        uow.challenges.update(updated)
        uow.commit()
    if updated.confirmed_at is None:
        raise phones.wrong_code(deps.limits.otp_max_attempts - updated.attempts)
    return Verified(ticket, updated.ticket_expires_at or updated.confirmed_at)


def _redeem(uow: UnitOfWork, deps: Deps, verification_token: str) -> str:
    challenge = uow.challenges.by_ticket(deps.digest.secret_digest(verification_token))
    if challenge is None:
        raise NotAuthenticated("verification_invalid", Message("verify your phone first", "请先验证手机号码"))
    uow.challenges.update(phones.redeem_ticket(challenge, deps.clock.now()))
    return challenge.phone


def enrol(
    deps: Deps,
    verification_token: str,
    name: str,
    document: Document,
    region_code: str,
    birth_date: date | None,
    address: str | None,
) -> SignedIn:
    """Enrol a resident who verified their phone; return them signed in."""
    check_self_enrolment(document)
    clean_name = check_name(name)
    check_region_code(region_code)
    with deps.uow() as uow:
        phone = _redeem(uow, deps, verification_token)
        if uow.residents.by_phone(phone) is not None:
            raise Conflict(
                "phone_already_enrolled",
                Message("this phone is already enrolled; sign in instead", "该手机号已登记，请直接登录"),
            )
        if uow.residents.by_document(document) is not None:
            raise Conflict(
                "document_already_enrolled", Message("this document is already enrolled", "该证件已登记")
            )
        resident = Resident(
            id=deps.random.new_id(),
            pseudonym=deps.random.token(),
            kind=ResidentKind.SELF,
            pii=PersonalData(clean_name, document, phone, address.strip() if address else None),
            birth_date=document.birth_date() or birth_date,
            region_code=region_code,
            active=True,
            created_at=deps.clock.now(),
        )
        uow.residents.add(resident)
        token, expires = open_session(uow, deps, SubjectKind.RESIDENT, resident.id)
        uow.commit()
    return SignedIn(resident, token, expires)


def sign_in(deps: Deps, verification_token: str) -> SignedIn:
    """Sign in an enrolled resident by a fresh phone verification."""
    with deps.uow() as uow:
        phone = _redeem(uow, deps, verification_token)
        resident = uow.residents.by_phone(phone)
        if resident is None or not resident.active:
            raise NotFound(
                "resident_not_enrolled", Message("this phone is not enrolled yet", "该手机号尚未登记")
            )
        token, expires = open_session(uow, deps, SubjectKind.RESIDENT, resident.id)
        uow.commit()
    return SignedIn(resident, token, expires)
