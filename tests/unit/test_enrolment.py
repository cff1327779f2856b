"""Phone verification, self-enrolment and resident sign-in over fakes (services/enrolment.py)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest

from civicpass.adapters.messaging import MemoryMessenger
from civicpass.domain.errors import Conflict, Gone, InvalidInput, NotAuthenticated, NotFound, TooManyRequests
from civicpass.domain.identity import Document, DocumentType, gb11643_check_character, parse_document
from civicpass.domain.policy import ResidentActor
from civicpass.domain.residents import ResidentKind
from civicpass.domain.sessions import SubjectKind
from civicpass.services import enrolment
from civicpass.services.auth import authenticate
from civicpass.services.context import Deps
from tests.fakes import FakeClock, FakeStore, fake_deps

PHONE = "+8613800138000"


def _id_number(born: str = "19800101", serial: str = "123", district: str = "440106") -> Document:
    first17 = district + born + serial
    return parse_document("resident_id", first17 + gb11643_check_character(first17))


def _code_sent(messenger: MemoryMessenger, phone: str = PHONE) -> str:
    match = re.search(r"\b(\d{6})\b", messenger.last_to(phone))
    assert match is not None
    return match.group(1)


def _verify(deps: Deps, messenger: MemoryMessenger, raw_phone: str = "13800138000") -> str:
    sent = enrolment.start_phone_verification(deps, raw_phone)
    phone = "+86" + raw_phone[-11:]
    return enrolment.confirm_phone(deps, sent.challenge_id, _code_sent(messenger, phone)).verification_token


def _enrol(
    deps: Deps, token: str, document: Document | None = None, **overrides: object
) -> enrolment.SignedIn:
    values: dict[str, object] = {
        "name": " 张  小三 ",
        "document": document or _id_number(),
        "region_code": "440106",
        "birth_date": None,
        "address": " 广州市天河路1号 ",
    }
    values.update(overrides)
    return enrolment.enrol(deps, token, **values)  # type: ignore[arg-type]


@pytest.fixture
def world() -> tuple[Deps, FakeStore, MemoryMessenger, FakeClock]:
    return fake_deps()


# --- starting a verification ----------------------------------------------------------------------


def test_starting_a_verification_texts_a_six_digit_code_to_the_normalised_phone(
    world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock],
) -> None:
    deps, store, messenger, clock = world
    sent = enrolment.start_phone_verification(deps, "138 0013 8000")
    assert [to for to, _ in messenger.sent] == [PHONE]
    code = _code_sent(messenger)
    assert "5分钟" in messenger.last_to(PHONE)
    assert sent.expires_at == clock.now() + timedelta(seconds=300)
    stored = store.challenges[sent.challenge_id]
    assert stored.phone == PHONE
    assert stored.code_digest == deps.digest.secret_digest(code)
    assert code not in repr(stored)


def test_an_invalid_phone_gets_no_code(world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock]) -> None:
    deps, store, messenger, _ = world
    with pytest.raises(InvalidInput) as caught:
        enrolment.start_phone_verification(deps, "12345")
    assert caught.value.reason == "phone_invalid"
    assert messenger.sent == []
    assert store.challenges == {}


def test_codes_are_rate_limited_per_phone_after_otp_max_per_hour() -> None:
    deps, store, messenger, _ = fake_deps(otp_max_per_hour=3)
    for _ in range(3):
        enrolment.start_phone_verification(deps, "13800138000")
    with pytest.raises(TooManyRequests) as caught:
        enrolment.start_phone_verification(deps, "+86 138 0013 8000")
    assert caught.value.reason == "otp_rate_limited"
    assert caught.value.extra == {"retry_after": 3600}
    assert len(messenger.sent) == 3
    assert len(store.challenges) == 3


def test_the_rate_limit_of_one_phone_does_not_affect_another() -> None:
    deps, _, messenger, _ = fake_deps(otp_max_per_hour=1)
    enrolment.start_phone_verification(deps, "13800138000")
    enrolment.start_phone_verification(deps, "13900139000")
    assert [to for to, _ in messenger.sent] == [PHONE, "+8613900139000"]


def test_the_rate_limit_lifts_an_hour_after_the_codes_were_sent() -> None:
    deps, _, messenger, clock = fake_deps(otp_max_per_hour=2)
    enrolment.start_phone_verification(deps, "13800138000")
    enrolment.start_phone_verification(deps, "13800138000")
    clock.advance(hours=1)
    with pytest.raises(TooManyRequests):
        enrolment.start_phone_verification(deps, "13800138000")
    clock.advance(seconds=1)
    enrolment.start_phone_verification(deps, "13800138000")
    assert len(messenger.sent) == 3


# --- confirming the code --------------------------------------------------------------------------


def test_the_right_code_gives_a_verification_token_stored_only_as_a_digest(
    world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock],
) -> None:
    deps, store, messenger, clock = world
    sent = enrolment.start_phone_verification(deps, "13800138000")
    verified = enrolment.confirm_phone(deps, sent.challenge_id, " " + _code_sent(messenger) + " ")
    assert verified.expires_at == clock.now() + timedelta(seconds=900)
    challenge = store.challenges[sent.challenge_id]
    assert challenge.confirmed_at == clock.now()
    assert challenge.ticket_digest == deps.digest.secret_digest(verified.verification_token)


def test_a_wrong_code_is_refused_and_the_attempt_is_kept(
    world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock],
) -> None:
    deps, store, messenger, _ = world
    sent = enrolment.start_phone_verification(deps, "13800138000")
    wrong = "000000" if _code_sent(messenger) != "000000" else "111111"
    with pytest.raises(NotAuthenticated) as caught:
        enrolment.confirm_phone(deps, sent.challenge_id, wrong)
    assert caught.value.reason == "otp_wrong"
    assert caught.value.extra == {"attempts_left": 4}
    assert store.challenges[sent.challenge_id].attempts == 1
    with pytest.raises(NotAuthenticated) as again:
        enrolment.confirm_phone(deps, sent.challenge_id, wrong)
    assert again.value.extra == {"attempts_left": 3}
    assert store.challenges[sent.challenge_id].attempts == 2
    enrolment.confirm_phone(deps, sent.challenge_id, _code_sent(messenger))


def test_after_the_last_wrong_attempt_even_the_right_code_is_refused() -> None:
    deps, store, messenger, _ = fake_deps(otp_max_attempts=2)
    sent = enrolment.start_phone_verification(deps, "13800138000")
    wrong = "000000" if _code_sent(messenger) != "000000" else "111111"
    for left in (1, 0):
        with pytest.raises(NotAuthenticated) as caught:
            enrolment.confirm_phone(deps, sent.challenge_id, wrong)
        assert caught.value.extra == {"attempts_left": left}
    with pytest.raises(TooManyRequests) as caught_limit:
        enrolment.confirm_phone(deps, sent.challenge_id, _code_sent(messenger))
    assert caught_limit.value.reason == "otp_attempts_exceeded"
    assert store.challenges[sent.challenge_id].confirmed_at is None


def test_an_expired_code_is_gone(world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock]) -> None:
    deps, _, messenger, clock = world
    sent = enrolment.start_phone_verification(deps, "13800138000")
    clock.advance(seconds=300)
    with pytest.raises(Gone) as caught:
        enrolment.confirm_phone(deps, sent.challenge_id, _code_sent(messenger))
    assert caught.value.reason == "otp_expired"


def test_a_code_cannot_be_confirmed_twice(world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock]) -> None:
    deps, _, messenger, _ = world
    sent = enrolment.start_phone_verification(deps, "13800138000")
    enrolment.confirm_phone(deps, sent.challenge_id, _code_sent(messenger))
    with pytest.raises(Gone) as caught:
        enrolment.confirm_phone(deps, sent.challenge_id, _code_sent(messenger))
    assert caught.value.reason == "otp_already_used"


def test_confirming_an_unknown_challenge_is_not_found(
    world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock],
) -> None:
    deps, _, _, _ = world
    with pytest.raises(NotFound) as caught:
        enrolment.confirm_phone(deps, "no-such-challenge", "123456")
    assert caught.value.reason == "otp_challenge_not_found"


# --- enrolment --------------------------------------------------------------------------------------


def test_enrolment_creates_a_resident_and_signs_them_in(
    world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock],
) -> None:
    deps, store, messenger, clock = world
    signed_in = _enrol(deps, _verify(deps, messenger))
    resident = signed_in.resident
    assert store.residents == {resident.id: resident}
    assert resident.kind is ResidentKind.SELF
    assert resident.pii.name == "张 小三"
    assert resident.pii.phone == PHONE
    assert resident.pii.address == "广州市天河路1号"
    assert resident.pii.document == _id_number()
    assert resident.birth_date == date(1980, 1, 1)
    assert resident.region_code == "440106"
    assert resident.active
    assert resident.created_at == clock.now()
    session = store.sessions[deps.digest.secret_digest(signed_in.access_token)]
    assert (session.kind, session.subject_id) == (SubjectKind.RESIDENT, resident.id)
    assert signed_in.expires_at == session.expires_at == clock.now() + timedelta(days=30)
    assert authenticate(deps, signed_in.access_token) == ResidentActor(resident.id, frozenset())


def test_a_resident_enrolling_with_a_passport_gives_their_birth_date(
    world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock],
) -> None:
    deps, _, messenger, _ = world
    passport = parse_document("passport", "E12345678", "GBR")
    signed_in = _enrol(deps, _verify(deps, messenger), passport, birth_date=date(1990, 6, 1), address=None)
    assert signed_in.resident.birth_date == date(1990, 6, 1)
    assert signed_in.resident.pii.address is None


def test_the_birth_date_in_a_resident_id_wins_over_a_typed_one(
    world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock],
) -> None:
    deps, _, messenger, _ = world
    signed_in = _enrol(deps, _verify(deps, messenger), birth_date=date(2001, 1, 1))
    assert signed_in.resident.birth_date == date(1980, 1, 1)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"document": Document(DocumentType.NONE, None)}, "document_required"),
        ({"name": "   "}, "name_invalid"),
        ({"name": "x" * 65}, "name_invalid"),
        ({"region_code": "4401"}, "region_code_invalid"),
    ],
)
def test_invalid_enrolment_details_are_refused_without_using_up_the_verification(
    world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock], overrides: dict[str, Any], reason: str
) -> None:
    deps, store, messenger, _ = world
    token = _verify(deps, messenger)
    with pytest.raises(InvalidInput) as caught:
        _enrol(deps, token, **overrides)
    assert caught.value.reason == reason
    assert store.residents == {}
    _enrol(deps, token)


def test_an_enrolled_phone_cannot_enrol_again(
    world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock],
) -> None:
    deps, store, messenger, _ = world
    _enrol(deps, _verify(deps, messenger))
    with pytest.raises(Conflict) as caught:
        _enrol(deps, _verify(deps, messenger), _id_number(serial="456"))
    assert caught.value.reason == "phone_already_enrolled"
    assert len(store.residents) == 1


def test_an_enrolled_document_cannot_enrol_again_from_another_phone(
    world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock],
) -> None:
    deps, store, messenger, _ = world
    _enrol(deps, _verify(deps, messenger))
    with pytest.raises(Conflict) as caught:
        _enrol(deps, _verify(deps, messenger, "13900139000"), _id_number())
    assert caught.value.reason == "document_already_enrolled"
    assert len(store.residents) == 1


def test_a_conflicting_enrolment_does_not_use_up_the_verification(
    world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock],
) -> None:
    deps, store, messenger, _ = world
    _enrol(deps, _verify(deps, messenger))
    token = _verify(deps, messenger, "13900139000")
    with pytest.raises(Conflict):
        _enrol(deps, token)
    _enrol(deps, token, _id_number(serial="456"))
    assert len(store.residents) == 2


def test_a_verification_token_enrols_only_once(
    world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock],
) -> None:
    deps, store, messenger, _ = world
    token = _verify(deps, messenger)
    _enrol(deps, token)
    with pytest.raises(Gone) as caught:
        _enrol(deps, token, _id_number(serial="456"))
    assert caught.value.reason == "verification_used"
    with pytest.raises(Gone):
        enrolment.sign_in(deps, token)
    assert len(store.residents) == 1


def test_an_expired_verification_token_is_gone(
    world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock],
) -> None:
    deps, store, messenger, clock = world
    token = _verify(deps, messenger)
    clock.advance(seconds=900)
    with pytest.raises(Gone) as caught:
        _enrol(deps, token)
    assert caught.value.reason == "verification_expired"
    assert store.residents == {}


def test_an_unknown_verification_token_is_not_authenticated(
    world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock],
) -> None:
    deps, _, _, _ = world
    with pytest.raises(NotAuthenticated) as caught:
        _enrol(deps, "made-up-token")
    assert caught.value.reason == "verification_invalid"


# --- sign-in ----------------------------------------------------------------------------------------


def test_an_enrolled_resident_signs_in_with_a_fresh_verification(
    world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock],
) -> None:
    deps, store, messenger, _ = world
    enrolled = _enrol(deps, _verify(deps, messenger))
    signed_in = enrolment.sign_in(deps, _verify(deps, messenger))
    assert signed_in.resident == enrolled.resident
    assert signed_in.access_token != enrolled.access_token
    assert len(store.sessions) == 2
    assert authenticate(deps, signed_in.access_token) == ResidentActor(enrolled.resident.id, frozenset())


def test_signing_in_with_a_phone_that_is_not_enrolled_is_not_found(
    world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock],
) -> None:
    deps, store, messenger, _ = world
    with pytest.raises(NotFound) as caught:
        enrolment.sign_in(deps, _verify(deps, messenger))
    assert caught.value.reason == "resident_not_enrolled"
    assert store.sessions == {}


def test_a_sign_in_token_cannot_be_used_twice(
    world: tuple[Deps, FakeStore, MemoryMessenger, FakeClock],
) -> None:
    deps, _, messenger, _ = world
    _enrol(deps, _verify(deps, messenger))
    token = _verify(deps, messenger)
    enrolment.sign_in(deps, token)
    with pytest.raises(Gone) as caught:
        enrolment.sign_in(deps, token)
    assert caught.value.reason == "verification_used"
