"""Staff password hashing with Argon2id (adapters/crypto/passwords.py), at tiny test costs."""

from __future__ import annotations

import pytest

from civicpass.adapters.crypto.passwords import Argon2Passwords

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def passwords() -> Argon2Passwords:
    return Argon2Passwords(time_cost=1, memory_cost=1024)


def test_a_password_hash_is_argon2id_with_the_configured_costs_and_not_the_password(
    passwords: Argon2Passwords,
) -> None:
    hashed = passwords.hash(PASSWORD)
    assert hashed.startswith("$argon2id$")
    assert "m=1024,t=1" in hashed
    assert PASSWORD not in hashed


def test_the_right_password_verifies(passwords: Argon2Passwords) -> None:
    assert passwords.verify(passwords.hash(PASSWORD), PASSWORD) is True


@pytest.mark.parametrize(
    "wrong", ["", "correct horse battery stapl", "Correct horse battery staple", PASSWORD + " "]
)
def test_a_wrong_password_does_not_verify(passwords: Argon2Passwords, wrong: str) -> None:
    assert passwords.verify(passwords.hash(PASSWORD), wrong) is False


@pytest.mark.parametrize(
    "garbage", ["", "not a hash", "sha256$abcdef", "$argon2id$v=19$m=1024,t=1,p=4$broken"]
)
def test_a_malformed_stored_hash_does_not_verify_and_does_not_raise(
    passwords: Argon2Passwords, garbage: str
) -> None:
    assert passwords.verify(garbage, PASSWORD) is False


def test_two_hashes_of_the_same_password_differ_by_their_salt(passwords: Argon2Passwords) -> None:
    first, second = passwords.hash(PASSWORD), passwords.hash(PASSWORD)
    assert first != second
    assert passwords.verify(first, PASSWORD)
    assert passwords.verify(second, PASSWORD)


def test_a_hash_made_with_other_costs_still_verifies(passwords: Argon2Passwords) -> None:
    other = Argon2Passwords(time_cost=2, memory_cost=2048)
    assert passwords.verify(other.hash(PASSWORD), PASSWORD)


def test_chinese_passwords_round_trip(passwords: Argon2Passwords) -> None:
    assert passwords.verify(passwords.hash("我的密码是十二个字符长度呀"), "我的密码是十二个字符长度呀")
